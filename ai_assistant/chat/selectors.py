"""Reads of conversations. Every query starts from the caller's own conversations."""

from uuid import UUID

from django.db.models import QuerySet

from ai_assistant.models import AIConversation, ChatMessage
from fitness.api.errors import NotFound


def get_conversation(*, user, session_id: UUID) -> AIConversation:
    """The caller's conversation; 404 for anyone else's, or one that no longer exists."""
    conversation = AIConversation.objects.filter(owner=user, session_id=session_id).first()
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


def list_messages(*, conversation: AIConversation) -> QuerySet[ChatMessage]:
    """Oldest first."""
    return ChatMessage.objects.filter(conversation=conversation).order_by("timestamp", "id")


def recent_messages(*, conversation: AIConversation, limit: int) -> tuple[list[ChatMessage], int]:
    """The last `limit` messages, oldest first, and how many the conversation has in all."""
    newest_first = list(
        ChatMessage.objects.filter(conversation=conversation).order_by("-timestamp", "-id")[:limit]
    )
    total = len(newest_first)
    if total == limit:
        total = ChatMessage.objects.filter(conversation=conversation).count()
    return newest_first[::-1], total
