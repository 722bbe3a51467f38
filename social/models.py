"""Connections between users, groups with their memberships, challenges and their boards.

The plan's JSON arrays (`social_connections`, `members`, `challenges`) are tables here, so
that they can be constrained (one owner per group, one connection per pair) and indexed.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Greatest, Least

from fitness.models import SyncVersioned

MAX_GROUP_MEMBERS = 1000
DEFAULT_GROUP_MEMBERS = 100
MAX_CHALLENGE_DAYS = 366
# Late edits inside this window after `end_date` still move the final board.
CHALLENGE_GRACE = timedelta(hours=24)


class ConnectionStatus(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"


class Connection(SyncVersioned):
    """A mutual connection: `requester` asked, `addressee` has to accept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    addressee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=10, choices=ConnectionStatus.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One row per pair whichever side asked: A→B and B→A are the same connection.
            models.UniqueConstraint(
                Least("requester", "addressee"),
                Greatest("requester", "addressee"),
                name="connection_pair_unique",
            ),
            models.CheckConstraint(
                condition=~models.Q(requester=models.F("addressee")),
                name="connection_not_self",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ConnectionStatus.values),
                name="connection_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["addressee", "status"], name="connection_addressee")]

    def __str__(self) -> str:
        return f"{self.requester_id} → {self.addressee_id} ({self.status})"

    def other(self, user_id) -> uuid.UUID:
        return self.addressee_id if self.requester_id == user_id else self.requester_id


class Block(models.Model):
    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_unique"),
            models.CheckConstraint(
                condition=~models.Q(blocker=models.F("blocked")), name="block_not_self"
            ),
        ]
        indexes = [models.Index(fields=["blocked"], name="block_blocked")]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"


class Visibility(models.TextChoices):
    PUBLIC = "public"
    PRIVATE = "private"


class JoinPolicy(models.TextChoices):
    OPEN = "open"
    APPROVAL = "approval"
    INVITE_ONLY = "invite_only"


def default_group_settings() -> dict:
    return {
        "visibility": Visibility.PRIVATE,
        "join_policy": JoinPolicy.INVITE_ONLY,
        "max_members": DEFAULT_GROUP_MEMBERS,
        "members_can_invite": False,
    }


class Group(SyncVersioned):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    # Who made the group; ownership itself is the membership with role owner (it can move).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Validated by the API (social.api.serializers.GroupSettingsSerializer): visibility,
    # join_policy, max_members, members_can_invite.
    settings = models.JSONField(default=default_group_settings)
    # Set by staff: the group then answers 404 to everyone else.
    hidden = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["name"], name="group_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def visibility(self) -> str:
        return self.settings.get("visibility", Visibility.PRIVATE)

    @property
    def join_policy(self) -> str:
        return self.settings.get("join_policy", JoinPolicy.INVITE_ONLY)

    @property
    def max_members(self) -> int:
        return min(int(self.settings.get("max_members", DEFAULT_GROUP_MEMBERS)), MAX_GROUP_MEMBERS)

    @property
    def members_can_invite(self) -> bool:
        return bool(self.settings.get("members_can_invite", False))


class Role(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class MemberStatus(models.TextChoices):
    ACTIVE = "active"
    INVITED = "invited"
    REQUESTED = "requested"


class GroupMembership(SyncVersioned):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=10, choices=MemberStatus.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    joined_at = models.DateTimeField(null=True, blank=True, help_text="When it became active.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="membership_unique"),
            # At most one owner; the services make sure there is always exactly one.
            models.UniqueConstraint(
                fields=["group"],
                condition=models.Q(role="owner"),
                name="membership_one_owner",
            ),
            models.CheckConstraint(
                condition=~models.Q(role="owner") | models.Q(status="active"),
                name="membership_owner_active",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=MemberStatus.values),
                name="membership_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="membership_user_status"),
            models.Index(fields=["group", "status"], name="membership_group_status"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id} ({self.role}, {self.status})"

    @property
    def is_admin(self) -> bool:
        return self.status == MemberStatus.ACTIVE and self.role in (Role.OWNER, Role.ADMIN)


class ChallengeType(models.TextChoices):
    WORKOUT_COUNT = "workout_count"
    WORKOUT_MINUTES = "workout_minutes"
    CALORIES_BURNED = "calories_burned"
    TRAINING_VOLUME = "training_volume"
    ACTIVE_DAYS = "active_days"
    FOOD_LOGGING_DAYS = "food_logging_days"
    PROTEIN_GOAL_DAYS = "protein_goal_days"


# The unit each type is scored in; `goals.unit` must be this one.
CHALLENGE_UNITS = {
    ChallengeType.WORKOUT_COUNT: "workouts",
    ChallengeType.WORKOUT_MINUTES: "minutes",
    ChallengeType.CALORIES_BURNED: "kcal",
    ChallengeType.TRAINING_VOLUME: "kg",
    ChallengeType.ACTIVE_DAYS: "days",
    ChallengeType.FOOD_LOGGING_DAYS: "days",
    ChallengeType.PROTEIN_GOAL_DAYS: "days",
}


class Challenge(SyncVersioned):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="challenges")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    type = models.CharField(max_length=20, choices=ChallengeType.choices)
    # {"target": number, "unit": CHALLENGE_UNITS[type]}
    goals = models.JSONField(default=dict)
    timezone = models.CharField(max_length=64, default="UTC")
    start_date = models.DateTimeField()
    end_date = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the board was frozen (end_date + grace passed) and achievements were recorded.
    finalized_at = models.DateTimeField(null=True, blank=True)
    board_refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gt=models.F("start_date")),
                name="challenge_end_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=ChallengeType.values), name="challenge_type_valid"
            ),
        ]
        indexes = [models.Index(fields=["group", "start_date"], name="challenge_group_start")]

    def __str__(self) -> str:
        return self.name

    @property
    def target(self) -> float:
        return float(self.goals.get("target", 0))

    @property
    def scoring_closes_at(self):
        return self.end_date + CHALLENGE_GRACE


class ChallengeParticipant(models.Model):
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField(auto_now_add=True)
    # The user's daily protein goal as of the last refresh (protein_goal_days only), so
    # the database can compare each day's total with it.
    protein_goal_g = models.DecimalField(max_digits=7, decimal_places=1, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["challenge", "user"], name="participant_unique"),
        ]
        indexes = [models.Index(fields=["user"], name="participant_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.challenge_id}"


class LeaderboardEntry(models.Model):
    """A participant's score, kept by `social.tasks.refresh_leaderboard` so reads are one
    query. `rank` is the position: score descending, then who reached it first."""

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="entries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()
    score = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    # When the data that makes up the current score was last added to (ties go to the earlier).
    reached_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["challenge", "user"], name="leaderboard_entry_unique"),
        ]
        indexes = [models.Index(fields=["challenge", "rank"], name="leaderboard_rank")]

    def __str__(self) -> str:
        return f"#{self.rank} {self.user_id}: {self.score}"


class Achievement(models.Model):
    """An achievement that outlives what earned it (a challenge may be deleted with its
    group); `UserStats.achievements` lists the codes, e.g. `challenge_completed:<id>`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=100)
    challenge = models.ForeignKey(
        Challenge, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    earned_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "code"], name="achievement_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.code}"
