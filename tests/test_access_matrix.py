"""Who may call what: every operation in the OpenAPI schema, for every role, in one table.

The operations are read from the generated schema, not listed by hand, so an endpoint added
without a row in MATRIX fails here (and a row left behind by a removed endpoint fails too).
One request per cell, each in its own test (wger's per-resource permission matrix, driven by
the schema instead of a hand-kept list of URLs).

Roles:
- anonymous: no credentials. 401 `not_authenticated`, except the few PUBLIC operations;
- owner: the user whose objects the path and body name. The operation's success status;
- other: another user sending the same request. Where the operation addresses one of the
  owner's objects (by path, or by id in the body) it must not reach it: 404 `not_found` on
  every verb of an object path;
- reader: a user the owner's object is shared with (where the resource has sharing): an
  accepted connection of the owner for food logs and workouts, the other side of a
  connection request, an active plain member of the owner's group. They read what is
  shared (200); a write meant for the owner or the group's admins answers 404 where the
  object is only lent to them, 403 `forbidden` where they see it by right (a member).

In the World the owner's group is private, so "other" is an outsider who may not see it:
404 on every verb, as for a group that does not exist.

Every cell that is not the owner's (or a public call's) success also proves that nothing in
the database changed and that no id of the owner's objects appears in the answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts import services, tokens
from accounts.models import DataExport
from ai_assistant.models import AIConversation, RecognitionJob
from migration.models import IdMap
from social.models import Block, Challenge, ChallengeParticipant, Connection, ConnectionStatus
from storage import signing
from tests.ai_assistant.factories import analysis_payload, form_check_payload
from tests.ai_assistant.gemini_standin import GeminiStandIn
from tests.asserts import assert_error
from tests.conftest import client_for
from tests.factories import DEFAULT_PASSWORD, UserFactory, connect
from tests.food.factories import FoodLogFactory, FoodLogShareFactory
from tests.social.conftest import add, make_group
from tests.storage.factories import jpeg_bytes, stored_file, upload
from tests.workouts.factories import create_workout, workout_payload

METHODS = ("get", "post", "put", "patch", "delete")
ROLES = ("anonymous", "owner", "other", "reader")
STRONG = "A-very-strong-passphrase-42"
GEMINI_KEY = "matrix-standin-key-0123456789"


def schema_operations() -> dict[str, dict]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        f"{method.upper()} {path}": operation
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method in METHODS
    }


class World:
    """The owner, the other user, the reader, and the owner's objects, built on first use
    (a cell builds only what its row names)."""

    def __init__(self) -> None:
        self.owner = UserFactory()
        self.other = UserFactory()
        self.reader = UserFactory()

    @cached_property
    def connection(self) -> Connection:
        """The owner and the reader, connected: whom the owner may share with."""
        return connect(self.owner, self.reader)

    @cached_property
    def request(self) -> Connection:
        """The reader asks the owner to connect (instead of `connection`: one per pair)."""
        return Connection.objects.create(
            requester=self.reader, addressee=self.owner, status=ConnectionStatus.PENDING
        )

    @cached_property
    def id_map(self) -> IdMap:
        """One of the owner's food logs as a migration importer recorded it."""
        return IdMap.objects.create(
            source_table="food_logs", old_id="legacy-log-1", new_id=self.log.pk, owner=self.owner
        )

    @cached_property
    def block(self) -> Block:
        return Block.objects.create(blocker=self.owner, blocked=UserFactory())

    @cached_property
    def group(self):
        """The owner's group, private and by invitation (the defaults); the reader is an
        active plain member."""
        group = make_group(self.owner)
        add(group, self.reader)
        return group

    @cached_property
    def fellow(self):
        """Another plain member: whom the admin-only member writes address."""
        fellow = UserFactory()
        add(self.group, fellow)
        return fellow

    @cached_property
    def invitee(self):
        """A connection of the owner who is not in the group yet."""
        invitee = UserFactory()
        connect(self.owner, invitee)
        return invitee

    @cached_property
    def challenge(self) -> Challenge:
        now = timezone.now()
        return Challenge.objects.create(
            group=self.group,
            created_by=self.owner,
            name="Ten workouts",
            type="workout_count",
            goals={"target": 10},
            start_date=now - timedelta(days=1),
            end_date=now + timedelta(days=6),
        )

    @cached_property
    def participation(self) -> ChallengeParticipant:
        return ChallengeParticipant.objects.create(challenge=self.challenge, user=self.owner)

    @cached_property
    def log(self):
        log = FoodLogFactory(owner=self.owner)
        FoodLogShareFactory(food_log=log, user=self.connection.addressee)
        return log

    @cached_property
    def workout(self):
        # Sharing is limited to the owner's connections: the reader is connected first.
        return create_workout(self.owner, shared_with=[str(self.connection.addressee_id)])

    @cached_property
    def file(self):
        return stored_file(self.owner)

    @cached_property
    def conversation(self):
        return AIConversation.objects.create(owner=self.owner)

    @cached_property
    def job(self):
        return RecognitionJob.objects.create(owner=self.owner, image=self.file)

    @cached_property
    def export(self) -> DataExport:
        return DataExport.objects.create(owner=self.owner)

    @cached_property
    def refresh_token(self) -> str:
        return tokens.issue_pair(self.owner)["refresh_token"]

    @cached_property
    def signed_token(self) -> str:
        url = signing.sign(file_id=self.file.pk, variant=None, key=self.file.key).url
        return url.rstrip("/").rsplit("/", 1)[-1]

    def reset_code(self) -> dict[str, str]:
        return {
            "email": self.owner.email,
            "code": services.issue_password_reset_code(user=self.owner),
        }

    def owned_ids(self) -> set[str]:
        """Ids of the owner and of every object built for them so far."""
        ids = {str(self.owner.pk)}
        for name in (
            "log",
            "workout",
            "file",
            "job",
            "connection",
            "request",
            "group",
            "challenge",
            "export",
        ):
            if name in self.__dict__:
                ids.add(str(self.__dict__[name].pk))
        if "block" in self.__dict__:  # whom the owner blocked (the block's own id is a number)
            ids.add(str(self.block.blocked_id))
        if "conversation" in self.__dict__:
            ids |= {str(self.conversation.pk), str(self.conversation.session_id)}
        return ids

    def client(self, role: str) -> APIClient:
        if role == "anonymous":
            return APIClient()
        return client_for(getattr(self, role))


