import pytest

from social.models import Block, Connection, ConnectionStatus
from tests.asserts import assert_error
from tests.conftest import client_for
from tests.factories import UserFactory, connect

URL = "/api/v1/users/connections"


@pytest.fixture
def alice(db):
    return UserFactory(display_name="Alice")


@pytest.fixture
def bob(db):
    return UserFactory(display_name="Bob")


def test_request_by_user_id_is_pending_until_the_addressee_accepts(alice, bob):
    sent = client_for(alice).post(URL, {"user_id": str(bob.pk)}, format="json")

    assert sent.status_code == 201
    body = sent.json()
    assert body["status"] == "outgoing"
    assert body["user"] == {
        "id": str(bob.pk),
        "display_name": "Bob",
        "avatar": None,
        "hidden": False,
    }
    assert "email" not in str(body)
    incoming = client_for(bob).get(URL, {"status": "incoming"}).json()
    assert [item["id"] for item in incoming["items"]] == [body["id"]]
    assert client_for(alice).get(URL, {"status": "accepted"}).json()["total"] == 0

    accepted = client_for(bob).post(f"{URL}/{body['id']}/accept")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["user"]["id"] == str(alice.pk)
    assert client_for(alice).get(URL, {"status": "accepted"}).json()["total"] == 1


def test_requester_cannot_accept_their_own_request(alice, bob):
    connection = Connection.objects.create(
        requester=alice, addressee=bob, status=ConnectionStatus.PENDING
    )
    response = client_for(alice).post(f"{URL}/{connection.pk}/accept")
    assert_error(response, 403, "forbidden")
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.PENDING


def test_outsider_gets_404_for_someone_elses_connection(alice, bob):
    connection = Connection.objects.create(
        requester=alice, addressee=bob, status=ConnectionStatus.PENDING
    )
    outsider = client_for(UserFactory())
    assert_error(outsider.post(f"{URL}/{connection.pk}/accept"), 404, "not_found")
    assert_error(outsider.delete(f"{URL}/{connection.pk}"), 404, "not_found")
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_request_back_accepts_the_pending_one_at_once(alice, bob):
    first = client_for(alice).post(URL, {"user_id": str(bob.pk)}, format="json").json()
    back = client_for(bob).post(URL, {"user_id": str(alice.pk)}, format="json")

    assert back.status_code == 200
    assert back.json()["id"] == first["id"]
    assert back.json()["status"] == "accepted"
    assert Connection.objects.count() == 1


def test_request_twice_returns_the_same_connection(alice, bob):
    first = client_for(alice).post(URL, {"user_id": str(bob.pk)}, format="json").json()
    again = client_for(alice).post(URL, {"user_id": str(bob.pk)}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]


def test_pair_is_unique_whatever_the_direction(alice, bob):
    from django.db import IntegrityError, transaction

    Connection.objects.create(requester=alice, addressee=bob, status=ConnectionStatus.PENDING)
    with pytest.raises(IntegrityError), transaction.atomic():
        Connection.objects.create(requester=bob, addressee=alice, status=ConnectionStatus.PENDING)


def test_request_by_invite_code_and_rotating_the_code(alice, bob):
    old_code = bob.invite_code
    sent = client_for(alice).post(URL, {"invite_code": old_code.lower()}, format="json")
    assert sent.status_code == 201
    assert sent.json()["user"]["id"] == str(bob.pk)

    rotated = client_for(bob).post("/api/v1/users/invite-code")
    assert rotated.status_code == 200
    new_code = rotated.json()["invite_code"]
    assert new_code != old_code
    assert client_for(bob).get("/api/v1/users/profile").json()["profile"]["invite_code"] == (
        new_code
    )
    carol = client_for(UserFactory())
    assert_error(carol.post(URL, {"invite_code": old_code}, format="json"), 404, "not_found")


@pytest.mark.parametrize(
    "payload",
    [{}, {"user_id": "nope"}, {"user_id": None}, {"invite_code": "X", "user_id": None}, {"x": 1}],
)
def test_request_with_bad_body_is_400(alice, payload):
    response = client_for(alice).post(URL, payload, format="json")
    assert_error(response, 400, "validation_error")
    assert Connection.objects.count() == 0


def test_request_to_self_or_unknown_user_is_404(alice):
    client = client_for(alice)
    assert_error(client.post(URL, {"user_id": str(alice.pk)}, format="json"), 404, "not_found")
    unknown = "00000000-0000-0000-0000-000000000001"
    assert_error(client.post(URL, {"user_id": unknown}, format="json"), 404, "not_found")


def test_either_side_removes_and_list_filters(alice, bob):
    connection = connect(alice, bob)
    assert client_for(bob).get(URL).json()["items"][0]["status"] == "accepted"
    assert_error(client_for(bob).get(URL, {"status": "bogus"}), 400, "validation_error")
    response = client_for(bob).delete(f"{URL}/{connection.pk}")
    assert response.status_code == 204
    assert not Connection.objects.exists()


