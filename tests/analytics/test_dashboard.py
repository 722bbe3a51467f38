"""The staff dashboard through Django's client: access, the SVG figures, the CSV files."""

import csv
import io
import re

import pytest

from tests.analytics.seed import QUERY, seed_rollups
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/admin/dashboard/"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True))
    return client


def values(html: str, series: str) -> dict[str, str]:
    """data-label → data-value of the chart elements of one series."""
    found = re.findall(
        rf'data-series="{re.escape(series)}" data-label="([^"]*)" data-value="([^"]*)"', html
    )
    return dict(found)


def test_anonymous_and_non_staff_are_sent_to_the_admin_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    client.force_login(UserFactory())
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert client.get(f"{URL}activity.csv").status_code == 302


def test_the_admin_index_links_the_dashboard(staff_client):
    html = staff_client.get("/admin/").content.decode()
    assert f'href="{URL}"' in html


def test_dashboard_draws_the_rollups_as_svg(staff_client):
    seed_rollups()
    response = staff_client.get(URL + QUERY)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script" not in html.split('id="content-main"')[1]  # readable without JavaScript
    assert values(html, "DAU")["2026-11-20"] == "13"
    assert values(html, "WAU")["2026-11-19"] == "41"
    assert values(html, "MAU")["2026-11-18"] == "100"
    assert values(html, "new_users") == {"2026-11-18": "3", "2026-11-19": "4", "2026-11-20": "5"}
    assert values(html, "adoption_7") == {"food_logging": "0.75", "ai_chat": "0.25"}
    assert values(html, "adoption_30") == {"food_logging": "0.5"}
    assert values(html, "ai_cost") == {"2026-11-19": "0.0037", "2026-11-20": "1.55"}
    assert values(html, "recognition") == {"2026-11-20": "0.75"}
    assert values(html, "p95") == {
        "GET /api/v1/food/logs": "5",
        "POST /api/v1/ai/food/recognize": "475",
    }
    assert values(html, "error_rate")["POST /api/v1/ai/food/recognize"] == "0.5"
    assert "75.0% (9 of 12)" in html and "$1.5500" in html and "475 ms" in html


def test_retention_table_is_shaded_by_share(staff_client):
    seed_rollups()
    html = staff_client.get(URL + QUERY).content.decode()
    row = re.search(r'<tr data-cohort="2026-11-01">(.*?)</tr>', html, re.S).group(1)
    assert 'data-size="10"' in row
    d1 = re.search(
        r'data-day="1" data-retained="6" style="background: rgba\(43, 108, 176, ([\d.]+)\)', row
    )
    d7 = re.search(
        r'data-day="7" data-retained="3" style="background: rgba\(43, 108, 176, ([\d.]+)\)', row
    )
    assert float(d1.group(1)) > float(d7.group(1))  # 60% darker than 30%
    assert "60.0% (6)" in row and "30.0% (3)" in row
    assert 'data-day="30" class="pending"' in row


def test_an_empty_period_says_so(staff_client):
    html = staff_client.get(URL).content.decode()
    assert "No figures for this period yet." in html


def test_bad_period_parameters_fall_back_to_the_default(staff_client):
    assert staff_client.get(URL + "?days=-4&last=yesterday").status_code == 200


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "activity",
            [
                ["day", "dau", "wau", "mau", "new_users"],
                ["2026-11-18", "11", "40", "100", "3"],
                ["2026-11-19", "12", "41", "101", "4"],
                ["2026-11-20", "13", "42", "102", "5"],
            ],
        ),
        (
            "retention",
            [["cohort_day", "size", "d1", "d7", "d30"], ["2026-11-01", "10", "6", "3", ""]],
        ),
        (
            "routes",
            [
                ["day", "method", "route", "requests", "errors", "p95_ms"],
                ["2026-11-20", "GET", "/api/v1/food/logs", "20", "0", "5"],
                ["2026-11-20", "POST", "/api/v1/ai/food/recognize", "10", "5", "475"],
            ],
        ),
    ],
)
def test_each_rollup_downloads_as_csv(staff_client, name, expected):
    seed_rollups()
    response = staff_client.get(f"{URL}{name}.csv{QUERY}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"{name}_2026-10-22_2026-11-20.csv" in response["Content-Disposition"]
    assert list(csv.reader(io.StringIO(response.content.decode()))) == expected


def test_every_rollup_has_a_csv_and_unknown_ones_404(staff_client):
    seed_rollups()
    for name in ("activity", "retention", "adoption", "ai_usage", "recognition", "routes"):
        rows = list(
            csv.reader(io.StringIO(staff_client.get(f"{URL}{name}.csv{QUERY}").content.decode()))
        )
        assert len(rows) > 1, name
    assert staff_client.get(f"{URL}users.csv").status_code == 404


def test_rollups_and_events_are_read_only_in_the_admin(staff_client):
    from analytics.models import Event

    user = UserFactory(is_staff=True, is_superuser=True)
    staff_client.force_login(user)
    Event.objects.create(
        actor="abc", name="app_opened", origin="client", occurred_at="2026-11-20T10:00Z"
    )
    listing = staff_client.get("/admin/analytics/event/")
    assert listing.status_code == 200 and "app_opened" in listing.content.decode()
    assert staff_client.get("/admin/analytics/dailyactivity/").status_code == 200
    assert staff_client.get("/admin/analytics/event/add/").status_code == 403
