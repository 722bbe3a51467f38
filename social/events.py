"""Live events of the social app on `/ws/events/`, sent after commit.

Group events fan out per user (`user.<id>` groups, fitness.ws) to the members who are
active when the event is sent, not when it was queued: a removed member gets nothing
more from the moment the removal commits.
"""

import uuid

from django.db import transaction

from social.models import Challenge, Connection, Group, GroupMembership


def _group_event(group_id: uuid.UUID, event_type: str, payload: dict) -> None:
    from social.tasks import broadcast_group_event

    broadcast_group_event.delay_on_commit(str(group_id), event_type, payload)


def _user_event(user_id: uuid.UUID, event_type: str, payload: dict) -> None:
    from fitness.ws import send_user_event

    transaction.on_commit(lambda: send_user_event(user_id, event_type, payload))


def member_payload(membership: GroupMembership) -> dict:
    from social.selectors import user_card

    return {
        "user_id": str(membership.user_id),
        "role": membership.role,
        "status": membership.status,
        "joined_at": membership.joined_at.isoformat() if membership.joined_at else None,
        "user": user_card(membership.user),
    }


def group_payload(group: Group) -> dict:
    return {
        "id": str(group.pk),
        "name": group.name,
        "description": group.description,
        "settings": group.settings,
        "updated_at": group.updated_at.isoformat() if group.updated_at else None,
    }


def connection_payload(connection: Connection, viewer_id: uuid.UUID) -> dict:
    from social.selectors import connection_status_for, user_card

    other = connection.addressee if connection.requester_id == viewer_id else connection.requester
    return {
        "id": str(connection.pk),
        "status": connection_status_for(connection, viewer_id),
        "user": user_card(other),
        "created_at": connection.created_at.isoformat(),
    }


def member_joined(membership: GroupMembership) -> None:
    _group_event(
        membership.group_id,
        "group.member_joined",
        {"group_id": str(membership.group_id), "member": member_payload(membership)},
    )


def member_invited(membership: GroupMembership) -> None:
    group = membership.group
    _user_event(
        membership.user_id,
        "group.invited",
        {"group_id": str(group.pk), "group": group_payload(group)},
    )


def member_left(group: Group, user_id: uuid.UUID) -> None:
    _group_event(
        group.pk, "group.member_left", {"group_id": str(group.pk), "user_id": str(user_id)}
    )


def group_updated(group: Group) -> None:
    _group_event(
        group.pk, "group.updated", {"group_id": str(group.pk), "group": group_payload(group)}
    )


def challenge_created(challenge: Challenge) -> None:
    _group_event(
        challenge.group_id,
        "challenge.created",
        {
            "group_id": str(challenge.group_id),
            "challenge": {
                "id": str(challenge.pk),
                "name": challenge.name,
                "description": challenge.description,
                "type": challenge.type,
                "goals": challenge.goals,
                "timezone": challenge.timezone,
                "start_date": challenge.start_date.isoformat(),
                "end_date": challenge.end_date.isoformat(),
            },
        },
    )


def leaderboard_changed(challenge: Challenge) -> None:
    from social.tasks import broadcast_leaderboard

    broadcast_leaderboard.delay_on_commit(str(challenge.pk))


def connection_requested(connection: Connection) -> None:
    _user_event(
        connection.addressee_id,
        "connection.requested",
        {"connection": connection_payload(connection, connection.addressee_id)},
    )


def connection_accepted(connection: Connection) -> None:
    for user_id in (connection.requester_id, connection.addressee_id):
        _user_event(
            user_id,
            "connection.accepted",
            {"connection": connection_payload(connection, user_id)},
        )