def test_connections_count_in_stats_and_profile(alice, bob):
    connect(alice, bob)
    Connection.objects.create(
        requester=alice, addressee=UserFactory(), status=ConnectionStatus.PENDING
    )
    assert client_for(alice).get("/api/v1/users/stats").json()["connections_count"] == 1
    profile = client_for(bob).get("/api/v1/users/profile").json()
    assert profile["stats"]["connections_count"] == 1


def test_search_finds_one_exact_discoverable_address(alice, bob):
    client = client_for(alice)
    found = client.get("/api/v1/users/search", {"email": bob.email.upper()})
    assert found.status_code == 200
    assert found.json()["id"] == str(bob.pk)
    assert "email" not in found.json()

    partial = client.get("/api/v1/users/search", {"email": "user@example.com"})
    assert_error(partial, 404, "not_found")
    assert_error(client.get("/api/v1/users/search"), 400, "validation_error")


def test_undiscoverable_and_unknown_look_the_same(alice, bob):
    bob.privacy_settings = {"discoverable": False}
    bob.save()
    client = client_for(alice)
    hidden = client.get("/api/v1/users/search", {"email": bob.email})
    unknown = client.get("/api/v1/users/search", {"email": "nobody@example.com"})
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == unknown.json()


def test_discoverable_is_a_privacy_setting(alice, bob):
    response = client_for(bob).patch(
        "/api/v1/users/settings", {"privacy_settings": {"discoverable": False}}, format="json"
    )
    assert response.status_code == 200
    assert_error(
        client_for(alice).get("/api/v1/users/search", {"email": bob.email}), 404, "not_found"
    )


def test_search_is_rate_limited_per_user(alice, bob, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user_search": "3/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    client = client_for(alice)
    for _ in range(3):
        assert client.get("/api/v1/users/search", {"email": "x@example.com"}).status_code == 404
    limited = client.get("/api/v1/users/search", {"email": bob.email})
    error = assert_error(limited, 429, "rate_limited")
    assert int(limited["Retry-After"]) >= 1
    assert error["details"]["retry_after"] >= 1
    # Another user has their own budget.
    other = client_for(bob).get("/api/v1/users/search", {"email": alice.email})
    assert other.status_code == 200


def test_block_removes_connection_and_hides_both_ways(alice, bob):
    connect(alice, bob)
    response = client_for(alice).post("/api/v1/users/blocks", {"user_id": str(bob.pk)}, "json")
    assert response.status_code == 201
    assert response.json()["user"]["id"] == str(bob.pk)
    assert not Connection.objects.exists()

    assert_error(
        client_for(bob).get("/api/v1/users/search", {"email": alice.email}), 404, "not_found"
    )
    assert_error(
        client_for(bob).post(URL, {"user_id": str(alice.pk)}, format="json"), 404, "not_found"
    )
    assert_error(
        client_for(bob).post(URL, {"invite_code": alice.invite_code}, format="json"),
        404,
        "not_found",
    )
    assert_error(
        client_for(alice).post(URL, {"user_id": str(bob.pk)}, format="json"), 409, "user_blocked"
    )
    assert client_for(alice).get("/api/v1/users/blocks").json()["total"] == 1
    assert client_for(bob).get("/api/v1/users/blocks").json()["total"] == 0


def test_unblock(alice, bob):
    Block.objects.create(blocker=alice, blocked=bob)
    assert_error(client_for(bob).delete(f"/api/v1/users/blocks/{alice.pk}"), 404, "not_found")
    assert client_for(alice).delete(f"/api/v1/users/blocks/{bob.pk}").status_code == 204
    assert not Block.objects.exists()
    assert client_for(bob).post(URL, {"user_id": str(alice.pk)}, format="json").status_code == 201


def test_block_again_is_200_and_self_block_404(alice, bob):
    client = client_for(alice)
    assert client.post("/api/v1/users/blocks", {"user_id": str(bob.pk)}, "json").status_code == 201
    assert client.post("/api/v1/users/blocks", {"user_id": str(bob.pk)}, "json").status_code == 200
    assert_error(
        client.post("/api/v1/users/blocks", {"user_id": str(alice.pk)}, "json"), 404, "not_found"
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", URL),
        ("post", URL),
        ("post", f"{URL}/00000000-0000-0000-0000-000000000001/accept"),
        ("delete", f"{URL}/00000000-0000-0000-0000-000000000001"),
        ("post", "/api/v1/users/invite-code"),
        ("get", "/api/v1/users/search"),
        ("get", "/api/v1/users/blocks"),
        ("post", "/api/v1/users/blocks"),
        ("delete", "/api/v1/users/blocks/00000000-0000-0000-0000-000000000001"),
    ],
)
def test_anonymous_gets_401(api_client, db, method, path):
    assert_error(getattr(api_client, method)(path), 401, "not_authenticated")
