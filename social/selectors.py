"""Reads of the social graph, groups and challenges, with the visibility rules built in.

A private group (or one hidden by staff) answers 404 to whoever may not see it, exactly
like a missing one; `group_access` is the one place that decides.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from rest_framework.fields import DateTimeField

from accounts.models import User, normalize_email
from accounts.stats import StatsContribution
from fitness.api.errors import NotFound
from social.errors import Forbidden
from social.models import (
    Achievement,
    Block,
    Challenge,
    ChallengeParticipant,
    Connection,
    ConnectionStatus,
    Group,
    GroupMembership,
    LeaderboardEntry,
    MemberStatus,
    Role,
    Visibility,
)

# What a blocked user sees in place of the one who blocked them.
HIDDEN_CARD = {"id": None, "display_name": None, "avatar": None, "hidden": True}


# What a card reads of a user: lists load only these columns.
CARD_FIELDS = ("id", "display_name", "name")


def user_card(user: User) -> dict:
    """The public face of a user: never the e-mail. Users have no avatar yet (null)."""
    return {
        "id": str(user.pk),
        "display_name": user.display_name or user.name,
        "avatar": None,
        "hidden": False,
    }


def _card_columns(relation: str) -> list[str]:
    return [f"{relation}__{field}" for field in CARD_FIELDS]


def card_for(viewer_hidden: set[uuid.UUID], user: User) -> dict:
    return HIDDEN_CARD if user.pk in viewer_hidden else user_card(user)


# --- blocks and connections ------------------------------------------------------------


def blocked_ids(user_id: uuid.UUID) -> set[uuid.UUID]:
    """Users on either side of a block with this one: neither sees the other."""
    rows = Block.objects.filter(Q(blocker_id=user_id) | Q(blocked_id=user_id)).values_list(
        "blocker_id", "blocked_id"
    )
    return {other for pair in rows for other in pair if other != user_id}


def blocks_between(a: uuid.UUID, b: uuid.UUID) -> Block | None:
    return Block.objects.filter(
        Q(blocker_id=a, blocked_id=b) | Q(blocker_id=b, blocked_id=a)
    ).first()


def connection_between(a: uuid.UUID, b: uuid.UUID) -> Connection | None:
    return Connection.objects.filter(
        Q(requester_id=a, addressee_id=b) | Q(requester_id=b, addressee_id=a)
    ).first()


def connected_ids(user_id: uuid.UUID, among: Iterable[uuid.UUID] | None = None) -> set[uuid.UUID]:
    rows = Connection.objects.filter(
        Q(requester_id=user_id) | Q(addressee_id=user_id), status=ConnectionStatus.ACCEPTED
    )
    if among is not None:
        among = list(among)
        rows = rows.filter(Q(requester_id__in=among) | Q(addressee_id__in=among))
    return {
        other
        for pair in rows.values_list("requester_id", "addressee_id")
        for other in pair
        if other != user_id
    }


def sharing_errors(owner: User, reader_ids: Iterable[uuid.UUID]) -> list[str]:
    """Why the owner may not share with these users, empty when they may."""
    return sharing_errors_per_item(owner, [list(reader_ids)]).get(0, [])


def sharing_errors_per_item(
    owner: User, readers_per_item: list[list[uuid.UUID]]
) -> dict[int, list[str]]:
    """The one rule for every shareable object (food logs, workouts): only the owner's
    accepted connections, never the owner. Unknown users look like non-connections.
    One query for all the items; the messages name the refused ids."""
    wanted = {reader for readers in readers_per_item for reader in readers} - {owner.pk}
    allowed = connected_ids(owner.pk, wanted) if wanted else set()
    errors = {}
    for index, readers in enumerate(readers_per_item):
        messages = []
        if owner.pk in readers:
            messages.append("Nothing is shared with its owner.")
        refused = [str(r) for r in dict.fromkeys(readers) if r != owner.pk and r not in allowed]
        if refused:
            messages.append(f"Not among your connections: {', '.join(refused)}.")
        if messages:
            errors[index] = messages
    return errors


def connection_status_for(connection: Connection, viewer_id: uuid.UUID) -> str:
    """accepted, or for a pending request: incoming / outgoing as the viewer sees it."""
    if connection.status == ConnectionStatus.ACCEPTED:
        return "accepted"
    return "outgoing" if connection.requester_id == viewer_id else "incoming"


def list_connections(*, user: User, status: str | None) -> QuerySet[Connection]:
    mine = Connection.objects.filter(Q(requester=user) | Q(addressee=user))
    if status == "accepted":
        mine = mine.filter(status=ConnectionStatus.ACCEPTED)
    elif status == "incoming":
        mine = mine.filter(status=ConnectionStatus.PENDING, addressee=user)
    elif status == "outgoing":
        mine = mine.filter(status=ConnectionStatus.PENDING, requester=user)
    return mine.select_related("requester", "addressee").order_by("-created_at", "id")


def get_connection(*, user: User, connection_id: uuid.UUID) -> Connection:
    found = (
        Connection.objects.filter(Q(requester=user) | Q(addressee=user), pk=connection_id)
        .select_related("requester", "addressee")
        .first()
    )
    if found is None:
        raise NotFound("No such connection.")
    return found


def find_user_by_email(*, viewer: User, email: str) -> User:
    """One exact address; unknown, undiscoverable, blocked and oneself all answer 404."""
    found = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if (
        found is None
        or found.pk == viewer.pk
        or (found.privacy_settings or {}).get("discoverable", True) is False
        or blocks_between(viewer.pk, found.pk) is not None
    ):
        raise NotFound("No such user.")
    return found


def find_user_by_invite_code(*, viewer: User, code: str) -> User:
    found = User.objects.filter(invite_code=code.strip().upper(), is_active=True).first()
    if found is None or found.pk == viewer.pk:
        raise NotFound("No such user.")
    return found


def list_blocks(*, user: User) -> QuerySet[Block]:
    return Block.objects.filter(blocker=user).select_related("blocked").order_by("-created_at")


# --- groups ----------------------------------------------------------------------------


@dataclass
class GroupAccess:
    group: Group
    membership: GroupMembership | None
    is_staff: bool

    @property
    def is_active_member(self) -> bool:
        return self.membership is not None and self.membership.status == MemberStatus.ACTIVE

    @property
    def is_admin(self) -> bool:
        return self.membership is not None and self.membership.is_admin

    @property
    def is_owner(self) -> bool:
        return self.is_active_member and self.membership.role == Role.OWNER

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("Only the group's owner and admins may do this.")

    def require_owner(self) -> None:
        if not self.is_owner:
            raise Forbidden("Only the group's owner may do this.")

    def require_active_member(self) -> None:
        if not self.is_active_member:
            raise Forbidden("Only the group's members may do this.")


def _can_see(group: Group, membership: GroupMembership | None, user: User) -> bool:
    if user.is_staff:
        return True
    if group.hidden:
        return False
    if group.visibility == Visibility.PUBLIC:
        return True
    # Invited and requested users see it too: they have to be able to answer or withdraw.
    return membership is not None


def group_access(*, user: User, group_id: uuid.UUID, lock: bool = False) -> GroupAccess:
    """The group and the caller's membership; 404 when the caller may not see it.

    With `lock` the group row is locked (inside the caller's transaction): every change
    of membership goes through it, so two joins cannot both take the last seat.
    """
    groups = Group.objects.select_for_update() if lock else Group.objects
    group = groups.filter(pk=group_id).first()
    if group is None:
        raise NotFound("No such group.")
    membership = GroupMembership.objects.filter(group=group, user=user).first()
    if not _can_see(group, membership, user):
        raise NotFound("No such group.")
    return GroupAccess(group=group, membership=membership, is_staff=user.is_staff)


def active_count(group: Group) -> int:
    return GroupMembership.objects.filter(group=group, status=MemberStatus.ACTIVE).count()


def list_groups(*, user: User) -> QuerySet[Group]:
    """The caller's groups: active, invited or requested (each with `my_membership`)."""
    return _with_counts(
        Group.objects.filter(memberships__user=user, hidden=False)
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=GroupMembership.objects.filter(user=user),
                to_attr="my_membership",
            )
        )
        .order_by("-created_at", "id")
    )


