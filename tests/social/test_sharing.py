"""shared_with accepts only accepted connections; recipients read, never write; a
connection that ends or a block ends the shares; group-linked workouts."""

import pytest

from food.models import FoodLog, FoodLogShare
from social.models import MemberStatus
from tests.asserts import assert_error
from tests.conftest import client_for
from tests.factories import UserFactory, connect
from tests.food.factories import FoodLogFactory
from tests.social.conftest import add, make_group
from tests.storage.factories import stored_file
from tests.workouts.factories import create_workout, workout_payload
from workouts.models import Workout, WorkoutShare

WORKOUTS = "/api/v1/workouts"
FOOD = "/api/v1/food/logs"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def owner(db):
    return UserFactory(display_name="Owner")


@pytest.fixture
def friend(owner):
    friend = UserFactory()
    connect(owner, friend)
    return friend


def test_workout_share_with_non_connection_is_400_naming_the_ids(owner, friend):
    stranger = UserFactory()
    pending = UserFactory()
    from social.models import Connection

    Connection.objects.create(requester=owner, addressee=pending, status="pending")
    payload = workout_payload(shared_with=[str(friend.pk), str(stranger.pk), str(pending.pk)])

    response = client_for(owner).post(WORKOUTS, payload, format="json")

    error = assert_error(response, 400, "validation_error")
    [message] = error["details"]["fields"]["shared_with"]
    assert str(stranger.pk) in message and str(pending.pk) in message
    assert str(friend.pk) not in message
    assert not Workout.objects.exists()


def test_food_share_with_non_connection_is_400_and_stores_nothing(owner, friend):
    stranger = UserFactory()
    payload = {"name": "Soup", "calories": 200, "shared_with": [str(stranger.pk)]}
    error = assert_error(
        client_for(owner).post(FOOD, payload, format="json"), 400, "validation_error"
    )
    assert str(stranger.pk) in error["details"]["fields"]["shared_with"][0]
    batch = {"items": [{"name": "Tea", "calories": 0, "shared_with": [str(friend.pk)]}, payload]}
    response = client_for(owner).post(f"{FOOD}/batch", batch, format="json")
    error = assert_error(response, 400, "validation_error")
    assert set(error["details"]["fields"]["items"]) == {"1"}
    assert not FoodLog.objects.exists()


def test_recipient_reads_shared_workout_with_owner_card_and_cannot_write(owner, friend):
    photo = stored_file(owner)
    workout = create_workout(owner, shared_with=[str(friend.pk)], progress_photos=[str(photo.pk)])
    client = client_for(friend)

    read = client.get(f"{WORKOUTS}/{workout.pk}")
    assert read.status_code == 200
    body = read.json()["workout"]
    assert body["owner"]["id"] == str(owner.pk)
    assert body["owner"]["display_name"] == "Owner"
    assert "email" not in body["owner"]
    assert body["shared_with"] == [str(friend.pk)]
    [url] = body["progress_photos"]
    served = client_for(friend).get(url, HTTP_ACCEPT="image/*")
    assert served.status_code == 200 and served.content

    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(
            f"{WORKOUTS}/{workout.pk}", {"name": "Mine now", "type": "cardio"}, format="json"
        )
        assert_error(response, 404, "not_found")
    assert_error(
        client.post(f"{WORKOUTS}/{workout.pk}/progress", {"duration": 5}, format="json"),
        404,
        "not_found",
    )
    workout.refresh_from_db()
    assert workout.name == "Push day" and workout.deleted_at is None
    own = client_for(owner).get(f"{WORKOUTS}/{workout.pk}").json()["workout"]
    assert own["owner"] is None


def test_include_shared_lists_shared_workouts_only_when_asked(owner, friend):
    shared = create_workout(owner, shared_with=[str(friend.pk)])
    create_workout(owner)
    mine = create_workout(friend)
    client = client_for(friend)

    plain = client.get(WORKOUTS).json()
    assert [item["id"] for item in plain["items"]] == [str(mine.pk)]
    both = client.get(WORKOUTS, {"include_shared": "true"}).json()
    assert {item["id"] for item in both["items"]} == {str(mine.pk), str(shared.pk)}
    outsider = client_for(UserFactory())
    assert outsider.get(WORKOUTS, {"include_shared": "true"}).json()["total"] == 0
    assert_error(outsider.get(f"{WORKOUTS}/{shared.pk}"), 404, "not_found")


