"""Celery tasks of the social app: take ids, load, call one service, idempotent."""

import uuid
from collections import defaultdict

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer
from django.utils import timezone

from fitness.ws import user_group
from social import services
from social.models import (
    Block,
    Challenge,
    GroupMembership,
    LeaderboardEntry,
    MemberStatus,
)
from social.selectors import TOP_ENTRIES, board_rows


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


def _send_all(events: list[tuple[uuid.UUID, str, dict]]) -> None:
    """Like fitness.ws.send_user_event for many users, entering the event loop once."""
    layer = get_channel_layer()
    if layer is None or not events:
        return

    async def send() -> None:
        for user_id, event_type, payload in events:
            await layer.group_send(
                user_group(user_id),
                {"type": "user.event", "event": {"type": event_type, **payload}},
            )

    async_to_sync(send)()


@shared_task
def broadcast_group_event(group_id: str, event_type: str, payload: dict) -> None:
    """Sends to the members active now: membership is read at send time."""
    _send_all([(user_id, event_type, payload) for user_id in _active_members(group_id)])


@shared_task
def refresh_leaderboard(challenge_id: str, after_close: bool = False) -> None:
    services.refresh_leaderboard(challenge_id=uuid.UUID(challenge_id), after_close=after_close)


@shared_task
def broadcast_leaderboard(challenge_id: str) -> None:
    """`challenge.leaderboard`: the top 10 and the receiver's own rank, to each member."""
    challenge = Challenge.objects.filter(pk=challenge_id).first()
    if challenge is None:
        return
    members = _active_members(str(challenge.group_id))
    top = list(
        LeaderboardEntry.objects.filter(challenge=challenge)
        .select_related("user")
        .only("user_id", "rank", "score", "completed_at", "user__display_name", "user__name")
        .order_by("rank")[:TOP_ENTRIES]
    )
    standings = {
        user_id: (rank, score)
        for user_id, rank, score in LeaderboardEntry.objects.filter(
            challenge=challenge
        ).values_list("user_id", "rank", "score")
    }
    hidden = _hidden_pairs(members)
    events = []
    for user_id in members:
        mine = standings.get(user_id)
        events.append(
            (
                user_id,
                "challenge.leaderboard",
                {
                    "group_id": str(challenge.group_id),
                    "challenge_id": str(challenge.pk),
                    "top": board_rows(top, challenge.target, hidden[user_id]),
                    "you": None if mine is None else {"rank": mine[0], "score": float(mine[1])},
                },
            )
        )
    _send_all(events)


@shared_task
def finalize_challenges() -> None:
    """Beat: freezes the boards whose grace period has passed, recording achievements."""
    due = Challenge.objects.filter(
        finalized_at__isnull=True, end_date__lt=timezone.now() - services.CHALLENGE_GRACE
    ).values_list("pk", flat=True)
    for challenge_id in due:
        services.finalize_challenge(challenge_id=challenge_id)
