"""Writes of the chat, and one turn of it (user message → streamed reply), shared by the REST
view and the WebSocket consumer:

    turn = begin_turn(user=..., session_id=..., content=...)   # sync: checks, stores, builds
    draft = ReplyDraft()
    async for delta in astream_reply(turn, draft): ...          # the model's text, as it comes
    response = finish_turn(turn, draft)                         # sync: stores the reply
    after_reply(turn)                                           # sync: what the ask put off

The sync steps touch the database and the async one only the model, so each caller runs
them its own way (a view directly, a consumer through `database_sync_to_async`), and no
model call ever happens inside a transaction. The user's message is stored before the model
is asked, and the reply before anyone is told about it.

`begin_turn` does only what the request to the model needs, so that the user waits for
nothing else: the message's analytics event and the other devices' `sync.changed` for it
wait for `after_reply`, which every caller runs once the turn is over, however it ended.
"""

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from asgiref.sync import async_to_sync
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ai_assistant.chat import events, prompts, selectors
from ai_assistant.chat.schemas import ChatMessage as ChatMessageData
from ai_assistant.chat.schemas import ChatReply, ChatReplyResponse
from ai_assistant.client import AIClient, StreamEnd, TextDelta, get_ai_client
from ai_assistant.errors import AIError
from ai_assistant.limits import enforce_rate_limit
from ai_assistant.models import AIConversation, ChatMessage
from ai_assistant.personal_context import current_facts, render_facts
from ai_assistant.responses import AIResultSource
from analytics.events import ServerEvent
from analytics.services import track
from fitness.api.errors import NotFound
from fitness.offline import held_change_events

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000
ENDPOINT = "chat.message"
# A reply the model finished on its own is as good as this coach gets; one cut off at the
# output limit is visibly incomplete.
_COMPLETE_FINISH_REASONS = {None, "STOP"}
_INCOMPLETE_CONFIDENCE = 0.5


@transaction.atomic
def start_conversation(*, owner: AbstractBaseUser, context: dict[str, Any]) -> AIConversation:
    return AIConversation.objects.create(owner=owner, context=context)


@transaction.atomic
def end_conversation(*, owner: AbstractBaseUser, session_id: UUID) -> None:
    """Deletes the conversation with its messages; its open sockets are closed."""
    # Locked first, so that a message being stored right now is finished (and then deleted
    # with the rest) rather than left pointing at a conversation that is gone.
    conversation = (
        AIConversation.objects.select_for_update()
        .filter(selectors.addressed_by(session_id), owner=owner)
        .first()
    )
    if conversation is None:
        raise NotFound("No such conversation.")
    session_id = conversation.session_id
    conversation.delete()
    transaction.on_commit(lambda: events.publish(session_id, events.ended()))


@dataclass(frozen=True)
class Turn:
    user: AbstractBaseUser
    conversation_id: UUID
    session_id: UUID
    message: ChatMessage
    prompt: prompts.Prompt
    client: AIClient
    started: float
    # Work the request to the model does not wait for, run by after_reply.
    later: tuple[Callable[[], None], ...] = ()


@dataclass
class ReplyDraft:
    parts: list[str] = field(default_factory=list)
    end: StreamEnd | None = None  # set once the model finished

    @property
    def text(self) -> str:
        return "".join(self.parts)


def begin_turn(
    *, user: AbstractBaseUser, session_id: UUID, content: str, started: float | None = None
) -> Turn:
    """Everything before the model is asked: 404 for a conversation that is not the
    caller's, 503 without a model, 429 over the chat allowance (nothing stored in those
    cases); then the message is stored and the prompt built from the caller's own data."""
    conversation = selectors.get_conversation(user=user, session_id=session_id)
    return begin_turn_in(conversation, user=user, content=content, started=started)


def begin_turn_in(
    conversation: AIConversation,
    *,
    user: AbstractBaseUser,
    content: str,
    started: float | None = None,
) -> Turn:
    """`begin_turn` for a conversation the caller has already read as the user's own."""
    client = get_ai_client()
    enforce_rate_limit(user=user, scope="chat", config=client.config)
    with held_change_events() as changes:
        message = _store_message(conversation, role=ChatMessage.Role.USER, content=content)
    budget = prompts.Budget.from_settings()
    # A few more than the budget allows, so that dropped questions can still be summarised.
    history, total = selectors.recent_messages(
        conversation=conversation,
        until=message,
        limit=budget.messages + prompts.EARLIER_QUESTIONS,
    )
    prompt = prompts.build_prompt(
        facts=render_facts(current_facts(user)),
        context=conversation.context,
        history=history,
        total=total,
        budget=budget,
    )
    return Turn(
        user=user,
        conversation_id=conversation.pk,
        session_id=conversation.session_id,
        message=message,
        prompt=prompt,
        client=client,
        started=time.monotonic() if started is None else started,
        later=(changes.send, lambda: track(user, ServerEvent.CHAT_MESSAGE_SENT)),
    )


