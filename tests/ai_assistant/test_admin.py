import pytest
from django.test import Client

from ai_assistant.models import AIUsage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client():
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def test_usage_admin_lists_rows_read_only(staff_client, user):
    AIUsage.objects.create(
        user=user,
        endpoint="food.analyze_text",
        provider="gemini",
        model="gemini-2.5-flash",
        total_tokens=46,
        latency_ms=120,
        outcome="ok",
    )

    listing = staff_client.get("/admin/ai_assistant/aiusage/")

    assert listing.status_code == 200
    assert "food.analyze_text" in listing.content.decode()
    assert staff_client.get("/admin/ai_assistant/aiusage/add/").status_code == 403