Build = Callable[[World], Any]
Script = Callable[[GeminiStandIn], None]


def none(_: World) -> None:
    return None


@dataclass(frozen=True)
class Row:
    """One operation: how to address the owner's object, what to send, what each role gets.

    An expected status is an int, or (status, code) for an error other than the defaults
    (401 `not_authenticated`, 404 `not_found`); None where the role does not apply.
    """

    owner: int | tuple[int, str] | None
    anonymous: int | tuple[int, str] | None = 401
    other: int | tuple[int, str] | None = None
    reader: int | tuple[int, str] | None = None
    path: Callable[[World], dict[str, Any]] = lambda world: {}
    owns: Build = none  # what the owner has before the request, beyond what path and body name
    body: Build = none
    other_body: Build | None = None  # what other and reader send, when not the owner's body
    multipart: bool = False
    gemini: Script | None = None  # the model's answer to the owner's request
    query: str = ""  # a query string for a request that also has a body (sync's push)

    def expected(self, role: str):
        return getattr(self, role)


def log_id(world: World) -> dict:
    return {"log_id": world.log.pk}


def workout_id(world: World) -> dict:
    return {"workout_id": world.workout.pk}


def file_id(world: World) -> dict:
    return {"file_id": world.file.pk}


def session(world: World) -> dict:
    return {"session": world.conversation.session_id}


def connection_id(world: World) -> dict:
    return {"connection_id": world.connection.pk}


def group_id(world: World) -> dict:
    return {"group_id": world.group.pk}


def fellow_id(world: World) -> dict:
    return {"group_id": world.group.pk, "user_id": world.fellow.pk}


def challenge_id(world: World) -> dict:
    return {"group_id": world.group.pk, "challenge_id": world.challenge.pk}


def new_challenge(_: World) -> dict:
    now = timezone.now()
    return {
        "name": "Ten workouts",
        "type": "workout_count",
        "goals": {"target": 10},
        "start_date": (now - timedelta(days=1)).isoformat(),
        "end_date": (now + timedelta(days=6)).isoformat(),
    }