def test_shared_food_log_photo_is_signed_for_the_recipient(owner, friend):
    photo = stored_file(owner)
    payload = {
        "name": "Salad",
        "calories": 300,
        "image_id": str(photo.pk),
        "shared_with": [str(friend.pk)],
    }
    log_id = client_for(owner).post(FOOD, payload, format="json").json()["id"]
    read = client_for(friend).get(f"{FOOD}/{log_id}")
    assert read.status_code == 200
    served = client_for(friend).get(read.json()["image_url"], HTTP_ACCEPT="image/*")
    assert served.status_code == 200 and served.content


@pytest.mark.parametrize("ending", ["remove", "block_by_owner", "block_by_friend"])
def test_ending_the_connection_ends_shares_both_ways(owner, friend, ending):
    workout = create_workout(owner, shared_with=[str(friend.pk)])
    theirs = create_workout(friend, shared_with=[str(owner.pk)])
    log = FoodLogFactory(owner=owner)
    FoodLogShare.objects.create(food_log=log, user=friend)
    before = Workout.objects.get(pk=workout.pk).updated_at

    if ending == "remove":
        connection_id = client_for(friend).get("/api/v1/users/connections").json()["items"][0]["id"]
        response = client_for(friend).delete(f"/api/v1/users/connections/{connection_id}")
        assert response.status_code == 204
    else:
        blocker, blocked = (owner, friend) if ending == "block_by_owner" else (friend, owner)
        response = client_for(blocker).post(
            "/api/v1/users/blocks", {"user_id": str(blocked.pk)}, format="json"
        )
        assert response.status_code == 201

    assert not WorkoutShare.objects.exists()
    assert not FoodLogShare.objects.exists()
    assert Workout.objects.get(pk=workout.pk).updated_at > before
    assert_error(client_for(friend).get(f"{WORKOUTS}/{workout.pk}"), 404, "not_found")
    assert_error(client_for(owner).get(f"{WORKOUTS}/{theirs.pk}"), 404, "not_found")
    assert_error(client_for(friend).get(f"{FOOD}/{log.pk}"), 404, "not_found")


def test_group_id_must_be_a_group_of_the_owner(owner):
    foreign = make_group(UserFactory())
    response = client_for(owner).post(
        WORKOUTS, workout_payload(group_id=str(foreign.pk)), format="json"
    )
    error = assert_error(response, 400, "validation_error")
    assert "group_id" in error["details"]["fields"]
    assert not Workout.objects.exists()
    mine = make_group(owner)
    ok = client_for(owner).post(WORKOUTS, workout_payload(group_id=str(mine.pk)), format="json")
    assert ok.status_code == 201 and ok.json()["workout"]["group_id"] == str(mine.pk)


def test_group_workout_visible_to_active_members_while_the_owner_is_one(owner):
    group = make_group(owner)
    member, invited = UserFactory(), UserFactory()
    add(group, member)
    add(group, invited, status=MemberStatus.INVITED)
    workout = create_workout(owner, group_id=str(group.pk))

    assert client_for(member).get(f"{WORKOUTS}/{workout.pk}").status_code == 200
    listed = client_for(member).get(WORKOUTS, {"include_shared": "true"}).json()
    assert [item["id"] for item in listed["items"]] == [str(workout.pk)]
    assert_error(client_for(invited).get(f"{WORKOUTS}/{workout.pk}"), 404, "not_found")
    assert_error(client_for(UserFactory()).get(f"{WORKOUTS}/{workout.pk}"), 404, "not_found")

    # A member's own workout stops being visible once they leave the group.
    theirs = create_workout(member, group_id=str(group.pk))
    assert client_for(owner).get(f"{WORKOUTS}/{theirs.pk}").status_code == 200
    client_for(member).delete(f"/api/v1/groups/{group.pk}/members/{member.pk}")
    assert_error(client_for(owner).get(f"{WORKOUTS}/{theirs.pk}"), 404, "not_found")
    assert_error(client_for(member).get(f"{WORKOUTS}/{workout.pk}"), 404, "not_found")


def test_deleting_the_group_unlinks_workouts_and_keeps_them(owner):
    group = make_group(owner)
    workout = create_workout(owner, group_id=str(group.pk))
    before = Workout.objects.get(pk=workout.pk).updated_at
    assert client_for(owner).delete(f"/api/v1/groups/{group.pk}").status_code == 204
    workout.refresh_from_db()
    assert workout.group_id is None and workout.deleted_at is None
    assert workout.updated_at > before
