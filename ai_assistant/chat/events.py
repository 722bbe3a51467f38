"""Frames for every open socket of one conversation, through the channel layer (Redis when
configured), so that sockets served by other processes (a phone and a tablet) stay in step.

Each socket of a conversation joins `chat_group(session_id)`; `ai_assistant.chat.consumers`
delivers a published frame to its client, except to the socket named in `skip`.
"""

import logging
from typing import Any
from uuid import UUID

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from ai_assistant.chat.schemas import ChatMessage, ChatReplyResponse

logger = logging.getLogger(__name__)


def chat_group(session_id: UUID | str) -> str:
    return f"chat.{session_id}"


def user_message(message: ChatMessage) -> dict[str, Any]:
    return {"type": "chat.frame", "frame": {"type": "user_message", "data": _json(message)}}


def ai_response(response: ChatReplyResponse) -> dict[str, Any]:
    return {"type": "chat.frame", "frame": {"type": "ai_response", "data": _json(response)}}


def ended() -> dict[str, Any]:
    return {"type": "chat.ended"}


async def apublish(session_id: UUID | str, event: dict[str, Any], *, skip: str = "") -> None:
    """Best effort: the message and reply are already stored, so a channel-layer outage
    costs other devices a live update (they read history), never the caller's turn."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(chat_group(session_id), {**event, "skip": skip})
    except Exception:
        logger.warning("Could not publish a chat frame to other sockets", exc_info=True)


publish = async_to_sync(apublish)


def _json(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json")