def analyses(gemini: GeminiStandIn, count: int) -> None:
    """A photo is analysed twice and the answers consolidated; a text once."""
    for _ in range(count):
        gemini.reply_json(analysis_payload())


NEW_LOG = {"name": "Oats", "calories": 300}
# Another user's file named in a body is an unknown id (as a food log's `image_id` is):
# 400, saying no more than for an id that does not exist.
UNKNOWN_FILE = (400, "validation_error")

# No credentials needed: signing up and in, resetting a password, probes, and signed file
# links (the token in the path is the credential). The schema and its docs are served
# outside the schema itself.
PUBLIC = {
    "POST /api/v1/auth/register",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/reset-password",
    "POST /api/v1/auth/reset-password/confirm",
    "POST /api/v1/auth/firebase",
    "GET /api/v1/storage/signed/{token}",
    "GET /healthz",
    "GET /readyz",
    "GET /api/v1/config",
}

MATRIX: dict[str, Row] = {
    # --- accounts ----------------------------------------------------------------------
    "POST /api/v1/auth/register": Row(
        owner=None,
        anonymous=201,
        body=lambda w: {"email": "newcomer@example.com", "password": STRONG, "name": "New"},
    ),
    "POST /api/v1/auth/login": Row(
        owner=None,
        anonymous=200,
        body=lambda w: {"email": w.owner.email, "password": DEFAULT_PASSWORD},
    ),
    "POST /api/v1/auth/refresh": Row(
        owner=None, anonymous=200, body=lambda w: {"refresh_token": w.refresh_token}
    ),
    "POST /api/v1/auth/reset-password": Row(
        owner=None, anonymous=202, body=lambda w: {"email": w.owner.email}
    ),
    "POST /api/v1/auth/reset-password/confirm": Row(
        owner=None, anonymous=204, body=lambda w: {**w.reset_code(), "new_password": STRONG}
    ),
    # Another user cannot end the owner's session with the owner's refresh token.
    "POST /api/v1/auth/logout": Row(
        owner=204,
        other=(401, "token_not_valid"),
        body=lambda w: {"refresh_token": w.refresh_token},
    ),
    "GET /api/v1/auth/me": Row(owner=200),
    "GET /api/v1/users/profile": Row(owner=200),
    "PUT /api/v1/users/profile": Row(owner=200, body=lambda w: {"name": "Renamed"}),
    "PATCH /api/v1/users/settings": Row(owner=200, body=lambda w: {"theme_mode": "light"}),
    "POST /api/v1/users/preferences": Row(owner=200, body=lambda w: {"favourite": "oats"}),
    "GET /api/v1/users/stats": Row(owner=200),
    # Always the caller's own account: no one else's can be named. (A wrong password is
    # refused, and counted towards the login lockout: tests/accounts/
    # test_api_account_deletion.py.)
    "DELETE /api/v1/users/me": Row(owner=204, body=lambda w: {"password": DEFAULT_PASSWORD}),
    # Always the caller's own export (one at a time); another's id is 404.
    "POST /api/v1/users/me/export": Row(owner=202),
    "GET /api/v1/users/me/export/{export_id}": Row(
        owner=200, other=404, path=lambda w: {"export_id": w.export.pk}
    ),
    # --- food --------------------------------------------------------------------------
    "GET /api/v1/food/logs": Row(owner=200, other=200, owns=lambda w: w.log),
    "POST /api/v1/food/logs": Row(
        owner=201,
        other=(409, "id_conflict"),
        body=lambda w: NEW_LOG,
        other_body=lambda w: {**NEW_LOG, "id": str(w.log.pk)},
    ),
    "GET /api/v1/food/logs/{log_id}": Row(owner=200, other=404, reader=200, path=log_id),
    "PUT /api/v1/food/logs/{log_id}": Row(
        owner=200, other=404, reader=404, path=log_id, body=lambda w: NEW_LOG
    ),
    "PATCH /api/v1/food/logs/{log_id}": Row(
        owner=200, other=404, reader=404, path=log_id, body=lambda w: {"name": "Porridge"}
    ),
    "DELETE /api/v1/food/logs/{log_id}": Row(owner=204, other=404, reader=404, path=log_id),
    "POST /api/v1/food/logs/batch": Row(
        owner=201,
        other=(409, "id_conflict"),
        body=lambda w: {"items": [NEW_LOG]},
        other_body=lambda w: {"items": [{**NEW_LOG, "id": str(w.log.pk)}]},
    ),
    # Ids that are not the caller's are skipped: 200, and the owner's logs stay.
    "DELETE /api/v1/food/logs/batch": Row(
        owner=200, other=200, reader=200, body=lambda w: {"ids": [str(w.log.pk)]}
    ),
    "GET /api/v1/food/stats": Row(owner=200, other=200, owns=lambda w: w.log),
    "POST /api/v1/food/analyze": Row(
        owner=200,
        other=UNKNOWN_FILE,
        body=lambda w: {"file_id": str(w.file.pk)},
        gemini=lambda g: analyses(g, 2),
    ),
    # --- workouts (shared with the reader, a connection of the owner: read-only for them;
    # the progress history stays the owner's) ---------------------------------------------
    "GET /api/v1/workouts": Row(
        owner=200,
        other=200,
        reader=200,
        owns=lambda w: w.workout,
        body=lambda w: {"include_shared": "true"},
    ),
    "POST /api/v1/workouts": Row(
        owner=201,
        other=(409, "id_conflict"),
        body=lambda w: workout_payload(),
        other_body=lambda w: workout_payload(id=str(w.workout.pk)),
    ),
    "GET /api/v1/workouts/{workout_id}": Row(owner=200, other=404, reader=200, path=workout_id),
    "PUT /api/v1/workouts/{workout_id}": Row(
        owner=200, other=404, reader=404, path=workout_id, body=lambda w: workout_payload()
    ),
    "PATCH /api/v1/workouts/{workout_id}": Row(
        owner=200, other=404, reader=404, path=workout_id, body=lambda w: {"name": "Leg day"}
    ),
    "DELETE /api/v1/workouts/{workout_id}": Row(owner=204, other=404, reader=404, path=workout_id),
    "GET /api/v1/workouts/{workout_id}/progress": Row(
        owner=200, other=404, reader=404, path=workout_id
    ),
    "POST /api/v1/workouts/{workout_id}/progress": Row(
        owner=201, other=404, reader=404, path=workout_id, body=lambda w: {"exercises": [0]}
    ),
    "GET /api/v1/workouts/stats": Row(owner=200, other=200, owns=lambda w: w.workout),
    "POST /api/v1/workouts/form-check": Row(
        owner=200,
        other=UNKNOWN_FILE,
        body=lambda w: {"exercise": "back squat", "file_id": [str(w.file.pk)]},
        gemini=lambda g: g.reply_json(form_check_payload()),
    ),
    # --- storage -----------------------------------------------------------------------
    "POST /api/v1/storage/upload": Row(
        owner=201,
        other=(409, "id_conflict"),
        multipart=True,
        body=lambda w: {"file": upload(jpeg_bytes())},
        other_body=lambda w: {"file": upload(jpeg_bytes()), "id": str(w.file.pk)},
    ),
    "POST /api/v1/storage/batch-upload": Row(
        owner=201, multipart=True, body=lambda w: {"files": [upload(jpeg_bytes())]}
    ),
    "GET /api/v1/storage/files": Row(owner=200, other=200, owns=lambda w: w.file),
    "GET /api/v1/storage/{file_id}": Row(owner=200, other=404, path=file_id),
    "DELETE /api/v1/storage/{file_id}": Row(owner=204, other=404, path=file_id),
    "GET /api/v1/storage/{file_id}/url": Row(owner=200, other=404, path=file_id),
    "DELETE /api/v1/storage/batch": Row(
        owner=200, other=200, body=lambda w: {"ids": [str(w.file.pk)]}
    ),
    "GET /api/v1/storage/signed/{token}": Row(
        owner=None, anonymous=200, path=lambda w: {"token": w.signed_token}
    ),
    # --- AI ----------------------------------------------------------------------------
    "POST /api/v1/ai/chat/start": Row(owner=201, body=lambda w: {"context": {"screen": "food"}}),
    "GET /api/v1/ai/chat/{session}/history": Row(owner=200, other=404, path=session),
    "POST /api/v1/ai/chat/{session}/msg": Row(
        owner=200,
        other=404,
        path=session,
        body=lambda w: {"message": "How am I doing?"},
        gemini=lambda g: g.stream(["On track."]),
    ),
    "DELETE /api/v1/ai/chat/{session}": Row(owner=204, other=404, path=session),
    "POST /api/v1/ai/food/analyze-text": Row(
        owner=200,
        body=lambda w: {"text": "two boiled eggs"},
        gemini=lambda g: analyses(g, 1),
    ),
    # Accepted as a job; the model is called by the task, after commit.
    "POST /api/v1/ai/food/recognize": Row(
        owner=202,
        other=UNKNOWN_FILE,
        body=lambda w: {"file_id": str(w.file.pk)},
        gemini=lambda g: None,
    ),
    "GET /api/v1/ai/jobs/{job_id}": Row(owner=200, other=404, path=lambda w: {"job_id": w.job.pk}),
    # Without a model configured these answer from the rules, for the caller alone.
    "GET /api/v1/ai/recommendations/food": Row(owner=200, other=200, owns=lambda w: w.log),
    "GET /api/v1/ai/recommendations/workout": Row(owner=200, other=200, owns=lambda w: w.workout),
    # --- connections and blocks (the reader is the other side of the owner's connection
    # or request; a third user's search or unblock reaches nothing of the owner's) --------
    "GET /api/v1/users/connections": Row(
        owner=200, other=200, reader=200, owns=lambda w: w.connection
    ),
    "POST /api/v1/users/connections": Row(owner=201, body=lambda w: {"user_id": str(w.reader.pk)}),
    # Only the one asked accepts: the requester is refused, a stranger does not see it.
    "POST /api/v1/users/connections/{connection_id}/accept": Row(
        owner=200,
        other=404,
        reader=(403, "forbidden"),
        path=lambda w: {"connection_id": w.request.pk},
    ),
    "DELETE /api/v1/users/connections/{connection_id}": Row(
        owner=204, other=404, path=connection_id
    ),
    "POST /api/v1/users/invite-code": Row(owner=200),
    # Unknown and undiscoverable addresses answer alike.
    "POST /api/v1/auth/firebase": Row(
        # The bridge is off unless FIREBASE_PROJECT_ID is set: every token is refused.
        owner=None,
        anonymous=(401, "token_not_valid"),
        body=lambda w: {"id_token": "not-a-firebase-token"},
    ),
    # --- migration ---------------------------------------------------------------------
    # Another user asking for the owner's old ids gets an empty answer, never the mapping.
    "GET /api/v1/migration/ids": Row(
        owner=200,
        other=200,
        owns=lambda w: w.id_map,
        body=lambda w: {"table": "food_logs", "ids": "legacy-log-1"},
    ),
    # --- analytics: the caller's own events, nobody else's to address -----------------
    "POST /api/v1/analytics/events": Row(
        owner=202,
        body=lambda w: {
            "events": [
                {
                    "id": str(uuid.uuid4()),
                    "name": "screen_viewed",
                    "timestamp": timezone.now().isoformat(),
                }
            ]
        },
    ),
    "GET /api/v1/users/search": Row(
        owner=200,
        other=404,
        body=lambda w: {"email": w.reader.email},
        other_body=lambda w: {"email": "nobody@example.com"},
    ),
    "GET /api/v1/users/blocks": Row(owner=200, other=200, owns=lambda w: w.block),
    "POST /api/v1/users/blocks": Row(owner=201, body=lambda w: {"user_id": str(w.other.pk)}),
    # Only the blocker lifts a block.
    "DELETE /api/v1/users/blocks/{user_id}": Row(
        owner=204, other=404, path=lambda w: {"user_id": w.block.blocked_id}
    ),
    # --- groups (the owner's group is private: an outsider gets 404 on every verb; the
    # reader, a plain member, reads it and is refused what needs an admin or the owner) --
    "GET /api/v1/groups": Row(owner=200, other=200, reader=200, owns=lambda w: w.group),
    "POST /api/v1/groups": Row(owner=201, body=lambda w: {"name": "Walkers"}),
    "GET /api/v1/groups/{group_id}": Row(owner=200, other=404, reader=200, path=group_id),
    "PUT /api/v1/groups/{group_id}": Row(
        owner=200,
        other=404,
        reader=(403, "forbidden"),
        path=group_id,
        body=lambda w: {"name": "Walkers"},
    ),
    "DELETE /api/v1/groups/{group_id}": Row(
        owner=204, other=404, reader=(403, "forbidden"), path=group_id
    ),
    "GET /api/v1/groups/{group_id}/members": Row(owner=200, other=404, reader=200, path=group_id),
    # members_can_invite is off by default: only admins invite.
    "POST /api/v1/groups/{group_id}/members": Row(
        owner=201,
        other=404,
        reader=(403, "forbidden"),
        path=group_id,
        body=lambda w: {"user_id": str(w.invitee.pk)},
    ),
    "PATCH /api/v1/groups/{group_id}/members/{user_id}": Row(
        owner=200,
        other=404,
        reader=(403, "forbidden"),
        path=fellow_id,
        body=lambda w: {"role": "admin"},
    ),
    "DELETE /api/v1/groups/{group_id}/members/{user_id}": Row(
        owner=204, other=404, reader=(403, "forbidden"), path=fellow_id
    ),
    "GET /api/v1/groups/{group_id}/challenges": Row(
        owner=200, other=404, reader=200, path=group_id, owns=lambda w: w.challenge
    ),
    "POST /api/v1/groups/{group_id}/challenges": Row(
        owner=201, other=404, reader=(403, "forbidden"), path=group_id, body=new_challenge
    ),
    "GET /api/v1/groups/{group_id}/challenges/{challenge_id}": Row(
        owner=200, other=404, reader=200, path=challenge_id
    ),
    "PUT /api/v1/groups/{group_id}/challenges/{challenge_id}": Row(
        owner=200,
        other=404,
        reader=(403, "forbidden"),
        path=challenge_id,
        body=lambda w: {"name": "Twelve workouts"},
    ),
    # Any active member joins (the reader's join would succeed, a write this table does
    # not follow); leaving ends only the caller's own place: the owner's stays.
    "POST /api/v1/groups/{group_id}/challenges/{challenge_id}/participants": Row(
        owner=201, other=404, path=challenge_id
    ),
    "DELETE /api/v1/groups/{group_id}/challenges/{challenge_id}/participants": Row(
        owner=204, other=404, reader=404, path=challenge_id, owns=lambda w: w.participation
    ),
    # --- remote config: the same for everyone here (no flag names a user) ---------------
    "GET /api/v1/config": Row(owner=200, anonymous=200, other=200),
    # --- probes ------------------------------------------------------------------------
    # --- sync: everyone pulls their own rows (the reader also what is shared with them);
    # a push naming the owner's ids is refused record by record and changes nothing ----------
    "GET /api/v1/sync": Row(
        owner=200, other=200, reader=200, owns=lambda w: (w.log, w.workout, w.file)
    ),
    "POST /api/v1/sync": Row(
        owner=200,
        other=200,
        reader=200,
        query="?last_pulled_at=1",
        body=lambda w: {"food_logs": {"created": [NEW_LOG | {"id": str(uuid.uuid4())}]}},
        other_body=lambda w: {
            "food_logs": {
                "updated": [{**NEW_LOG, "id": str(w.log.pk)}],
                "deleted": [str(w.log.pk)],
            },
            "workouts": {"deleted": [str(w.workout.pk)]},
        },
    ),
    "GET /healthz": Row(owner=None, anonymous=200),
    "GET /readyz": Row(owner=None, anonymous=200),
}

