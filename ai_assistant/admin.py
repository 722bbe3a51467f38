from django.contrib import admin

from ai_assistant.models import AIConversation, AIUsage, ChatMessage, RecognitionJob


@admin.register(AIUsage)
class AIUsageAdmin(admin.ModelAdmin):
    """Read-only: the rows are an audit of what was spent."""

    list_display = (
        "created_at",
        "user",
        "endpoint",
        "model",
        "outcome",
        "total_tokens",
        "latency_ms",
        "attempts",
    )
    list_filter = ("outcome", "endpoint", "provider", "model", "created_at")
    search_fields = ("user__email", "endpoint", "model")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ChatMessageInline(admin.TabularInline):
    """What happened in a conversation, without what was said: staff see the shape and
    cost of a chat, not the user's health questions."""

    model = ChatMessage
    fields = ("timestamp", "role", "length", "prompt_tokens", "output_tokens", "interrupted")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    @admin.display(description="characters")
    def length(self, message: ChatMessage) -> int:
        return len(message.content)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AIConversation)
class AIConversationAdmin(admin.ModelAdmin):
    """Read-only; staff may delete a conversation (e.g. when its user asks)."""

    list_display = ("session_id", "owner", "created_at", "updated_at")
    search_fields = ("owner__email", "=session_id")
    list_select_related = ("owner",)
    date_hierarchy = "updated_at"
    fields = ("session_id", "owner", "metadata", "created_at", "updated_at")
    readonly_fields = fields
    inlines = [ChatMessageInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RecognitionJob)
class RecognitionJobAdmin(admin.ModelAdmin):
    """Read-only: jobs change only through their task, so support can look, not edit."""

    list_display = ("created_at", "owner", "status", "attempts", "log_food", "finished_at")
    list_filter = ("status", "log_food", "created_at")
    search_fields = ("id", "owner__email", "image_sha256")
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "image", "food_log")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
