"""GET /api/v1/config: flags for the caller, values, minimum versions, ETag and 304."""

from decimal import Decimal

import pytest
from waffle.models import Switch

from rollout.models import ConfigValue, Flag, MinAppVersion
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.rollout.switches import set_switch

pytestmark = pytest.mark.django_db
URL = "/api/v1/config"
SWITCHES = {"ai_chat", "ai_recognition", "ai_recommendations", "form_check", "uploads"}


def test_config_signed_out_answers_flags_switches_values_and_minimums(api_client, settings):
    settings.MIN_APP_VERSION = {"ios": "2.0.0", "android": ""}
    Flag.objects.create(name="everyone_flag", everyone=True)
    Flag.objects.create(name="staff_flag", staff=True)
    ConfigValue.objects.create(name="daily-tip", value={"text": "Drink water", "n": 3})

    response = api_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"flags", "values", "min_app_version", "etag"}
    assert body["flags"] == {"everyone_flag": True, "staff_flag": False} | dict.fromkeys(
        SWITCHES, True
    )
    assert body["values"] == {"daily-tip": {"text": "Drink water", "n": 3}}
    assert body["min_app_version"] == {"ios": "2.0.0", "android": None}
    assert response["ETag"] == f'"{body["etag"]}"'
    assert "no-cache" in response["Cache-Control"]


def test_config_evaluates_flags_for_the_signed_in_user(user):
    rule = Flag.objects.create(name="beta", superusers=False)
    rule.users.add(user)

    mine = client_for(user).get(URL).json()
    theirs = client_for(UserFactory()).get(URL).json()

    assert mine["flags"]["beta"] is True
    assert theirs["flags"]["beta"] is False
    assert mine["etag"] != theirs["etag"]


def test_config_switch_off_shows_in_flags(api_client):
    set_switch("ai_chat", active=False)
    assert api_client.get(URL).json()["flags"]["ai_chat"] is False


def test_config_if_none_match_answers_304_without_body_until_something_changes(api_client):
    first = api_client.get(URL)
    etag = first["ETag"]

    unchanged = api_client.get(URL, headers={"If-None-Match": etag})
    weak = api_client.get(URL, headers={"If-None-Match": f"W/{etag}"})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged["ETag"] == etag
    assert weak.status_code == 304

    set_switch("uploads", active=False)
    changed = api_client.get(URL, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["flags"]["uploads"] is False
    assert changed["ETag"] != etag


def test_config_value_change_reaches_the_next_request(
    api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        value = ConfigValue.objects.create(name="banner", value="hello")
    assert api_client.get(URL).json()["values"] == {"banner": "hello"}

    with django_capture_on_commit_callbacks(execute=True):
        value.value = "bye"
        value.save()
    assert api_client.get(URL).json()["values"] == {"banner": "bye"}


def test_config_percentage_flag_is_stable_per_install_id(api_client):
    Flag.objects.create(name="half", percent=Decimal("50.0"))
    installs = [f"install-{n:04d}" for n in range(30)]

    def answers():
        return [
            api_client.get(URL, headers={"X-Install-Id": i}).json()["flags"]["half"]
            for i in installs
        ]

    first = answers()
    assert first == answers()
    assert set(first) == {True, False}


def test_config_version_range_flag_reads_the_app_headers(api_client):
    Flag.objects.create(
        name="new_camera", everyone=True, platforms="android", min_app_version="3.1"
    )

    def on(**headers) -> bool:
        return api_client.get(URL, headers=headers).json()["flags"]["new_camera"]

    assert on(**{"X-Platform": "android", "X-App-Version": "3.1.0"}) is True
    assert on(**{"X-Platform": "Android", "X-App-Version": "3.0.9"}) is False
    assert on(**{"X-Platform": "ios", "X-App-Version": "4.0"}) is False
    assert on() is False


def test_config_minimum_is_the_higher_of_environment_and_admin(api_client, settings):
    settings.MIN_APP_VERSION = {"ios": "2.0.0", "android": "1.5.0"}
    MinAppVersion.objects.create(platform="ios", version="2.3.0")
    MinAppVersion.objects.create(platform="android", version="1.2.0")

    assert api_client.get(URL).json()["min_app_version"] == {"ios": "2.3.0", "android": "1.5.0"}


def test_config_queries_are_bounded(api_client, django_assert_max_num_queries):
    for n in range(5):
        Flag.objects.create(name=f"flag_{n}", percent=Decimal("30.0"))
    Switch.objects.create(name="extra", active=True)
    api_client.get(URL)  # fills the cache

    with django_assert_max_num_queries(0):
        response = api_client.get(URL, headers={"X-Install-Id": "install-0001"})
    assert len(response.json()["flags"]) == 5 + len(SWITCHES) + 1
