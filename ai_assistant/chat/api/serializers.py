import json

from rest_framework import serializers

from ai_assistant.chat.prompts import MAX_CONTEXT_CHARS
from ai_assistant.chat.services import MAX_MESSAGE_CHARS


class StartChatSerializer(serializers.Serializer):
    context = serializers.DictField(
        required=False,
        default=dict,
        help_text="What the chat is about, as the app sees it (e.g. the screen it was opened "
        f"from); any JSON object up to {MAX_CONTEXT_CHARS} characters. The coach reads it as "
        "information, not as instructions.",
    )

    def validate_context(self, value: dict) -> dict:
        if len(json.dumps(value, ensure_ascii=False)) > MAX_CONTEXT_CHARS:
            raise serializers.ValidationError(
                f"Keep the context under {MAX_CONTEXT_CHARS} characters of JSON."
            )
        return value


class ChatMessageInSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=MAX_MESSAGE_CHARS, help_text="The user's message.")


class ChatSocketFrameSerializer(serializers.Serializer):
    """What a client sends on /ws/ai/chat/{session}/."""

    type = serializers.ChoiceField(choices=["message"])
    content = serializers.CharField(max_length=MAX_MESSAGE_CHARS)
