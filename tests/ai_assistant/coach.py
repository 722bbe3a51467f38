"""Helpers for the coach's tests: conversations, and what the Gemini stand-in was sent."""

from typing import Any

from ai_assistant.models import AIConversation, ChatMessage
from tests.ai_assistant.gemini_standin import GeminiStandIn, RecordedRequest, Reply, usage

START = "/api/v1/ai/chat/start"


def message_url(session: Any) -> str:
    return f"/api/v1/ai/chat/{session}/msg"


def history_url(session: Any) -> str:
    return f"/api/v1/ai/chat/{session}/history"


def chat_url(session: Any) -> str:
    return f"/api/v1/ai/chat/{session}"


def conversation_for(owner, **fields: Any) -> AIConversation:
    return AIConversation.objects.create(owner=owner, **fields)


def add_messages(conversation: AIConversation, *pairs: tuple[str, str]) -> list[ChatMessage]:
    """(role, content) pairs, stored one after the other."""
    return [
        ChatMessage.objects.create(conversation=conversation, role=role, content=content)
        for role, content in pairs
    ]


def system_instruction(request: RecordedRequest) -> str:
    return "".join(part["text"] for part in request.body["systemInstruction"]["parts"])


def turns(request: RecordedRequest) -> list[tuple[str, list[str]]]:
    return [
        (content["role"], [part["text"] for part in content["parts"]])
        for content in request.body["contents"]
    ]


def stream_later(gemini: GeminiStandIn, chunks: list[str], *, delay: float) -> None:
    """Like `gemini.stream(chunks)`, but the answer starts only after `delay` seconds."""
    events = [
        {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}]}
        for text in chunks
    ]
    events[-1]["candidates"][0]["finishReason"] = "STOP"
    events[-1]["usageMetadata"] = usage()
    gemini.enqueue(Reply(events=events, delay=delay))
