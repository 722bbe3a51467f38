"""Frames for every open socket of one conversation, through the channel layer (Redis when
configured), so that sockets served by other processes (a phone and a tablet) stay in step.

Each socket of a conversation joins `chat_group(session_id)`; `ai_assistant.consumers`
delivers a published frame to its client, except to the socket named in `skip`.
"""

from typing import Any
from uuid import UUID

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from ai_assistant.chat.schemas import ChatMessage, ChatReplyResponse


def chat_group(session_id: UUID | str) -> str:
    return f"chat.{session_id}"


def user_message(message: ChatMessage) -> dict[str, Any]:
    return {"type": "chat.frame", "frame": {"type": "user_message", "data": _json(message)}}


def ai_response(response: ChatReplyResponse) -> dict[str, Any]:
    return {"type": "chat.frame", "frame": {"type": "ai_response", "data": _json(response)}}


def ended() -> dict[str, Any]:
    return {"type": "chat.ended"}


async def apublish(session_id: UUID | str, event: dict[str, Any], *, skip: str = "") -> None:
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(chat_group(session_id), {**event, "skip": skip})


publish = async_to_sync(apublish)


def _json(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json")
