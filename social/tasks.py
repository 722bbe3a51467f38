"""Celery tasks of the social app: take ids, load, call one service, idempotent."""

import uuid
from collections import defaultdict

from celery import shared_task
from django.utils import timezone

from fitness.ws import send_user_event
from social import services
from social.models import (
    Block,
    Challenge,
    GroupMembership,
    LeaderboardEntry,
    MemberStatus,
)
from social.selectors import HIDDEN_CARD, TOP_ENTRIES, user_card


def _active_members(group_id: str) -> list[uuid.UUID]:
    return list(
        GroupMembership.objects.filter(
            group_id=group_id, status=MemberStatus.ACTIVE, group__hidden=False
        ).values_list("user_id", flat=True)
    )


def _hidden_pairs(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, set[uuid.UUID]]:
    hidden: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    pairs = Block.objects.filter(blocker_id__in=user_ids, blocked_id__in=user_ids).values_list(
        "blocker_id", "blocked_id"
    )
    for blocker, blocked in pairs:
        hidden[blocker].add(blocked)
        hidden[blocked].add(blocker)
    return hidden


@shared_task
def broadcast_group_event(group_id: str, event_type: str, payload: dict) -> None:
    """Sends to the members active now: membership is read at send time."""
    for user_id in _active_members(group_id):
        send_user_event(user_id, event_type, payload)


@shared_task
def refresh_leaderboard(challenge_id: str) -> None:
    services.refresh_leaderboard(challenge_id=uuid.UUID(challenge_id))


def _entry(entry: LeaderboardEntry, target: float, hidden: set[uuid.UUID]) -> dict:
    concealed = entry.user_id in hidden
    return {
        "rank": entry.rank,
        "user_id": None if concealed else str(entry.user_id),
        "display_name": HIDDEN_CARD["display_name"]
        if concealed
        else user_card(entry.user)["display_name"],
        "hidden": concealed,
        "score": float(entry.score),
        "progress": min(1.0, float(entry.score) / target) if target > 0 else 0.0,
        "completed_at": entry.completed_at.isoformat() if entry.completed_at else None,
    }


@shared_task
def broadcast_leaderboard(challenge_id: str) -> None:
    """`challenge.leaderboard`: the top 10 and the receiver's own rank, to each member."""
    challenge = Challenge.objects.filter(pk=challenge_id).first()
    if challenge is None:
        return
    members = _active_members(str(challenge.group_id))
    entries = list(
        LeaderboardEntry.objects.filter(challenge=challenge).select_related("user").order_by("rank")
    )
    by_user = {entry.user_id: entry for entry in entries}
    hidden = _hidden_pairs(members)
    for user_id in members:
        mine = by_user.get(user_id)
        send_user_event(
            user_id,
            "challenge.leaderboard",
            {
                "group_id": str(challenge.group_id),
                "challenge_id": str(challenge.pk),
                "top": [
                    _entry(entry, challenge.target, hidden[user_id])
                    for entry in entries[:TOP_ENTRIES]
                ],
                "you": {"rank": mine.rank, "score": float(mine.score)} if mine else None,
            },
        )


@shared_task
def finalize_challenges() -> None:
    """Beat: freezes the boards whose grace period has passed, recording achievements."""
    due = Challenge.objects.filter(
        finalized_at__isnull=True, end_date__lt=timezone.now() - services.CHALLENGE_GRACE
    ).values_list("pk", flat=True)
    for challenge_id in due:
        services.finalize_challenge(challenge_id=challenge_id)