def discover_groups(*, user: User, q: str | None) -> QuerySet[Group]:
    groups = Group.objects.filter(settings__visibility=Visibility.PUBLIC, hidden=False)
    if q:
        groups = groups.filter(name__icontains=q)
    return _with_counts(
        groups.prefetch_related(
            Prefetch(
                "memberships",
                queryset=GroupMembership.objects.filter(user=user),
                to_attr="my_membership",
            )
        ).order_by("name", "id")
    )


def _with_counts(groups: QuerySet[Group]) -> QuerySet[Group]:
    active = GroupMembership.objects.filter(group=OuterRef("pk"), status=MemberStatus.ACTIVE)
    return groups.annotate(
        member_count=_subquery_count(active),
    )


def _subquery_count(queryset: QuerySet):
    counted = queryset.order_by().values("group").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def members(*, access: GroupAccess, status: str | None = None) -> QuerySet[GroupMembership]:
    """Active members for everyone; admins (and staff) also see invitations and requests."""
    rows = (
        GroupMembership.objects.filter(group=access.group)
        .select_related("user")
        .only("group_id", "role", "status", "joined_at", "user_id", *_card_columns("user"))
    )
    if not (access.is_admin or access.is_staff):
        rows = rows.filter(status=MemberStatus.ACTIVE)
    if status:
        rows = rows.filter(status=status)
    # Owner first, then admins, then by joining order.
    role_order = {"owner": 0, "admin": 1, "member": 2}
    return rows.annotate(
        role_order=Case(
            *(When(role=role, then=Value(order)) for role, order in role_order.items()),
            output_field=IntegerField(),
        )
    ).order_by("role_order", "joined_at", "created_at", "id")


