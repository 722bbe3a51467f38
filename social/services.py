"""Every write of the social app: connections, blocks, groups, members, challenges and the
leaderboards. Live events leave after commit (social.events)."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, Q, When
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.models import User, new_invite_code
from analytics.events import ServerEvent
from analytics.services import track
from fitness.api.errors import NotFound
from fitness.offline import GROUP_TABLES, data_changed
from food.goals import daily_goals
from food.models import FoodLog, FoodLogShare
from social import events, scoring, selectors
from social.errors import (
    ChallengeClosed,
    Forbidden,
    GroupFull,
    NotConnected,
    OwnerMustRemain,
    UserBlocked,
)
from social.models import (
    CHALLENGE_GRACE,
    Achievement,
    Block,
    Challenge,
    ChallengeParticipant,
    ChallengeType,
    Connection,
    ConnectionStatus,
    Group,
    GroupMembership,
    LeaderboardEntry,
    MemberStatus,
    Role,
    default_group_settings,
)
from social.selectors import GroupAccess
from workouts.models import Workout, WorkoutShare

# --- connections -----------------------------------------------------------------------


@transaction.atomic
def request_connection(
    *, user: User, user_id: uuid.UUID | None = None, invite_code: str | None = None
) -> tuple[Connection, bool]:
    """Sends a request, or accepts the other side's pending one (then it is mutual at
    once). Returns the connection and whether something changed."""
    if invite_code is not None:
        target = selectors.find_user_by_invite_code(viewer=user, code=invite_code)
    else:
        target = User.objects.filter(pk=user_id, is_active=True).first()
        if target is None or target.pk == user.pk:
            raise NotFound("No such user.")
    block = selectors.blocks_between(user.pk, target.pk)
    if block is not None:
        if block.blocker_id == user.pk:
            raise UserBlocked()
        raise NotFound("No such user.")
    existing = selectors.connection_between(user.pk, target.pk)
    if existing is not None:
        if existing.status == ConnectionStatus.PENDING and existing.addressee_id == user.pk:
            return _accept(existing, user), True
        return existing, False
    try:
        with transaction.atomic():
            connection = Connection.objects.create(
                requester=user, addressee=target, status=ConnectionStatus.PENDING
            )
    except IntegrityError:
        # The other side asked at the same moment: theirs is the one to accept.
        existing = selectors.connection_between(user.pk, target.pk)
        if existing is None:
            raise
        if existing.status == ConnectionStatus.PENDING and existing.addressee_id == user.pk:
            return _accept(existing, user), True
        return existing, False
    events.connection_requested(connection)
    track(user, ServerEvent.CONNECTION_REQUESTED)
    return connection, True


def _accept(connection: Connection, addressee: User) -> Connection:
    connection.status = ConnectionStatus.ACCEPTED
    connection.accepted_at = timezone.now()
    connection.save(update_fields=["status", "accepted_at"])
    events.connection_accepted(connection)
    track(addressee, ServerEvent.CONNECTION_ACCEPTED)
    return connection


@transaction.atomic
def accept_connection(*, user: User, connection_id: uuid.UUID) -> Connection:
    connection = selectors.get_connection(user=user, connection_id=connection_id)
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    if connection.status == ConnectionStatus.ACCEPTED:
        return connection
    if connection.addressee_id != user.pk:
        raise Forbidden("Only the person asked can accept a request.")
    return _accept(connection, user)


@transaction.atomic
def remove_connection(*, user: User, connection_id: uuid.UUID) -> None:
    """Cancels, declines or removes, for either side; what was shared between the two
    stops being shared in the same transaction."""
    connection = selectors.get_connection(user=user, connection_id=connection_id)
    connection.delete()
    end_shares(connection.requester_id, connection.addressee_id)


def end_shares(a: uuid.UUID, b: uuid.UUID) -> None:
    """Unshares everything either user shared with the other, touching `updated_at` so
    the owners' devices learn that `shared_with` changed."""
    now = timezone.now()
    logs = FoodLogShare.objects.filter(
        Q(food_log__owner_id=a, user_id=b) | Q(food_log__owner_id=b, user_id=a)
    )
    FoodLog.objects.filter(pk__in=logs.values("food_log_id")).update(updated_at=now)
    FoodLogShare.objects.filter(pk__in=list(logs.values_list("pk", flat=True))).delete()
    workouts = WorkoutShare.objects.filter(
        Q(workout__owner_id=a, user_id=b) | Q(workout__owner_id=b, user_id=a)
    )
    Workout.objects.filter(pk__in=workouts.values("workout_id")).update(updated_at=now)
    WorkoutShare.objects.filter(pk__in=list(workouts.values_list("pk", flat=True))).delete()


