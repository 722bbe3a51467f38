from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fitness.serializers import StrictSerializer
from social.models import (
    CHALLENGE_UNITS,
    MAX_CHALLENGE_DAYS,
    MAX_GROUP_MEMBERS,
    Challenge,
    ChallengeType,
    Connection,
    Group,
    GroupMembership,
    JoinPolicy,
    MemberStatus,
    Role,
    Visibility,
)
from social.selectors import board_rows, card_for, challenge_status, connection_status_for

# --- shared output pieces ----------------------------------------------------------------


class UserCardSerializer(serializers.Serializer):
    """A user's public card; never the e-mail. `hidden` (all else null) stands for
    someone you cannot see (a block between you)."""

    id = serializers.UUIDField(allow_null=True)
    display_name = serializers.CharField(allow_null=True)
    avatar = serializers.URLField(allow_null=True)
    hidden = serializers.BooleanField()


def _hidden(context: dict) -> set:
    return context.get("hidden", set())


# --- connections -------------------------------------------------------------------------


class ConnectionSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(
        help_text="accepted, or incoming / outgoing for a pending request."
    )
    user = serializers.SerializerMethodField()

    class Meta:
        model = Connection
        fields = ["id", "status", "user", "created_at"]

    def get_status(self, connection: Connection) -> str:
        return connection_status_for(connection, self.context["viewer_id"])

    @extend_schema_field(UserCardSerializer)
    def get_user(self, connection: Connection) -> dict:
        viewer = self.context["viewer_id"]
        other = connection.addressee if connection.requester_id == viewer else connection.requester
        return card_for(_hidden(self.context), other)


class ConnectionRequestSerializer(StrictSerializer):
    user_id = serializers.UUIDField(required=False)
    invite_code = serializers.CharField(max_length=16, required=False)

    def validate(self, attrs):
        if ("user_id" in attrs) == ("invite_code" in attrs):
            raise serializers.ValidationError("Send exactly one of user_id or invite_code.")
        return attrs


class ConnectionListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["accepted", "incoming", "outgoing"],
        required=False,
        help_text="Leave out for all of them.",
    )


class InviteCodeSerializer(serializers.Serializer):
    invite_code = serializers.CharField()


class UserSearchQuerySerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text="One exact address.")


class BlockRequestSerializer(StrictSerializer):
    user_id = serializers.UUIDField()


class BlockSerializer(serializers.Serializer):
    user = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(UserCardSerializer)
    def get_user(self, block) -> dict:
        return card_for(set(), block.blocked)


# --- groups ------------------------------------------------------------------------------


class GroupSettingsSerializer(StrictSerializer):
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    join_policy = serializers.ChoiceField(choices=JoinPolicy.choices, required=False)
    max_members = serializers.IntegerField(
        min_value=2, max_value=MAX_GROUP_MEMBERS, required=False, help_text="Default 100."
    )
    members_can_invite = serializers.BooleanField(required=False)


class GroupWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=2000, allow_blank=True, default="")
    settings = GroupSettingsSerializer(
        required=False, help_text="Keys left out keep their value (defaults on create)."
    )


class MembershipBriefSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    status = serializers.ChoiceField(choices=MemberStatus.choices)


class GroupSerializer(serializers.ModelSerializer):
    """The plan's `Group` (its members and challenges come beside it, in GroupResponse)."""

    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)
    member_count = serializers.SerializerMethodField(help_text="Active members.")
    membership = serializers.SerializerMethodField(
        help_text="Your role and status in the group; null when you are not in it."
    )

    class Meta:
        model = Group
        fields = [
            "id",
            "name",
            "description",
            "created_by",
            "created_at",
            "updated_at",
            "settings",
            "member_count",
            "membership",
        ]

    def get_member_count(self, group: Group) -> int:
        return getattr(group, "member_count", 0)

    @extend_schema_field(MembershipBriefSerializer(allow_null=True))
    def get_membership(self, group: Group) -> dict | None:
        mine = getattr(group, "my_membership", None)
        if isinstance(mine, list):
            mine = mine[0] if mine else None
        if mine is None:
            return None
        return {"role": mine.role, "status": mine.status}


class GroupMemberSerializer(serializers.ModelSerializer):
    """The plan's `GroupMember`, plus the user's public card."""

    user_id = serializers.SerializerMethodField()
    user = serializers.SerializerMethodField()

    class Meta:
        model = GroupMembership
        fields = ["user_id", "role", "joined_at", "status", "user"]

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_user_id(self, membership: GroupMembership) -> str | None:
        if membership.user_id in _hidden(self.context):
            return None
        return str(membership.user_id)

    @extend_schema_field(UserCardSerializer)
    def get_user(self, membership: GroupMembership) -> dict:
        return card_for(_hidden(self.context), membership.user)


class MemberAddSerializer(StrictSerializer):
    user_id = serializers.UUIDField(
        help_text="Your own id to join / request / accept an invitation; a connection's "
        "id to invite them."
    )


class MemberUpdateSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    status = serializers.ChoiceField(choices=MemberStatus.choices, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send role and/or status.")
        return attrs


class GroupListQuerySerializer(serializers.Serializer):
    discover = serializers.BooleanField(
        default=False, help_text="Search public groups instead of listing yours."
    )
    q = serializers.CharField(max_length=100, required=False, help_text="Name contains.")


class MemberListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=MemberStatus.choices,
        required=False,
        help_text="Admins only see invited / requested ones.",
    )


# --- challenges --------------------------------------------------------------------------


class LeaderboardEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    user_id = serializers.UUIDField(allow_null=True)
    display_name = serializers.CharField(allow_null=True)
    hidden = serializers.BooleanField()
    score = serializers.FloatField()
    progress = serializers.FloatField(help_text="From 0 to 1: the share of the target reached.")
    completed_at = serializers.DateTimeField(allow_null=True)


class GoalsSerializer(StrictSerializer):
    target = serializers.FloatField(min_value=0.01, max_value=1e9)
    unit = serializers.CharField(max_length=16, required=False, help_text="Set from the type.")


@extend_schema_field(
    {
        "type": "string",
        "description": "ISO 8601 date-time with a zone, or a date (YYYY-MM-DD).",
        "example": "2026-01-01T00:00:00+01:00",
    }
)
class ChallengeDateField(serializers.Field):
    """An ISO datetime with a zone, or a date (that day's start in the challenge's time
    zone, resolved by the service once the zone is known)."""

    default_error_messages = {"invalid": "Expected an ISO 8601 date-time with a zone, or a date."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            moment = parse_datetime(data)
            if moment is not None:
                return moment
            day = parse_date(data)
        except ValueError:
            self.fail("invalid")
        if day is None:
            self.fail("invalid")
        return day

    def to_representation(self, value):
        return value.isoformat()


def resolve_moment(value: date | datetime, zone: ZoneInfo) -> datetime:
    """A date is that day's start in `zone`; a naive date-time is read in `zone` too."""
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=zone)
    return datetime.combine(value, time.min, tzinfo=zone)


class ChallengeWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=2000, allow_blank=True, default="")
    type = serializers.ChoiceField(choices=ChallengeType.choices)
    goals = GoalsSerializer()
    timezone = serializers.CharField(
        max_length=64, required=False, help_text="IANA zone; defaults to yours."
    )
    start_date = ChallengeDateField()
    end_date = ChallengeDateField()

    def validate_timezone(self, value: str) -> str:
        if value not in available_timezones():
            raise serializers.ValidationError("Unknown IANA time zone.")
        return value

    def validate(self, attrs):
        existing: Challenge | None = self.context.get("challenge")
        zone_name = attrs.get("timezone") or (
            existing.timezone if existing else self.context.get("default_timezone", "UTC")
        )
        zone = ZoneInfo(zone_name)
        if not existing or "timezone" in attrs:
            attrs["timezone"] = zone_name
        for name in ("start_date", "end_date"):
            if name in attrs:
                attrs[name] = resolve_moment(attrs[name], zone)
        start = attrs.get("start_date") or (existing.start_date if existing else None)
        end = attrs.get("end_date") or (existing.end_date if existing else None)
        if start and end:
            if end <= start:
                raise serializers.ValidationError({"end_date": ["Must be after start_date."]})
            if end - start > timedelta(days=MAX_CHALLENGE_DAYS):
                raise serializers.ValidationError(
                    {"end_date": [f"A challenge lasts at most {MAX_CHALLENGE_DAYS} days."]}
                )
        kind = attrs.get("type") or (existing.type if existing else None)
        if "goals" in attrs or "type" in attrs:
            goals = dict(attrs.get("goals") or (existing.goals if existing else {}))
            unit = CHALLENGE_UNITS[kind]
            if goals.get("unit", unit) != unit and "goals" in attrs:
                raise serializers.ValidationError(
                    {"goals": {"unit": [f"A {kind} challenge is scored in {unit}."]}}
                )
            goals["unit"] = unit
            attrs["goals"] = goals
        return attrs


class ChallengeSerializer(serializers.ModelSerializer):
    """The plan's `Challenge`, plus group_id, timezone and status."""

    group_id = serializers.UUIDField(read_only=True)
    status = serializers.SerializerMethodField(help_text="upcoming, active or finished.")
    participants = serializers.SerializerMethodField()
    leaderboard = serializers.SerializerMethodField()
    finalized = serializers.SerializerMethodField(
        help_text="True once the grace period after end_date has passed: the board is final."
    )

    class Meta:
        model = Challenge
        fields = [
            "id",
            "group_id",
            "name",
            "description",
            "start_date",
            "end_date",
            "timezone",
            "type",
            "goals",
            "status",
            "participants",
            "leaderboard",
            "finalized",
            "created_at",
            "updated_at",
        ]

    def get_status(self, challenge: Challenge) -> str:
        return challenge_status(challenge, self.context.get("now") or timezone.now())

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_participants(self, challenge: Challenge) -> list[str]:
        hidden = _hidden(self.context)
        return [
            str(participant.user_id)
            for participant in challenge.participant_list
            if participant.user_id not in hidden
        ]

    @extend_schema_field(LeaderboardEntrySerializer(many=True))
    def get_leaderboard(self, challenge: Challenge) -> list[dict]:
        # Rows are built ready to render: a board may have 1,000 of them.
        return board_rows(challenge.board, challenge.target, _hidden(self.context))

    def get_finalized(self, challenge: Challenge) -> bool:
        return challenge.finalized_at is not None


class ChallengeListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["upcoming", "active", "finished"], required=False)


class GroupResponseSerializer(serializers.Serializer):
    """The plan's `GroupResponse`."""

    group = GroupSerializer()
    members = GroupMemberSerializer(
        many=True, help_text="The first 100 (page through /members for all of them)."
    )
    challenges = ChallengeSerializer(
        many=True, help_text="Each with its top 10; GET the challenge for its whole board."
    )

    class Meta:
        ref_name = "GroupResponse"


class ParticipantSerializer(serializers.Serializer):
    challenge_id = serializers.UUIDField()
    user_id = serializers.UUIDField()
    joined_at = serializers.DateTimeField()