def membership_of(*, access: GroupAccess, user_id: uuid.UUID) -> GroupMembership:
    found = next(
        iter(members(access=access).filter(user_id=user_id)),
        None,
    )
    if found is None:
        raise NotFound("No such member.")
    return found


def group_visible_workouts(user: User) -> Q:
    """Workouts linked to a group the viewer is an active member of, while their owner is
    one too (and neither has blocked the other)."""
    viewer_groups = GroupMembership.objects.filter(
        user=user, status=MemberStatus.ACTIVE, group__hidden=False
    ).values("group_id")
    owner_member = GroupMembership.objects.filter(
        group_id=OuterRef("group_id"), user_id=OuterRef("owner_id"), status=MemberStatus.ACTIVE
    )
    blocked = Block.objects.filter(
        Q(blocker=user, blocked_id=OuterRef("owner_id"))
        | Q(blocked=user, blocker_id=OuterRef("owner_id"))
    )
    return Q(group_id__in=viewer_groups) & Exists(owner_member) & ~Exists(blocked)


def group_workout_readers(*, owner_id: uuid.UUID, group_ids: Iterable[uuid.UUID | None]) -> list:
    """Who reads a workout of `owner_id` linked to one of these groups, by the rule of
    `group_visible_workouts` seen from the workout (the owner left out). One query, none
    when no group is named (a workout's group before and after an edit may both be None)."""
    group_ids = {group_id for group_id in group_ids if group_id is not None}
    if not group_ids:
        return []
    owner_member = GroupMembership.objects.filter(
        group_id=OuterRef("group_id"), user_id=owner_id, status=MemberStatus.ACTIVE
    )
    blocked = Block.objects.filter(
        Q(blocker_id=owner_id, blocked_id=OuterRef("user_id"))
        | Q(blocked_id=owner_id, blocker_id=OuterRef("user_id"))
    )
    readers = GroupMembership.objects.filter(
        Exists(owner_member),
        ~Exists(blocked),
        group_id__in=list(group_ids),
        status=MemberStatus.ACTIVE,
        group__hidden=False,
    ).exclude(user_id=owner_id)
    return list(readers.values_list("user_id", flat=True).distinct())


