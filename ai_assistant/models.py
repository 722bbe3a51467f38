import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from fitness.models import SyncVersioned


class AIUsage(models.Model):
    """One call to an AI provider (retries included): who, what for, what it cost, how it went.

    Rows outlive their user (anonymised) so totals per model and endpoint stay right.
    """

    class Outcome(models.TextChoices):
        OK = "ok", "ok"
        INVALID_KEY = "invalid_key", "invalid key"
        API_DISABLED = "api_disabled", "API disabled"
        RATE_LIMITED = "rate_limited", "rate limited"
        NETWORK_ERROR = "network_error", "network error"
        TIMEOUT = "timeout", "timeout"
        GENERATION_ERROR = "generation_error", "generation error"
        CONTENT_BLOCKED = "content_blocked", "content blocked"
        CANCELLED = "cancelled", "cancelled"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    endpoint = models.CharField(max_length=64)
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=100)
    prompt_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    thinking_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField()
    attempts = models.PositiveSmallIntegerField(default=1)
    outcome = models.CharField(max_length=32, choices=Outcome.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "AI usage"
        verbose_name_plural = "AI usage"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="aiusage_user_created"),
            models.Index(fields=["endpoint", "created_at"], name="aiusage_endpoint_created"),
            models.Index(fields=["created_at"], name="aiusage_created"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.model} {self.outcome} ({self.total_tokens} tokens)"


class AIConversation(SyncVersioned):
    """A chat with the coach. Clients address it by `session_id`; deleting it deletes its
    messages for good (no tombstone: the user asked for the conversation to be gone)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    session_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # What the client said the chat is about when it started it (user data, bounded).
    context = models.JSONField(default=dict, blank=True)
    # Server-side facts about the chat (model and prompt version of the last reply).
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "AI conversation"
        indexes = [
            models.Index(fields=["owner", "-updated_at"], name="aiconv_owner_updated"),
            models.Index(fields=["owner", "sync_version"], name="aiconv_owner_sync"),
        ]

    def __str__(self) -> str:
        return str(self.session_id)


class ChatMessage(SyncVersioned):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(
        AIConversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField()
    timestamp = models.DateTimeField(default=timezone.now)
    # What the reply cost; null on the user's own messages.
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    # A reply that broke off (provider failure) after part of it was streamed to the user.
    interrupted = models.BooleanField(default=False)

    class Meta:
        ordering = ["timestamp", "id"]
        indexes = [
            models.Index(fields=["conversation", "timestamp"], name="chatmsg_conversation_time"),
            models.Index(fields=["sync_version"], name="chatmsg_sync"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["user", "assistant"]), name="chat_message_role_valid"
            ),
        ]

    def __str__(self) -> str:
        # Not the content: this shows up in the admin and in logs.
        return f"{self.role} message at {self.timestamp:%Y-%m-%d %H:%M}"


class ChatMessageCount(models.Model):
    """How many messages a conversation has: the `total` of its history pages (and of the
    prompt's "earlier messages"), read instead of counting them on every page.

    Kept by database triggers (fitness.live_counts, installed by this app's migration
    0006) in the writing transaction, whoever writes; no Python write path needs to know.
    No row means zero.
    """

    conversation = models.OneToOneField(
        AIConversation, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    messages = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.conversation_id}: {self.messages} messages"


class RecognitionJob(models.Model):
    """One photo recognition, run by a Celery task (`recognition.tasks.recognize_food`).

    The photo lives in storage (a StoredFile, already cleaned); the task message carries
    only the job id. `pending` → `running` → `succeeded` | `failed`; the two finished
    states are final, so a late or repeated run can never overwrite a stored outcome.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    image = models.ForeignKey(
        "storage.StoredFile",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The photo; a job whose photo is deleted before it runs fails.",
    )
    # SHA-256 of the JPEG the model is shown (also its cache key); set when the task runs.
    image_sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # AIResponse<FoodAnalysis> once succeeded; the error envelope's body once failed.
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    # Each model answer ({"key": its cache key, "analysis": FoodAnalysis}) as soon as it
    # arrives, so a run after a lost worker reuses what the lost run already paid for.
    model_answers = models.JSONField(default=list, blank=True)
    # Runs of the task: retries after transient provider errors and redeliveries after a
    # lost worker each count one.
    attempts = models.PositiveSmallIntegerField(default=0)
    # log=true: the result becomes a FoodLog with the photo attached.
    log_food = models.BooleanField(default=False)
    food_log = models.ForeignKey(
        "food.FoodLog", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="recjob_owner_created"),
            # The stuck-job sweep reads only unfinished jobs.
            models.Index(
                fields=["status", "updated_at"],
                name="recjob_unfinished",
                condition=models.Q(status__in=["pending", "running"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "running", "succeeded", "failed"]),
                name="recjob_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"recognition {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