def after_reply(turn: Turn) -> None:
    """What `begin_turn` put off, once the reply is over (stored, failed or cut off). Each
    step is best effort, as it would have been at commit: the message is stored already."""
    for step in turn.later:
        try:
            step()
        except Exception:
            logger.warning("Deferred work of a chat turn failed", exc_info=True)


async def astream_reply(turn: Turn, draft: ReplyDraft) -> AsyncIterator[str]:
    """The reply's text as the model produces it, collected into `draft`; AIError on
    failure (what came before it stays in `draft`)."""
    async for event in turn.client.astream_text(
        turn.prompt.messages,
        user=turn.user,
        endpoint=ENDPOINT,
        model_kind="text",
        system_instruction=turn.prompt.system_instruction,
    ):
        if isinstance(event, TextDelta):
            draft.parts.append(event.text)
            yield event.text
        else:
            draft.end = event


def finish_turn(turn: Turn, draft: ReplyDraft) -> ChatReplyResponse | None:
    """Stores the reply: the whole of it, or the part streamed before a failure (marked
    interrupted; None when nothing came). 404 if the conversation was deleted meanwhile."""
    if draft.end is None and not draft.parts:
        return None
    end = draft.end
    reply = _store_message(
        turn.conversation_id,
        role=ChatMessage.Role.ASSISTANT,
        content=draft.text,
        prompt_tokens=end.usage.prompt_tokens if end else None,
        output_tokens=end.usage.output_tokens if end else None,
        interrupted=end is None,
        metadata={
            "model": end.model if end else turn.client.config.model_for("text"),
            "prompt_version": prompts.PROMPT_VERSION,
        },
    )
    if end is None:
        return None
    complete = end.finish_reason in _COMPLETE_FINISH_REASONS
    return ChatReplyResponse(
        data=ChatReply(
            session_id=turn.session_id,
            message=ChatMessageData.model_validate(turn.message),
            reply=ChatMessageData.model_validate(reply),
        ),
        confidence=1.0 if complete else _INCOMPLETE_CONFIDENCE,
        processing_time=round(time.monotonic() - turn.started, 3),
        source=AIResultSource.GEMINI,
    )


@transaction.atomic
def _store_message(
    conversation: UUID | AIConversation,
    *,
    role: str,
    content: str,
    metadata: dict[str, Any] | None = None,
    **fields: Any,
) -> ChatMessage:
    changes: dict[str, Any] = {"updated_at": timezone.now()}
    if metadata is not None:
        changes["metadata"] = metadata
    # The update locks the conversation row (see end_conversation); no row means it was
    # deleted while the reply was being written.
    if not AIConversation.objects.filter(pk=getattr(conversation, "pk", conversation)).update(
        **changes
    ):
        raise NotFound("No such conversation.")
    # Given the row, the message carries it: sync's receiver needs no query for the owner.
    linked = (
        {"conversation": conversation}
        if isinstance(conversation, AIConversation)
        else {"conversation_id": conversation}
    )
    return ChatMessage.objects.create(role=role, content=content, **linked, **fields)


def send_message(*, user: AbstractBaseUser, session_id: UUID, content: str) -> ChatReplyResponse:
    """One turn for a caller that waits for the whole reply (REST). Sockets open on the
    conversation see the message and the reply too."""
    turn = begin_turn(user=user, session_id=session_id, content=content)
    events.publish(
        turn.session_id, events.user_message(ChatMessageData.model_validate(turn.message))
    )
    draft = ReplyDraft()
    try:
        try:
            async_to_sync(_drain)(turn, draft)
        except AIError:
            finish_turn(turn, draft)  # keeps the part that came before the failure
            raise
        response = finish_turn(turn, draft)
        events.publish(turn.session_id, events.ai_response(response))
    finally:
        after_reply(turn)
    return response


async def _drain(turn: Turn, draft: ReplyDraft) -> None:
    async for _ in astream_reply(turn, draft):
        pass
