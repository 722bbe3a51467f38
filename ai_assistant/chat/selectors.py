"""Reads of conversations. Every query starts from the caller's own conversations."""

from typing import Any
from uuid import UUID

from django.db.models import Count, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from accounts.models import User
from ai_assistant.models import AIConversation, ChatMessage, ChatMessageCount
from fitness.api.errors import NotFound


def addressed_by(session: UUID) -> Q:
    """A conversation named in a URL or socket path: by its `session_id` or its `id`, which
    a client holds from the same `AIConversation` and may well send instead. Both are
    random UUIDs, and the caller's own conversations are all this is applied to."""
    return Q(session_id=session) | Q(id=session)


def get_conversation(*, user, session_id: UUID) -> AIConversation:
    """The caller's conversation (by either id); 404 for anyone else's, or one that no
    longer exists."""
    conversation = AIConversation.objects.filter(addressed_by(session_id), owner=user).first()
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


def get_conversation_for_message(*, user_id: Any, session_id: UUID) -> AIConversation | None:
    """The caller's conversation with its owner read afresh, in one query (a socket sends
    many messages, and its account or profile may change meanwhile); None when the account
    is no longer active, 404 as `get_conversation`."""
    conversation = (
        AIConversation.objects.select_related("owner")
        .filter(addressed_by(session_id), owner_id=user_id)
        .first()
    )
    if conversation is None:
        if not User.objects.filter(pk=user_id, is_active=True).exists():
            return None
        raise NotFound("No such conversation.")
    return conversation if conversation.owner.is_active else None


def list_messages(*, conversation: AIConversation) -> QuerySet[ChatMessage]:
    """Oldest first."""
    return ChatMessage.objects.filter(conversation=conversation).order_by("timestamp", "id")


def message_count(conversation: AIConversation) -> QuerySet:
    """The conversation's maintained count of messages, as a one-value query (no row:
    zero), to read on its own or inside a page's statement."""
    return ChatMessageCount.objects.filter(conversation=conversation).values_list(
        "messages", flat=True
    )


def recent_messages(
    *, conversation: AIConversation, until: ChatMessage, limit: int
) -> tuple[list[ChatMessage], int]:
    """The last `limit` messages up to `until`, oldest first, and how many there are up to
    it in all. (A message another device sent meanwhile is that turn's, not this one's.)"""
    messages = ChatMessage.objects.filter(conversation=conversation)
    later = messages.filter(timestamp__gt=until.timestamp).order_by().values("conversation")
    # In the same statement: the maintained count less the few messages sent after
    # `until`, so the history is not counted on every turn.
    upto_total = Coalesce(Subquery(message_count(conversation)), 0) - Coalesce(
        Subquery(later.annotate(n=Count("id")).values("n")), 0
    )
    newest_first = list(
        messages.filter(timestamp__lte=until.timestamp)
        .annotate(upto_total=upto_total)
        .order_by("-timestamp", "-id")[:limit]
    )
    total = newest_first[0].upto_total if newest_first else 0
    return newest_first[::-1], total
