"""The dashboard in a real browser: Debian's Chromium, headless and with JavaScript off,
against a uvicorn process serving the test database as `make run` does, signed in as
staff through the admin's login form. A screenshot is kept under the artifacts folder."""

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.analytics.seed import QUERY, seed_rollups
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.servers import start_servers, stop_servers

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR") or Path(__file__).parents[2] / "artifacts")
STARTUP_TIMEOUT = 90
TIMEOUT_MS = 30_000


@pytest.fixture
def server():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    processes, addresses = start_servers(1)
    try:
        # Starting Django takes seconds on a busy machine; the backlog holds this meanwhile.
        assert httpx.get(f"http://{addresses[0]}/healthz", timeout=STARTUP_TIMEOUT).is_success
        yield f"http://{addresses[0]}"
    finally:
        stop_servers(processes)


@pytest.fixture
def staff(db):
    """Seeded before the browser starts: Playwright's sync API runs an event loop in this
    thread, and Django then refuses database calls from it."""
    seed_rollups()
    return UserFactory(email="staff@example.com", is_staff=True)


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(
                java_script_enabled=False, viewport={"width": 1280, "height": 900}
            )
            context.set_default_timeout(TIMEOUT_MS)
            yield context.new_page()
        finally:
            browser.close()


def value(page, selector: str) -> str | None:
    return page.locator(selector).get_attribute("data-value")


def test_staff_see_the_rollups_drawn_in_chromium(staff, server, page):
    page.goto(f"{server}/admin/login/?next=/admin/dashboard/{QUERY}")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/dashboard/**")

    assert page.title().startswith("Product dashboard")
    active = page.locator('svg[data-chart="active"]')
    box = active.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100  # laid out, visible
    assert (
        value(page, 'svg[data-chart="active"] circle[data-series="DAU"][data-label="2026-11-20"]')
        == "13"
    )
    assert (
        value(page, 'svg[data-chart="active"] circle[data-series="MAU"][data-label="2026-11-18"]')
        == "100"
    )
    assert value(page, 'svg[data-chart="new-users"] g[data-label="2026-11-19"]') == "4"
    assert value(page, 'svg[data-chart="adoption_7"] g[data-label="food_logging"]') == "0.75"
    assert value(page, 'svg[data-chart="ai-cost"] g[data-label="2026-11-20"]') == "1.55"
    assert value(page, 'svg[data-chart="recognition"] g[data-label="2026-11-20"]') == "0.75"
    assert (
        value(page, 'svg[data-chart="p95"] g[data-label="POST /api/v1/ai/food/recognize"]') == "475"
    )
    labels = page.locator('svg[data-chart="p95"] text.value').all_text_contents()
    assert labels == ["5 ms", "475 ms"]
    cell = page.locator('#retention tr[data-cohort="2026-11-01"] td[data-day="1"]')
    assert cell.inner_text() == "60.0% (6)"
    assert "rgba(43, 108, 176" in cell.evaluate("td => getComputedStyle(td).backgroundColor")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_a_signed_out_browser_meets_the_login(server, page):
    page.goto(f"{server}/admin/dashboard/")
    assert "/admin/login/" in page.url
    assert page.locator("svg[data-chart]").count() == 0
