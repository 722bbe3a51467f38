"""What the chat API and its WebSocket send: the plan's `ChatMessage`, `AIConversation` and an
`AIResponse` holding a reply. One definition serves REST, the WebSocket frames and OpenAPI."""

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ai_assistant import models
from ai_assistant.responses import AIResponse


class ChatRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class ChatMessage(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    role: ChatRole
    content: str
    timestamp: datetime
    prompt_tokens: int | None = Field(description="Tokens the reply's request used; null for user.")
    output_tokens: int | None = Field(description="Tokens of the reply; null for user messages.")
    interrupted: bool = Field(
        description="The reply broke off (a provider failure) after this part was streamed."
    )


class AIConversation(BaseModel):
    id: UUID
    user_id: UUID
    session_id: UUID = Field(description="Addresses the conversation in /chat/{session}/...")
    context: dict[str, Any]
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: models.AIConversation) -> "AIConversation":
        return cls(
            id=row.id,
            user_id=row.owner_id,
            session_id=row.session_id,
            context=row.context,
            metadata=row.metadata,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ChatReply(BaseModel):
    session_id: UUID
    message: ChatMessage = Field(description="The user's message, as stored.")
    reply: ChatMessage = Field(description="The coach's answer, as stored.")


class ChatReplyResponse(AIResponse[ChatReply]):
    pass


class ChatHistoryPage(BaseModel):
    """The list envelope, oldest message first."""

    items: list[ChatMessage]
    total: int
    page: int
    hasMore: bool