@transaction.atomic
def rotate_invite_code(*, user: User) -> str:
    for _ in range(5):
        code = new_invite_code()
        if not User.objects.filter(invite_code=code).exists():
            break
    user.invite_code = code
    user.save(update_fields=["invite_code", "updated_at"])
    return code


@transaction.atomic
def block_user(*, user: User, user_id: uuid.UUID) -> tuple[Block, bool]:
    """Removes the connection, every pending request and group invitation between the
    two, and their shares; then neither sees the other."""
    target = User.objects.filter(pk=user_id, is_active=True).first()
    if target is None or target.pk == user.pk:
        raise NotFound("No such user.")
    block, created = Block.objects.get_or_create(blocker=user, blocked=target)
    Connection.objects.filter(
        Q(requester=user, addressee=target) | Q(requester=target, addressee=user)
    ).delete()
    GroupMembership.objects.filter(
        Q(user=target, invited_by=user) | Q(user=user, invited_by=target),
        status=MemberStatus.INVITED,
    ).delete()
    end_shares(user.pk, target.pk)
    return block, created


@transaction.atomic
def unblock_user(*, user: User, user_id: uuid.UUID) -> None:
    deleted, _ = Block.objects.filter(blocker=user, blocked_id=user_id).delete()
    if not deleted:
        raise NotFound("You have not blocked this user.")


# --- groups ----------------------------------------------------------------------------


@transaction.atomic
def create_group(
    *, owner: User, name: str, description: str = "", settings: dict[str, Any] | None = None
) -> Group:
    group = Group.objects.create(
        name=name,
        description=description,
        created_by=owner,
        settings={**default_group_settings(), **(settings or {})},
    )
    GroupMembership.objects.create(
        group=group,
        user=owner,
        role=Role.OWNER,
        status=MemberStatus.ACTIVE,
        joined_at=timezone.now(),
    )
    track(owner, ServerEvent.GROUP_CREATED)
    return group


@transaction.atomic
def update_group(*, user: User, group_id: uuid.UUID, changes: dict[str, Any]) -> Group:
    access = selectors.group_access(user=user, group_id=group_id, lock=True)
    access.require_admin()
    group = access.group
    if "settings" in changes:
        merged = {**default_group_settings(), **group.settings, **changes.pop("settings")}
        if merged["max_members"] < selectors.active_count(group):
            raise ValidationError(
                {"settings": {"max_members": ["Lower than the number of active members."]}}
            )
        group.settings = merged
    for field, value in changes.items():
        setattr(group, field, value)
    group.save()
    events.group_updated(group)
    return group


@transaction.atomic
def delete_group(*, user: User, group_id: uuid.UUID) -> None:
    """Removes the group with its memberships and challenges; the members' workouts stay
    and lose the link (touched, so syncing devices notice)."""
    access = selectors.group_access(user=user, group_id=group_id, lock=True)
    access.require_owner()
    Workout.objects.filter(group=access.group).update(group=None, updated_at=timezone.now())
    access.group.delete()


# --- members ---------------------------------------------------------------------------


def _touch(group_id: uuid.UUID) -> None:
    """A change of who is in the group (or in its challenges) that leaves no newer row
    behind moves the group's `updated_at`, so syncing clients and the migration report
    see the group changed here."""
    Group.objects.filter(pk=group_id).update(updated_at=timezone.now())


