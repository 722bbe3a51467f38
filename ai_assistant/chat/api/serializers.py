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
    """What a client sends on /ws/ai/chat/{session}/: `{"type": "message", "content"}`, or
    the REST body `{"message"}` as it is (`type` optional), so one shape serves both. The
    validated data is `{"content"}` either way."""

    type = serializers.ChoiceField(choices=["message"], required=False)
    content = serializers.CharField(max_length=MAX_MESSAGE_CHARS, required=False)
    message = serializers.CharField(max_length=MAX_MESSAGE_CHARS, required=False)

    def validate(self, attrs: dict) -> dict:
        if ("content" in attrs) == ("message" in attrs):
            raise serializers.ValidationError(
                'Send the text once: {"type": "message", "content": "..."} or {"message": "..."}.'
            )
        if "content" in attrs and "type" not in attrs:
            raise serializers.ValidationError({"type": ["Required with content."]})
        return {"content": attrs.get("content", attrs.get("message"))}
