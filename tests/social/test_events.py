"""Live social events through real WebSocket clients, on two uvicorn processes sharing the
Redis channel layer, driven through the REST API over real HTTP."""

import asyncio
import json
import time
from contextlib import AsyncExitStack
from datetime import timedelta

import httpx
import pytest
from channels.db import database_sync_to_async
from django.utils import timezone
from websockets.asyncio.client import connect

from accounts import tokens
from social import services
from tests.factories import UserFactory
from tests.factories import connect as connect_users
from tests.frames import check_server_frame
from tests.servers import start_servers, stop_servers

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 15
STARTUP_TIMEOUT = 90


@pytest.fixture
def servers():
    """Two uvicorn processes on the test database, sharing the Redis channel layer."""
    processes, urls = start_servers(2)
    for url in urls:
        _wait_until_serving(url)
    yield urls
    stop_servers(processes)


_headers: dict = {}


def _wait_until_serving(url: str) -> None:
    # Starting Django takes seconds on a busy machine; the backlog holds clients meanwhile.
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            if httpx.get(f"http://{url}/healthz", timeout=STARTUP_TIMEOUT).status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def bearer(user) -> dict:
    """Issued in `cast` (issuing writes to the database, which async code may not do)."""
    return _headers[user.pk]


@database_sync_to_async
def cast():
    owner, member, friend = UserFactory(), UserFactory(), UserFactory()
    connect_users(owner, friend)
    group = services.create_group(
        owner=owner, name="Live", settings={"visibility": "public", "join_policy": "open"}
    )
    for user in (owner, member, friend):
        _headers[user.pk] = {"Authorization": f"Bearer {tokens.issue_pair(user)['access_token']}"}
    return owner, member, friend, group


class Socket:
    def __init__(self, websocket):
        self.websocket = websocket

    async def next(self) -> dict:
        """The next frame but `sync.changed`, which follows every social write too
        (tests/sync/test_groups.py checks who gets those)."""
        while True:
            frame = json.loads(await asyncio.wait_for(self.websocket.recv(), TIMEOUT))
            check_server_frame("/ws/events/", frame)
            if frame["type"] != "sync.changed":
                return frame

    async def next_of(self, event_type: str) -> dict:
        while True:
            frame = await self.next()
            if frame["type"] == event_type:
                return frame

    async def nothing_pending(self) -> None:
        """A ping answered by the very next frame proves nothing else was queued first."""
        await self.websocket.send(json.dumps({"type": "ping"}))
        assert (await self.next()) == {"type": "pong"}


async def open_socket(stack, url: str, user) -> Socket:
    websocket = await stack.enter_async_context(
        connect(f"ws://{url}/ws/events/", additional_headers=bearer(user), open_timeout=TIMEOUT)
    )
    socket_ = Socket(websocket)
    assert (await socket_.next())["type"] == "connected"
    return socket_


async def test_group_events_reach_members_on_both_processes_and_stop_on_removal(servers):
    owner, member, friend, group = await cast()
    first, second = servers
    async with AsyncExitStack() as stack, httpx.AsyncClient(timeout=TIMEOUT) as http:
        owner_socket = await open_socket(stack, first, owner)
        member_socket = await open_socket(stack, second, member)
        friend_socket = await open_socket(stack, first, friend)
        groups = f"http://{second}/api/v1/groups/{group.pk}"

        joined = await http.post(
            f"{groups}/members", json={"user_id": str(member.pk)}, headers=bearer(member)
        )
        assert joined.status_code == 201
        event = await owner_socket.next_of("group.member_joined")
        assert event["group_id"] == str(group.pk)
        assert event["member"]["user_id"] == str(member.pk)
        assert (await member_socket.next_of("group.member_joined"))["member"]["status"] == "active"

        now = timezone.now()
        challenge = await http.post(
            f"{groups}/challenges",
            json={
                "name": "Go",
                "type": "workout_count",
                "goals": {"target": 3},
                "start_date": (now - timedelta(days=1)).isoformat(),
                "end_date": (now + timedelta(days=30)).isoformat(),
            },
            headers=bearer(owner),
        )
        assert challenge.status_code == 201, challenge.text
        challenge_id = challenge.json()["id"]
        assert (await member_socket.next_of("challenge.created"))["challenge"]["id"] == challenge_id
        assert (await owner_socket.next_of("challenge.created"))["challenge"]["name"] == "Go"

        took_part = await http.post(
            f"{groups}/challenges/{challenge_id}/participants", headers=bearer(member)
        )
        assert took_part.status_code == 201
        board = await member_socket.next_of("challenge.leaderboard")
        assert board["challenge_id"] == challenge_id
        assert board["you"] == {"rank": 1, "score": 0.0}
        assert [row["user_id"] for row in board["top"]] == [str(member.pk)]
        owner_board = await owner_socket.next_of("challenge.leaderboard")
        assert owner_board["you"] is None and len(owner_board["top"]) == 1

        removed = await http.delete(f"{groups}/members/{member.pk}", headers=bearer(owner))
        assert removed.status_code == 204
        left = await owner_socket.next_of("group.member_left")
        assert left["user_id"] == str(member.pk)

        updated = await http.put(groups, json={"name": "Renamed"}, headers=bearer(owner))
        assert updated.status_code == 200
        assert (await owner_socket.next_of("group.updated"))["group"]["name"] == "Renamed"
        await owner_socket.nothing_pending()
        # Removed: nothing more from this group; never a member: nothing at all.
        await member_socket.nothing_pending()
        await friend_socket.nothing_pending()


async def test_connection_events_reach_both_users(servers):
    _, alice, bob, _ = await cast()
    first, second = servers
    async with AsyncExitStack() as stack, httpx.AsyncClient(timeout=TIMEOUT) as http:
        alice_socket = await open_socket(stack, first, alice)
        bob_socket = await open_socket(stack, second, bob)

        sent = await http.post(
            f"http://{first}/api/v1/users/connections",
            json={"user_id": str(bob.pk)},
            headers=bearer(alice),
        )
        assert sent.status_code == 201
        requested = await bob_socket.next_of("connection.requested")
        assert requested["connection"]["id"] == sent.json()["id"]
        assert requested["connection"]["status"] == "incoming"
        assert requested["connection"]["user"]["id"] == str(alice.pk)

        accepted = await http.post(
            f"http://{second}/api/v1/users/connections/{sent.json()['id']}/accept",
            headers=bearer(bob),
        )
        assert accepted.status_code == 200
        event = await alice_socket.next_of("connection.accepted")
        assert event["connection"]["status"] == "accepted"
        assert event["connection"]["user"]["id"] == str(bob.pk)
        await alice_socket.nothing_pending()