OPERATIONS = schema_operations()


def _cells():
    for key in sorted(OPERATIONS):
        row = MATRIX.get(key)
        if row is None:
            yield pytest.param(key, "owner", id=f"{key} [no row]")
            continue
        for role in ROLES:
            if row.expected(role) is not None:
                yield pytest.param(key, role, id=f"{key} [{role}]")


def _database() -> dict[str, list[dict]]:
    """Every row of every table an API request can write (Django's own admin, permission,
    content-type and session tables aside), as plain values: what "nothing changed" is
    checked on."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.managed
        and not model._meta.proxy
        and not model._meta.app_config.name.startswith("django.")
    }


def _request(world: World, key: str, row: Row, role: str) -> tuple[str, str, Any]:
    """(method, path, body) of the role's request; builds the objects they name."""
    method, template = key.split(" ", 1)
    row.owns(world)
    builder = row.other_body if role in ("other", "reader") and row.other_body else row.body
    return method.lower(), template.format(**row.path(world)) + row.query, builder(world)


@pytest.fixture
def gemini_for(settings):
    """The Gemini stand-in, configured only for rows that name a model answer."""
    started: list[GeminiStandIn] = []

    def configure(row: Row) -> GeminiStandIn | None:
        settings.GEMINI_API_KEY = ""
        settings.GEMINI_BASE_URL = ""
        if row.gemini is None:
            return None
        standin = GeminiStandIn(api_key=GEMINI_KEY).start()
        started.append(standin)
        settings.GEMINI_API_KEY = GEMINI_KEY
        settings.GEMINI_BASE_URL = standin.url
        settings.AI_SERVICE = {
            **settings.AI_SERVICE,
            "RETRY": {"max_attempts": 1, "backoff_seconds": 0.01, "max_backoff_seconds": 0.01},
        }
        return standin

    yield configure
    for standin in started:
        standin.stop()


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "role"), list(_cells()))
def test_operation_answers_each_role_as_the_matrix_says(key, role, settings, tmp_path, gemini_for):
    row = MATRIX.get(key)
    if row is None:
        pytest.fail(
            f"{key} is in the OpenAPI schema but not in MATRIX: add a row to "
            "tests/test_access_matrix.py saying what anonymous, the owner, another user "
            "and (if it shares) a reader get."
        )
    settings.MEDIA_ROOT = str(tmp_path / "media")
    expected = row.expected(role)
    status, code = expected if isinstance(expected, tuple) else (expected, None)
    world = World()
    standin = gemini_for(row)
    if standin is not None and role == "owner":
        row.gemini(standin)
    method, path, body = _request(world, key, row, role)
    client = world.client(role)  # signing in writes a token row: before the snapshot
    succeeding = role == "owner" or (role == "anonymous" and key in PUBLIC)
    before = None if succeeding else _database()

    call = getattr(client, method)
    if body is None:
        response = call(path)
    else:
        response = call(path, body, format="multipart" if row.multipart else "json")

    if code is None and status == 401:
        code = "not_authenticated"
    if code is None and status == 404:
        code = "not_found"
    if code is not None:
        assert_error(response, status, code)
    else:
        assert response.status_code == status, (role, key, response.content[:500])
    if standin is not None:
        assert standin.unscripted == 0, "a request reached the model that no cell scripted"
        if role != "owner":
            assert standin.requests == [], f"{role}'s refused request reached the model"
    if before is None:
        return
    assert _database() == before, f"{role}'s {key} changed the database"
    sent = f"{path} {body}"
    content = b"".join(response.streaming_content) if response.streaming else response.content
    leaked = {
        owned
        for owned in world.owned_ids()
        if owned not in sent and owned in content.decode(errors="replace")
    }
    if role != "reader":
        assert not leaked, f"{role} was shown the owner's ids {leaked}"


def test_matrix_has_no_row_for_an_operation_gone_from_the_schema():
    stale = sorted(set(MATRIX) - set(OPERATIONS))
    assert not stale, f"MATRIX rows for operations no longer in the schema: {stale}; remove them"


def test_public_operations_are_the_ones_the_schema_leaves_unsecured():
    # `{}` among the schemes: credentials are optional (GET /config answers anyone).
    unsecured = {
        key for key, op in OPERATIONS.items() if not op.get("security") or {} in op["security"]
    }
    open_rows = {key for key, row in MATRIX.items() if row.anonymous != 401}
    assert unsecured == PUBLIC
    assert open_rows == PUBLIC


def test_every_operation_addressing_an_object_by_path_is_checked_for_another_user():
    unchecked = sorted(
        key for key, row in MATRIX.items() if "{" in key and key not in PUBLIC and row.other is None
    )
    assert not unchecked, f"object paths without an 'other' cell: {unchecked}"
