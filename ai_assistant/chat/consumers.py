import asyncio
import time
import uuid
from typing import Any

from channels.db import database_sync_to_async

from ai_assistant.chat import events, selectors, services
from ai_assistant.chat.api.serializers import ChatSocketFrameSerializer
from ai_assistant.chat.schemas import ChatMessage, ChatReplyResponse
from ai_assistant.errors import AIError
from fitness.api.errors import ApiError
from fitness.authenticated_consumer import AuthenticatedJsonConsumer, CloseSocket
from fitness.error_codes import ErrorCode
from fitness.ws import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from rollout import features
from rollout.features import Feature, FeatureDisabled


class ChatConsumer(AuthenticatedJsonConsumer):
    """`/ws/ai/chat/{session}/`: the coach's replies, streamed as the model writes them.

    Client → server: `{"type": "message", "content": "..."}` or the REST body
    `{"message": "..."}` (or `{"type": "ping"}`). Every frame both ways is described in
    `clients/asyncapi.yaml`.
    Server → client: `connected`; for each message, `ai_response.delta` frames then one
    `ai_response` (the plan's AIResponse); `user_message` when another socket or the REST
    API sent a message to this conversation; `error` with the REST envelope's
    `{code, message, details}`, after which the socket stays usable.

    The final frame reaches every socket of the conversation through the channel layer,
    whichever process serves it. Messages on one socket are answered one after the other.
    """

    session_id: uuid.UUID | None = None

    async def join(self, user: Any) -> None:
        try:
            addressed = uuid.UUID(str(self.scope["url_route"]["kwargs"]["session"]))
            conversation = await database_sync_to_async(selectors.get_conversation)(
                user=user, session_id=addressed
            )
        except (ValueError, ApiError) as exc:
            raise CloseSocket(CLOSE_NOT_FOUND, "No such conversation.") from exc
        # The group is keyed on session_id, whichever id the path named.
        session_id = self.session_id = conversation.session_id
        await self.channel_layer.group_add(events.chat_group(session_id), self.channel_name)
        await self.send_json({"type": "connected", "session_id": str(session_id)})

    async def disconnect(self, code):
        if self.session_id is not None:
            await self.channel_layer.group_discard(
                events.chat_group(self.session_id), self.channel_name
            )

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_frame({"type": "pong"})
            return
        frame = ChatSocketFrameSerializer(data=content)
        if not frame.is_valid():
            invalid = ApiError(
                'Send {"type": "message", "content": "..."} or {"message": "..."}.',
                code=ErrorCode.VALIDATION_ERROR,
                details={"fields": frame.errors},
            )
            await self.send_error(invalid)
            return
        await self._answer(frame.validated_data["content"])

    async def _answer(self, content: str) -> None:
        started = time.monotonic()
        try:
            # One thread hop for everything before the ask.
            turn = await database_sync_to_async(_begin)(
                self.scope["user"].pk, self.session_id, content, started
            )
        except ApiError as exc:
            await self.send_error(exc)
            return
        if turn is None:
            await self.close_with(CLOSE_UNAUTHENTICATED, "The account is no longer active.")
            return
        try:
            await self._reply(turn)
        finally:
            await database_sync_to_async(services.after_reply)(turn)

    async def _reply(self, turn: services.Turn) -> None:
        told = None
        draft = services.ReplyDraft()
        try:
            async for delta in services.astream_reply(turn, draft):
                await self.send_frame({"type": "ai_response.delta", "delta": delta})
                if told is None:
                    # Told to the other sockets once the model has answered, while it
                    # writes on: the request to it waits for nothing.
                    told = asyncio.ensure_future(self._tell_others(turn))
        except AIError as exc:
            await self._finish(turn, draft)  # keeps the part that came before the failure
            await self.send_error(exc)
            return
        finally:
            # The message reaches the other sockets before its reply.
            await (told or self._tell_others(turn))
        response = await self._finish(turn, draft)
        if response is not None:
            # To every socket of the conversation, this one included.
            await events.apublish(self.session_id, events.ai_response(response))

    async def _tell_others(self, turn: services.Turn) -> None:
        message = events.user_message(ChatMessage.model_validate(turn.message))
        await events.apublish(self.session_id, message, skip=self.channel_name)

    async def _finish(
        self, turn: services.Turn, draft: services.ReplyDraft
    ) -> ChatReplyResponse | None:
        try:
            return await database_sync_to_async(services.finish_turn)(turn, draft)
        except ApiError as exc:  # the conversation was deleted meanwhile
            await self.send_error(exc)
            return None

    async def chat_frame(self, event: dict[str, Any]) -> None:
        if event.get("skip") != self.channel_name:
            await self.send_frame(event["frame"])

    async def chat_ended(self, event: dict[str, Any]) -> None:
        await self.close_with(CLOSE_NOT_FOUND, "The conversation was ended.")


def _begin(
    user_id: Any, session_id: uuid.UUID, content: str, started: float
) -> services.Turn | None:
    """The turn, or None when the account is no longer active. The user is read again for
    every message: the socket may outlive a profile change, or the account itself. The
    switch too, like the REST route: flipped while the socket is open, it applies to the
    next message (FeatureDisabled), and the socket stays open for when it is back on."""
    conversation = selectors.get_conversation_for_message(user_id=user_id, session_id=session_id)
    if conversation is None:
        return None
    if not features.is_enabled(Feature.AI_CHAT):
        raise FeatureDisabled(Feature.AI_CHAT)
    return services.begin_turn_in(
        conversation, user=conversation.owner, content=content, started=started
    )
