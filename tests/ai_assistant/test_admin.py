import pytest
from django.test import Client

from ai_assistant.models import AIConversation, AIUsage, ChatMessage
from tests.ai_assistant.coach import add_messages, conversation_for
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


def test_conversation_admin_shows_shape_of_chat_not_its_content(staff_client, user):
    conversation = conversation_for(user)
    add_messages(conversation, ("user", "my private question"), ("assistant", "an answer"))

    listing = staff_client.get("/admin/ai_assistant/aiconversation/")
    detail = staff_client.get(f"/admin/ai_assistant/aiconversation/{conversation.pk}/change/")

    assert listing.status_code == 200
    assert str(conversation.session_id) in listing.content.decode()
    assert detail.status_code == 200
    assert "my private question" not in detail.content.decode()
    assert staff_client.get("/admin/ai_assistant/aiconversation/add/").status_code == 403


def test_conversation_admin_deletes_conversation_with_messages(staff_client, user):
    conversation = conversation_for(user)
    add_messages(conversation, ("user", "hi"))

    response = staff_client.post(
        f"/admin/ai_assistant/aiconversation/{conversation.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert not AIConversation.objects.exists()
    assert not ChatMessage.objects.exists()