def active_member_ids(group_id: uuid.UUID) -> list:
    return list(
        GroupMembership.objects.filter(group_id=group_id, status=MemberStatus.ACTIVE).values_list(
            "user_id", flat=True
        )
    )


def is_active_member(*, user: User, group_id: uuid.UUID) -> bool:
    return GroupMembership.objects.filter(
        user=user, group_id=group_id, status=MemberStatus.ACTIVE, group__hidden=False
    ).exists()


# --- challenges ------------------------------------------------------------------------

TOP_ENTRIES = 10


def challenge_status(challenge: Challenge, now: datetime) -> str:
    if now < challenge.start_date:
        return "upcoming"
    if now < challenge.end_date:
        return "active"
    return "finished"


def _challenges_with_board(queryset: QuerySet[Challenge], top: int | None) -> QuerySet[Challenge]:
    entries = (
        LeaderboardEntry.objects.select_related("user")
        .only("challenge_id", "user_id", "rank", "score", "completed_at", *_card_columns("user"))
        .order_by("rank")
    )
    if top is not None:
        entries = entries[:top]
    return queryset.prefetch_related(
        Prefetch(
            "participants",
            queryset=ChallengeParticipant.objects.only("challenge_id", "user_id").order_by(
                "joined_at", "id"
            ),
            to_attr="participant_list",
        ),
        Prefetch("entries", queryset=entries, to_attr="board"),
    )


def list_challenges(
    *, access: GroupAccess, status: str | None = None, now: datetime | None = None
) -> QuerySet[Challenge]:
    now = now or timezone.now()
    rows = Challenge.objects.filter(group=access.group)
    if status == "upcoming":
        rows = rows.filter(start_date__gt=now)
    elif status == "active":
        rows = rows.filter(start_date__lte=now, end_date__gt=now)
    elif status == "finished":
        rows = rows.filter(end_date__lte=now)
    return _challenges_with_board(rows.order_by("-start_date", "id"), TOP_ENTRIES)


def get_challenge(*, access: GroupAccess, challenge_id: uuid.UUID) -> Challenge:
    found = _challenges_with_board(
        Challenge.objects.filter(group=access.group, pk=challenge_id), None
    ).first()
    if found is None:
        raise NotFound("No such challenge.")
    return found


def board_rows(entries: Iterable[LeaderboardEntry], target: float, hidden: set) -> list[dict]:
    """Leaderboard rows ready to render (REST and WebSocket alike): only scores, and
    nobody the viewer is blocked from seeing."""
    moment = DateTimeField().to_representation
    rows = []
    for entry in entries:
        concealed = entry.user_id in hidden
        card = HIDDEN_CARD if concealed else user_card(entry.user)
        score = float(entry.score)
        rows.append(
            {
                "rank": entry.rank,
                "user_id": card["id"],
                "display_name": card["display_name"],
                "hidden": concealed,
                "score": score,
                "progress": min(1.0, score / target) if target > 0 else 0.0,
                "completed_at": moment(entry.completed_at) if entry.completed_at else None,
            }
        )
    return rows


# --- stats -----------------------------------------------------------------------------


def social_stats_contribution(user: User, tz_name: str) -> StatsContribution:
    connections = Connection.objects.filter(
        Q(requester=user) | Q(addressee=user), status=ConnectionStatus.ACCEPTED
    ).count()
    codes = list(
        Achievement.objects.filter(user=user).order_by("earned_at").values_list("code", flat=True)
    )
    return StatsContribution(connections_count=connections, achievements=codes)
