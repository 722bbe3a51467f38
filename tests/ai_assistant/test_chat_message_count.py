"""A conversation's history `total` read from the trigger-maintained count
(ai_assistant.ChatMessageCount, fitness.live_counts) stays equal to its messages, however
they are written or deleted."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.services import erase_account
from ai_assistant.chat import selectors
from ai_assistant.models import AIConversation, ChatMessage, ChatMessageCount
from tests.ai_assistant.coach import add_messages, chat_url, conversation_for, history_url

pytestmark = pytest.mark.django_db


def _total(client, conversation, **params) -> int:
    response = client.get(history_url(conversation.session_id), {"page_size": 1, **params})
    assert response.status_code == 200
    return response.json()["total"]


def _stored(conversation) -> int | None:
    return (
        ChatMessageCount.objects.filter(conversation=conversation)
        .values_list("messages", flat=True)
        .first()
    )


def test_history_total_follows_creates_batches_and_deletes(auth_client, user):
    conversation, other = conversation_for(user), conversation_for(user)
    add_messages(other, ("user", "elsewhere"))
    assert _total(auth_client, conversation) == 0

    add_messages(conversation, ("user", "one"), ("assistant", "two"))
    ChatMessage.objects.bulk_create(
        ChatMessage(conversation=conversation, role="user", content=f"batch {n}") for n in range(5)
    )
    assert _total(auth_client, conversation) == 7

    ChatMessage.objects.filter(conversation=conversation, content="one").delete()
    ChatMessage.objects.filter(conversation=conversation, content__startswith="batch").update(
        content="edited"
    )
    assert _total(auth_client, conversation) == 6
    ChatMessage.objects.filter(conversation=conversation, content="edited").delete()
    assert _total(auth_client, conversation) == 1
    assert _stored(conversation) == 1
    assert _total(auth_client, other) == 1


def test_a_message_moved_to_another_conversation_is_counted_there(auth_client, user):
    first, second = conversation_for(user), conversation_for(user)
    [moved, _] = add_messages(first, ("user", "a"), ("user", "b"))

    ChatMessage.objects.filter(pk=moved.pk).update(conversation=second)

    assert (_total(auth_client, first), _total(auth_client, second)) == (1, 1)


def test_the_page_total_is_the_count_on_every_page(auth_client, user):
    conversation = conversation_for(user)
    add_messages(conversation, *[("user", f"m{n}") for n in range(5)])

    page = auth_client.get(history_url(conversation.session_id), {"page": 2, "page_size": 2})
    past = auth_client.get(history_url(conversation.session_id), {"page": 9, "page_size": 2})

    assert page.json() == {
        "items": page.json()["items"],
        "total": 5,
        "page": 2,
        "hasMore": True,
    }
    assert [item["content"] for item in page.json()["items"]] == ["m2", "m3"]
    assert (past.json()["items"], past.json()["total"], past.json()["hasMore"]) == ([], 5, False)


def test_ending_a_conversation_deletes_its_count_and_commits(auth_client, user):
    conversation, kept = conversation_for(user), conversation_for(user)
    add_messages(conversation, ("user", "bye"), ("assistant", "Take care."))
    add_messages(kept, ("user", "still here"))

    assert auth_client.delete(chat_url(conversation.session_id)).status_code == 204

    # The foreign keys are checked at commit: a counter row re-created for the deleted
    # conversation by a decrement would fail here.
    connection.check_constraints()
    assert not ChatMessageCount.objects.filter(conversation_id=conversation.pk).exists()
    assert _total(auth_client, kept) == 1


def test_erasing_a_user_leaves_no_message_count(user, other_user):
    conversation, theirs = conversation_for(user), conversation_for(other_user)
    add_messages(conversation, ("user", "mine"))
    add_messages(theirs, ("user", "theirs"))

    erase_account(user=user)

    connection.check_constraints()
    assert not AIConversation.objects.filter(owner_id=user.pk).exists()
    assert not ChatMessageCount.objects.filter(conversation_id=conversation.pk).exists()
    assert _stored(theirs) == 1


def test_the_turns_total_counts_up_to_its_message_from_the_count(user):
    conversation = conversation_for(user)
    earlier = add_messages(conversation, *[("user", f"m{n}") for n in range(4)])
    now = timezone.now()
    ChatMessage.objects.filter(pk=earlier[-1].pk).update(timestamp=now)
    # Sent by another device after this turn's message: that turn's, not this one's.
    ChatMessage.objects.create(
        conversation=conversation, role="user", content="later", timestamp=now + timedelta(1)
    )
    until = ChatMessage.objects.get(pk=earlier[-1].pk)

    history, total = selectors.recent_messages(conversation=conversation, until=until, limit=2)

    assert [message.content for message in history] == ["m2", "m3"]
    assert total == 4
    assert _stored(conversation) == 5