def _activate(access: GroupAccess, membership: GroupMembership) -> GroupMembership:
    """Gives the membership a seat; the group row is locked by the caller."""
    if selectors.active_count(access.group) >= access.group.max_members:
        raise GroupFull()
    membership.status = MemberStatus.ACTIVE
    membership.joined_at = timezone.now()
    membership.save()
    _touch(access.group.pk)
    events.member_joined(membership)
    return membership


@transaction.atomic
def add_member(
    *, user: User, group_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[GroupMembership, bool]:
    """With the caller's own id: join (open), request (approval) or accept an invitation.
    With someone else's: invite one of the caller's connections (or approve their
    request). Returns the membership and whether it changed."""
    access = selectors.group_access(user=user, group_id=group_id, lock=True)
    if user_id == user.pk:
        return _join(access, user)
    return _invite(access, user, user_id)


def _join(access: GroupAccess, user: User) -> tuple[GroupMembership, bool]:
    membership = access.membership
    if membership is not None:
        if membership.status == MemberStatus.INVITED:
            return _joined(user, _activate(access, membership)), True
        return membership, False
    policy = access.group.join_policy
    if policy == "invite_only":
        raise Forbidden("This group is by invitation only.")
    membership = GroupMembership(group=access.group, user=user, role=Role.MEMBER)
    if policy == "open":
        return _joined(user, _activate(access, membership)), True
    membership.status = MemberStatus.REQUESTED
    membership.save()
    return membership, True


def _joined(user: User, membership: GroupMembership) -> GroupMembership:
    track(
        user,
        ServerEvent.GROUP_JOINED,
        {"via": "invitation" if membership.invited_by_id else "open"},
    )
    return membership


def _invite(access: GroupAccess, user: User, user_id: uuid.UUID) -> tuple[GroupMembership, bool]:
    may_invite = access.is_admin or (access.is_active_member and access.group.members_can_invite)
    if not may_invite:
        raise Forbidden("You may not invite people to this group.")
    if user_id not in selectors.connected_ids(user.pk, [user_id]):
        raise NotConnected(details={"user_id": str(user_id)})
    existing = GroupMembership.objects.filter(group=access.group, user_id=user_id).first()
    if existing is not None:
        if existing.status == MemberStatus.REQUESTED and access.is_admin:
            return _activate(access, existing), True
        return existing, False
    membership = GroupMembership.objects.create(
        group=access.group,
        user_id=user_id,
        role=Role.MEMBER,
        status=MemberStatus.INVITED,
        invited_by=user,
    )
    events.member_invited(membership)
    return membership, True


@transaction.atomic
def update_member(
    *,
    user: User,
    group_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str | None = None,
    status: str | None = None,
) -> GroupMembership:
    access = selectors.group_access(user=user, group_id=group_id, lock=True)
    if not (access.is_admin or access.is_active_member):
        raise Forbidden()
    target = GroupMembership.objects.filter(group=access.group, user_id=user_id).first()
    if target is None or (not access.is_admin and target.status != MemberStatus.ACTIVE):
        raise NotFound("No such member.")
    if status is not None and status != target.status:
        access.require_admin()
        if status != MemberStatus.ACTIVE or target.status != MemberStatus.REQUESTED:
            raise ValidationError(
                {"status": ["Admins can only approve requests (requested → active)."]}
            )
        target = _activate(access, target)
    if role is not None and role != target.role:
        access.require_owner()
        if target.status != MemberStatus.ACTIVE:
            raise ValidationError({"role": ["Only active members can take a role."]})
        if target.role == Role.OWNER:
            raise OwnerMustRemain()
        if role == Role.OWNER:
            # Demote first: the constraint allows one owner at a time.
            GroupMembership.objects.filter(pk=access.membership.pk).update(role=Role.ADMIN)
        target.role = role
        target.save(update_fields=["role"])
        _touch(access.group.pk)
        events.group_updated(access.group)
    return target


@transaction.atomic
def remove_member(*, user: User, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Leave (self), decline an invitation or withdraw a request (self), or remove
    someone (admins; only the owner removes admins; nobody removes the owner)."""
    access = selectors.group_access(user=user, group_id=group_id, lock=True)
    if user_id == user.pk:
        target = access.membership
        if target is None:
            raise NotFound("No such member.")
        if target.role == Role.OWNER:
            raise OwnerMustRemain()
    else:
        if not access.is_active_member:
            raise Forbidden()
        target = GroupMembership.objects.filter(group=access.group, user_id=user_id).first()
        if target is None or (not access.is_admin and target.status != MemberStatus.ACTIVE):
            raise NotFound("No such member.")
        access.require_admin()
        if target.role == Role.OWNER or (target.role == Role.ADMIN and not access.is_owner):
            raise Forbidden("Only the owner removes admins, and the owner cannot be removed.")
    _drop_membership(access.group, target)


def _drop_membership(group: Group, target: GroupMembership) -> None:
    """Deletes the membership and the person's places in the group's open challenges;
    the other members hear of it after commit."""
    was_active = target.status == MemberStatus.ACTIVE
    target.delete()
    _touch(group.pk)
    left = ChallengeParticipant.objects.filter(
        user_id=target.user_id, challenge__group=group, challenge__finalized_at__isnull=True
    )
    for challenge_id in set(left.values_list("challenge_id", flat=True)):
        _queue_refresh(challenge_id)
    LeaderboardEntry.objects.filter(
        user_id=target.user_id, challenge__group=group, challenge__finalized_at__isnull=True
    ).delete()
    left.delete()
    if was_active:
        events.member_left(group, target.user_id)


@transaction.atomic
def leave_all_groups(*, user: User) -> None:
    """Before an account is deleted. A group the user owns passes to its longest-standing
    active admin, else to its longest-standing active member: it is its members' group as
    much as its owner's, so it is deleted (with its challenges) only when no one else is
    active in it. Then every membership of the user ends as leaving does: places in open
    challenges go, their boards are refreshed, the other members are told."""
    owned = GroupMembership.objects.filter(user=user, role=Role.OWNER)
    for group_id in list(owned.values_list("group_id", flat=True)):
        group = Group.objects.select_for_update().get(pk=group_id)
        heir = (
            GroupMembership.objects.filter(group=group, status=MemberStatus.ACTIVE)
            .exclude(user=user)
            .annotate(rank=Case(When(role=Role.ADMIN, then=0), default=1))
            .order_by("rank", "joined_at", "created_at", "pk")
            .first()
        )
        if heir is None:
            # As delete_group: workouts of former members lose the link, touched for sync.
            Workout.objects.filter(group=group).update(group=None, updated_at=timezone.now())
            group.delete()
            continue
        # One owner at a time (membership_one_owner): step down before the heir steps up.
        GroupMembership.objects.filter(group=group, user=user).update(role=Role.ADMIN)
        heir.role = Role.OWNER
        heir.save(update_fields=["role"])
        events.group_updated(group)
    for membership in GroupMembership.objects.filter(user=user).select_related("group"):
        _drop_membership(membership.group, membership)


@transaction.atomic
def staff_remove_member(*, membership_id: int) -> None:
    """Staff (the admin) remove anyone but the owner, whose place must be handed over."""
    target = GroupMembership.objects.select_related("group").filter(pk=membership_id).first()
    if target is None:
        return
    if target.role == Role.OWNER:
        raise OwnerMustRemain()
    _drop_membership(target.group, target)


@transaction.atomic
def set_group_hidden(*, group_ids: list[uuid.UUID], hidden: bool) -> int:
    changed = Group.objects.filter(pk__in=group_ids).update(
        hidden=hidden, updated_at=timezone.now()
    )
    # A bulk update sends no signals: the members' devices hear of it here.
    members = GroupMembership.objects.filter(group_id__in=group_ids, status=MemberStatus.ACTIVE)
    data_changed(tables=GROUP_TABLES, user_ids=members.values_list("user_id", flat=True))
    return changed


# --- challenges ------------------------------------------------------------------------


@transaction.atomic
def create_challenge(*, user: User, group_id: uuid.UUID, data: dict[str, Any]) -> Challenge:
    access = selectors.group_access(user=user, group_id=group_id)
    access.require_admin()
    if data["end_date"] <= timezone.now():
        raise ValidationError({"end_date": ["A new challenge must end in the future."]})
    challenge = Challenge.objects.create(group=access.group, created_by=user, **data)
    events.challenge_created(challenge)
    track(user, ServerEvent.CHALLENGE_CREATED, {"type": challenge.type})
    return challenge


@transaction.atomic
def update_challenge(
    *, user: User, group_id: uuid.UUID, challenge_id: uuid.UUID, data: dict[str, Any]
) -> Challenge:
    access = selectors.group_access(user=user, group_id=group_id)
    access.require_admin()
    challenge = (
        Challenge.objects.select_for_update().filter(group=access.group, pk=challenge_id).first()
    )
    if challenge is None:
        raise NotFound("No such challenge.")
    if challenge.finalized_at is not None or challenge.end_date <= timezone.now():
        raise ChallengeClosed()
    for field, value in data.items():
        setattr(challenge, field, value)
    if challenge.end_date <= challenge.start_date:
        raise ValidationError({"end_date": ["Must be after start_date."]})
    challenge.save()
    _queue_refresh(challenge.pk)
    return challenge


def _open_challenge(access: GroupAccess, challenge_id: uuid.UUID) -> Challenge:
    challenge = Challenge.objects.filter(group=access.group, pk=challenge_id).first()
    if challenge is None:
        raise NotFound("No such challenge.")
    if challenge.end_date <= timezone.now():
        raise ChallengeClosed()
    return challenge


@transaction.atomic
def join_challenge(
    *, user: User, group_id: uuid.UUID, challenge_id: uuid.UUID
) -> tuple[ChallengeParticipant, bool]:
    access = selectors.group_access(user=user, group_id=group_id)
    access.require_active_member()
    challenge = _open_challenge(access, challenge_id)
    participant, created = ChallengeParticipant.objects.get_or_create(
        challenge=challenge, user=user
    )
    if created:
        _queue_refresh(challenge.pk)
        track(user, ServerEvent.CHALLENGE_JOINED, {"type": challenge.type})
    return participant, created


@transaction.atomic
def leave_challenge(*, user: User, group_id: uuid.UUID, challenge_id: uuid.UUID) -> None:
    access = selectors.group_access(user=user, group_id=group_id)
    access.require_active_member()
    challenge = _open_challenge(access, challenge_id)
    deleted, _ = ChallengeParticipant.objects.filter(challenge=challenge, user=user).delete()
    if not deleted:
        raise NotFound("You are not taking part in this challenge.")
    LeaderboardEntry.objects.filter(challenge=challenge, user=user).delete()
    _touch(access.group.pk)
    _queue_refresh(challenge.pk)


# --- leaderboards ----------------------------------------------------------------------


def _queue_refresh(challenge_id: uuid.UUID) -> None:
    from social.tasks import refresh_leaderboard

    refresh_leaderboard.delay_on_commit(str(challenge_id))


def activity_changed(*, user_id: Any, kind: str, moments: list[datetime]) -> None:
    """The activity hook (fitness.activity): queues a refresh of every open challenge of
    the user that the changed items fall into, after the caller's commit."""
    types = scoring.WORKOUT_TYPES if kind == "workout" else scoring.FOOD_TYPES
    now = timezone.now()
    open_challenges = Challenge.objects.filter(
        participants__user_id=user_id,
        type__in=types,
        finalized_at__isnull=True,
        end_date__gt=now - CHALLENGE_GRACE,
    ).values_list("pk", "start_date", "end_date")
    for challenge_id, start, end in open_challenges:
        if not moments or any(start <= moment < end for moment in moments):
            _queue_refresh(challenge_id)


def _protein_goals(challenge: Challenge) -> None:
    today = timezone.now().date()
    participants = list(
        ChallengeParticipant.objects.filter(challenge=challenge).select_related("user")
    )
    for participant in participants:
        goal = daily_goals(participant.user, today).protein
        participant.protein_goal_g = Decimal(str(goal)).quantize(Decimal("0.1"))
    ChallengeParticipant.objects.bulk_update(participants, ["protein_goal_g"])


@transaction.atomic
def refresh_leaderboard(*, challenge_id: uuid.UUID, after_close: bool = False) -> bool:
    """Recomputes the board from the participants' data. Once scoring has closed
    (end_date + grace) the board is final and is left alone, unless `after_close` (an
    imported challenge that ended before its data came in, not finalized yet); returns
    whether it ran."""
    challenge = Challenge.objects.select_for_update().filter(pk=challenge_id).first()
    now = timezone.now()
    if challenge is None or challenge.finalized_at is not None:
        return False
    if now > challenge.scoring_closes_at and not after_close:
        return False
    if challenge.type == ChallengeType.PROTEIN_GOAL_DAYS:
        _protein_goals(challenge)
    scores = scoring.compute_scores(challenge)
    participants = list(
        ChallengeParticipant.objects.filter(challenge=challenge).values_list("user_id", "joined_at")
    )
    completed_before = dict(
        LeaderboardEntry.objects.filter(challenge=challenge).values_list("user_id", "completed_at")
    )
    zero = scoring.Score(Decimal(0), None)
    far = datetime.max.replace(tzinfo=now.tzinfo)

    def order(item: tuple[uuid.UUID, datetime]):
        user_id, joined_at = item
        score = scores.get(user_id, zero)
        return (-score.score, score.reached_at or far, joined_at, str(user_id))

    target = Decimal(str(challenge.target))
    entries = []
    for rank, (user_id, _) in enumerate(sorted(participants, key=order), start=1):
        score = scores.get(user_id, zero)
        completed_at = None
        if target > 0 and score.score >= target:
            completed_at = completed_before.get(user_id) or score.reached_at
        entries.append(
            LeaderboardEntry(
                challenge=challenge,
                user_id=user_id,
                rank=rank,
                score=score.score,
                reached_at=score.reached_at,
                completed_at=completed_at,
                updated_at=now,
            )
        )
    LeaderboardEntry.objects.filter(challenge=challenge).exclude(
        user_id__in=[user_id for user_id, _ in participants]
    ).delete()
    LeaderboardEntry.objects.bulk_create(
        entries,
        update_conflicts=True,
        unique_fields=["challenge", "user"],
        update_fields=["rank", "score", "reached_at", "completed_at", "updated_at"],
    )
    challenge.board_refreshed_at = now
    challenge.save(update_fields=["board_refreshed_at"])
    events.leaderboard_changed(challenge)
    return True


@transaction.atomic
def finalize_challenge(*, challenge_id: uuid.UUID) -> bool:
    """Freezes the board once scoring has closed and records the achievements of those
    who reached the target. Idempotent."""
    challenge = Challenge.objects.select_for_update().filter(pk=challenge_id).first()
    now = timezone.now()
    if challenge is None or challenge.finalized_at is not None:
        return False
    if now <= challenge.scoring_closes_at:
        return False
    finishers = LeaderboardEntry.objects.filter(
        challenge=challenge, completed_at__isnull=False
    ).values_list("user_id", "completed_at")
    Achievement.objects.bulk_create(
        [
            Achievement(
                user_id=user_id,
                code=f"challenge_completed:{challenge.pk}",
                challenge=challenge,
                earned_at=completed_at,
            )
            for user_id, completed_at in finishers
        ],
        ignore_conflicts=True,
    )
    challenge.finalized_at = now
    challenge.save(update_fields=["finalized_at"])
    return True
