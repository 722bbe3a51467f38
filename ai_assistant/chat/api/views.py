"""The coach's chat over REST (the WebSocket is `ai_assistant.chat.consumers`)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ai_assistant.chat import selectors, services
from ai_assistant.chat.api import serializers as s
from ai_assistant.chat.schemas import (
    AIConversation,
    ChatHistoryPage,
    ChatMessage,
    ChatReplyResponse,
)
from ai_assistant.openapi import AI_ERROR_CODES
from fitness.api import responses
from fitness.api.pagination import PagePagination, page_params, page_response
from fitness.api.schema import error_responses
from fitness.rows import counted_page
from rollout.api.permissions import feature_enabled
from rollout.features import Feature

_PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="Items per page (at most 100)."),
]


class StartChatView(APIView):
    @extend_schema(
        tags=["ai"],
        summary="Start a conversation with the coach",
        request=s.StartChatSerializer,
        responses={201: AIConversation},
        description="Its `session_id` addresses it in `/ai/chat/{session}/...` and on the "
        "WebSocket `/ws/ai/chat/{session}/`. Needs no AI: only sending a message does.",
    )
    def post(self, request):
        data = s.StartChatSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.start_conversation(
            owner=request.user, context=data.validated_data["context"]
        )
        body = AIConversation.from_row(conversation).model_dump(mode="json")
        return responses.created(request, body, "ai-chat-history", conversation.session_id)


class ChatMessageView(APIView):
    permission_classes = [IsAuthenticated, feature_enabled(Feature.AI_CHAT)]

    @extend_schema(
        tags=["ai"],
        summary="Send a message to the coach and wait for the whole reply",
        request=s.ChatMessageInSerializer,
        responses={200: ChatReplyResponse, **error_responses(*AI_ERROR_CODES)},
        description="The message is stored before the model is asked, so it stays in the "
        "history even when the model fails; a reply that breaks off after it began is "
        "stored with `interrupted: true`. The coach knows the caller's profile, goals, "
        "today's food and the last 7 days of food and workouts. `confidence` is 1 for a "
        "reply the model finished, 0.5 for one cut off at the output limit. Open sockets on "
        "the conversation receive the message and the reply too. The WebSocket streams the "
        "reply as it is written.",
    )
    def post(self, request, session):
        data = s.ChatMessageInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        response = services.send_message(
            user=request.user, session_id=session, content=data.validated_data["message"]
        )
        return Response(response.model_dump(mode="json"))


class ChatHistoryView(APIView):
    pagination_class = PagePagination

    @extend_schema(
        tags=["ai"],
        summary="A conversation's messages, oldest first",
        parameters=_PAGE_PARAMETERS,
        responses={200: ChatHistoryPage},
    )
    def get(self, request, session):
        conversation = selectors.get_conversation(user=request.user, session_id=session)
        number, size = page_params(request)
        page = counted_page(
            selectors.list_messages(conversation=conversation),
            offset=(number - 1) * size,
            size=size,
            total=selectors.message_count(conversation),
        )
        items = [ChatMessage.model_validate(row).model_dump(mode="json") for row in page.rows]
        return page_response(items, page, number)


class ChatView(APIView):
    @extend_schema(
        tags=["ai"],
        summary="End a conversation: it and its messages are deleted",
        responses={204: None},
        description="Open sockets on the conversation are closed with code 4404.",
    )
    def delete(self, request, session):
        services.end_conversation(owner=request.user, session_id=session)
        return Response(status=status.HTTP_204_NO_CONTENT)
