import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from food.models import FoodLog, FoodLogShare
from tests.asserts import assert_error
from tests.conftest import client_for
from tests.factories import UserFactory, connect
from tests.food.factories import FoodLogFactory, FoodLogShareFactory, FoodLogTagFactory

pytestmark = pytest.mark.django_db

LOGS = "/api/v1/food/logs"

PLAN_FIELDS = {
    "id",
    "user_id",
    "name",
    "calories",
    "protein",
    "carbs",
    "fat",
    "fiber",
    "sugar",
    "timestamp",
    "meal_type",
    "tags",
    "image_id",
    "image_url",
    "ai_analysis",
    "metadata",
    "shared_with",
    "created_at",
    "updated_at",
}


def detail(log_id) -> str:
    return f"{LOGS}/{log_id}"


def full_payload(**overrides) -> dict:
    payload = {
        "name": "Oatmeal",
        "calories": 350,
        "protein": 12.5,
        "carbs": 60,
        "fat": 7.25,
        "fiber": 8,
        "sugar": 4,
        "timestamp": "2026-11-20T08:15:00Z",
        "meal_type": "breakfast",
        "tags": ["home", "vegan"],
        "image_url": "https://cdn.example.com/oats.jpg",
        "ai_analysis": {"confidence": 0.9},
        "metadata": {"source": "manual"},
    }
    return {**payload, **overrides}


# --- create -------------------------------------------------------------------------------


def test_create_log_returns_201_with_plan_fields(auth_client, user):
    response = auth_client.post(LOGS, full_payload(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == PLAN_FIELDS
    assert body["user_id"] == str(user.pk)
    assert body["name"] == "Oatmeal"
    assert body["calories"] == 350
    assert body["protein"] == 12.5
    assert body["fat"] == 7.25
    assert body["fiber"] == 8
    assert body["timestamp"] == "2026-11-20T08:15:00Z"
    assert body["meal_type"] == "breakfast"
    assert body["tags"] == ["home", "vegan"]
    assert body["image_url"] == "https://cdn.example.com/oats.jpg"
    assert body["ai_analysis"] == {"confidence": 0.9}
    assert body["metadata"] == {"source": "manual"}
    assert body["shared_with"] == []
    assert response["ETag"]
    assert FoodLog.objects.get(pk=body["id"]).owner == user


def test_create_log_fills_defaults_when_only_name_and_calories(auth_client):
    before = timezone.now()
    response = auth_client.post(LOGS, {"name": "Apple", "calories": 95}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["protein"] == 0 and body["carbs"] == 0 and body["fat"] == 0
    assert body["fiber"] is None and body["sugar"] is None
    assert body["meal_type"] is None
    assert body["tags"] == [] and body["shared_with"] == []
    assert body["image_url"] is None and body["ai_analysis"] is None
    assert body["metadata"] == {}
    assert datetime.fromisoformat(body["timestamp"]) >= before


def test_create_log_rounds_grams_to_hundredths(auth_client):
    response = auth_client.post(
        LOGS, {"name": "Nuts", "calories": 200, "fat": 17.456}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["fat"] == 17.46


def test_create_log_reads_naive_timestamp_in_users_zone(auth_client, user):
    user.timezone = "Asia/Tokyo"
    user.save()

    response = auth_client.post(
        LOGS, {"name": "Ramen", "calories": 600, "timestamp": "2026-11-20T12:00:00"}, format="json"
    )

    assert response.json()["timestamp"] == "2026-11-20T03:00:00Z"


def test_create_log_keeps_tag_order_without_duplicates(auth_client):
    response = auth_client.post(
        LOGS, {"name": "Tea", "calories": 0, "tags": ["b", "a", "b"]}, format="json"
    )

    assert response.json()["tags"] == ["b", "a"]


def test_create_log_with_same_client_id_twice_returns_200_and_stores_once(auth_client):
    log_id = str(uuid.uuid4())
    first = auth_client.post(LOGS, full_payload(id=log_id), format="json")
    retry = auth_client.post(LOGS, full_payload(id=log_id, name="Changed"), format="json")

    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.json() == first.json()
    assert retry["ETag"] == first["ETag"]
    assert FoodLog.objects.filter(pk=log_id).count() == 1
    assert FoodLog.objects.get(pk=log_id).name == "Oatmeal"


def test_create_log_answers_409_when_id_belongs_to_another_user(auth_client, other_user):
    foreign = FoodLogFactory(owner=other_user, name="Secret")

    response = auth_client.post(LOGS, full_payload(id=str(foreign.pk)), format="json")

    error = assert_error(response, 409, "id_conflict")
    assert error["details"] == {}
    assert "Secret" not in response.content.decode()
    assert FoodLog.objects.get(pk=foreign.pk).owner == other_user
    assert FoodLog.objects.count() == 1


def test_create_log_answers_410_when_own_id_was_deleted(auth_client, user):
    tombstone = FoodLogFactory(owner=user, deleted_at=timezone.now())

    response = auth_client.post(LOGS, full_payload(id=str(tombstone.pk)), format="json")

    assert_error(response, 410, "id_deleted")
    tombstone.refresh_from_db()
    assert tombstone.is_deleted
    assert FoodLog.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"calories": 100}, "name"),
        ({"name": "x"}, "calories"),
        ({"name": "", "calories": 1}, "name"),
        ({"name": "x" * 256, "calories": 1}, "name"),
        ({"name": "x", "calories": -1}, "calories"),
        ({"name": "x", "calories": 12.5}, "calories"),
        ({"name": "x", "calories": 50_001}, "calories"),
        ({"name": "x", "calories": 1, "protein": -0.5}, "protein"),
        ({"name": "x", "calories": 1, "fiber": 10_001}, "fiber"),
        ({"name": "x", "calories": 1, "sugar": "1e40"}, "sugar"),
        ({"name": "x", "calories": 1, "carbs": "NaN"}, "carbs"),
        ({"name": "x", "calories": 1, "meal_type": "brunch"}, "meal_type"),
        ({"name": "x", "calories": 1, "tags": ["x" * 51]}, "tags"),
        ({"name": "x", "calories": 1, "tags": [str(n) for n in range(21)]}, "tags"),
        ({"name": "x", "calories": 1, "tags": "vegan"}, "tags"),
        ({"name": "x", "calories": 1, "image_url": "ftp://example.com/a.jpg"}, "image_url"),
        ({"name": "x", "calories": 1, "image_url": "not a url"}, "image_url"),
        ({"name": "x", "calories": 1, "metadata": ["a"]}, "metadata"),
        ({"name": "x", "calories": 1, "metadata": {"a": "x" * 40_000}}, "metadata"),
        ({"name": "x", "calories": 1, "ai_analysis": "good"}, "ai_analysis"),
        ({"name": "x", "calories": 1, "timestamp": "yesterday"}, "timestamp"),
        ({"name": "x", "calories": 1, "id": "not-a-uuid"}, "id"),
        ({"name": "x", "calories": 1, "shared_with": ["nope"]}, "shared_with"),
        ({"name": "x", "calories": 1, "colour": "red"}, "colour"),
    ],
)
def test_create_log_answers_400_and_stores_nothing_when_invalid(auth_client, payload, field):
    response = auth_client.post(LOGS, payload, format="json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["details"]["fields"]
    assert FoodLog.objects.count() == 0


def test_create_log_answers_400_when_timestamp_is_days_ahead(auth_client):
    ahead = (timezone.now() + timedelta(days=2)).isoformat()

    response = auth_client.post(
        LOGS, {"name": "x", "calories": 1, "timestamp": ahead}, format="json"
    )

    error = assert_error(response, 400, "validation_error")
    assert "timestamp" in error["details"]["fields"]


def test_create_log_shares_with_known_users(auth_client, user, other_user):
    connect(user, other_user)
    response = auth_client.post(
        LOGS, {"name": "Pizza", "calories": 800, "shared_with": [str(other_user.pk)]}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["shared_with"] == [str(other_user.pk)]
    assert FoodLogShare.objects.filter(user=other_user).count() == 1


@pytest.mark.parametrize("reader", ["unknown", "self", "inactive"])
def test_create_log_answers_400_when_sharing_with_unknown_user_or_self(auth_client, user, reader):
    reader_id = {
        "unknown": uuid.uuid4(),
        "self": user.pk,
        "inactive": UserFactory(is_active=False).pk,
    }[reader]

    response = auth_client.post(
        LOGS, {"name": "Pizza", "calories": 800, "shared_with": [str(reader_id)]}, format="json"
    )

    error = assert_error(response, 400, "validation_error")
    assert "shared_with" in error["details"]["fields"]
    assert FoodLog.objects.count() == 0


def test_create_log_ignores_read_only_fields_sent_back(auth_client, user, other_user):
    payload = full_payload(user_id=str(other_user.pk), created_at="2020-01-01T00:00:00Z")

    response = auth_client.post(LOGS, payload, format="json")

    assert response.status_code == 201
    assert response.json()["user_id"] == str(user.pk)


def test_food_endpoints_answer_401_without_token(api_client):
    log_id = uuid.uuid4()
    for method, url in [
        ("get", LOGS),
        ("post", LOGS),
        ("get", detail(log_id)),
        ("patch", detail(log_id)),
        ("put", detail(log_id)),
        ("delete", detail(log_id)),
        ("post", f"{LOGS}/batch"),
        ("delete", f"{LOGS}/batch"),
        ("get", "/api/v1/food/stats"),
    ]:
        response = getattr(api_client, method)(url, {}, format="json")
        assert_error(response, 401, "not_authenticated")


# --- list ---------------------------------------------------------------------------------


def test_list_logs_returns_own_live_logs_newest_first(auth_client, user, other_user):
    now = timezone.now()
    older = FoodLogFactory(owner=user, timestamp=now - timedelta(hours=2))
    newer = FoodLogFactory(owner=user, timestamp=now - timedelta(hours=1))
    FoodLogFactory(owner=user, deleted_at=now)
    FoodLogFactory(owner=other_user)

    response = auth_client.get(LOGS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "page", "hasMore"}
    assert [item["id"] for item in body["items"]] == [str(newer.pk), str(older.pk)]
    assert body["total"] == 2 and body["page"] == 1 and body["hasMore"] is False
    assert set(body["items"][0]) == PLAN_FIELDS


def test_list_logs_pages_with_page_size(auth_client, user):
    FoodLogFactory.create_batch(5, owner=user)

    first = auth_client.get(LOGS, {"page_size": 2}).json()
    last = auth_client.get(LOGS, {"page_size": 2, "page": 3}).json()

    assert len(first["items"]) == 2 and first["total"] == 5 and first["hasMore"] is True
    assert len(last["items"]) == 1 and last["hasMore"] is False


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": 101},
        {"page": 0},
        {"from": "yesterday"},
        {"from": "2026-11-02", "to": "2026-11-01"},
        {"meal_type": "brunch"},
        {"include_shared": "maybe"},
        {"q": "x" * 101},
    ],
)
def test_list_logs_answers_400_when_parameters_invalid(auth_client, params):
    response = auth_client.get(LOGS, params)

    assert_error(response, 400, "validation_error")


def test_list_logs_filters_by_meal_type_tag_and_name(auth_client, user):
    porridge = FoodLogFactory(owner=user, name="Porridge with berries", meal_type="breakfast")
    FoodLogTagFactory(food_log=porridge, name="vegan")
    salad = FoodLogFactory(owner=user, name="Green salad", meal_type="lunch")
    FoodLogTagFactory(food_log=salad, name="vegan")
    FoodLogTagFactory(food_log=salad, name="quick")

    def ids(params):
        return {item["id"] for item in auth_client.get(LOGS, params).json()["items"]}

    assert ids({"meal_type": "breakfast"}) == {str(porridge.pk)}
    assert ids({"tag": "vegan"}) == {str(porridge.pk), str(salad.pk)}
    assert ids({"tag": "quick"}) == {str(salad.pk)}
    assert ids({"q": "BERRIES"}) == {str(porridge.pk)}
    assert ids({"tag": "vegan", "meal_type": "lunch"}) == {str(salad.pk)}


def test_list_logs_date_bounds_are_whole_days_in_users_zone(auth_client, user):
    user.timezone = "America/New_York"
    user.save()
    # 2026-11-20 in New York (UTC-5) runs from 05:00Z on the 20th to 05:00Z on the 21st.
    late_evening = FoodLogFactory(owner=user, timestamp=datetime(2026, 11, 21, 4, 30, tzinfo=UTC))
    FoodLogFactory(owner=user, timestamp=datetime(2026, 11, 21, 5, 30, tzinfo=UTC))
    FoodLogFactory(owner=user, timestamp=datetime(2026, 11, 20, 4, 59, tzinfo=UTC))

    body = auth_client.get(LOGS, {"from": "2026-11-20", "to": "2026-11-20"}).json()

    assert [item["id"] for item in body["items"]] == [str(late_evening.pk)]


def test_list_logs_accepts_datetime_bounds(auth_client, user):
    inside = FoodLogFactory(owner=user, timestamp=datetime(2026, 11, 20, 12, tzinfo=UTC))
    FoodLogFactory(owner=user, timestamp=datetime(2026, 11, 20, 14, tzinfo=UTC))

    body = auth_client.get(
        LOGS, {"from": "2026-11-20T11:00:00Z", "to": "2026-11-20T13:00:00Z"}
    ).json()

    assert [item["id"] for item in body["items"]] == [str(inside.pk)]


def test_list_logs_include_shared_adds_logs_shared_with_caller(auth_client, user, other_user):
    own = FoodLogFactory(owner=user)
    shared = FoodLogFactory(owner=other_user)
    FoodLogShareFactory(food_log=shared, user=user)
    third = UserFactory()
    FoodLogShareFactory(food_log=shared, user=third)
    deleted_share = FoodLogFactory(owner=other_user, deleted_at=timezone.now())
    FoodLogShareFactory(food_log=deleted_share, user=user)
    FoodLogFactory(owner=other_user)

    plain = auth_client.get(LOGS).json()
    with_shared = auth_client.get(LOGS, {"include_shared": "true"}).json()

    assert [item["id"] for item in plain["items"]] == [str(own.pk)]
    assert {item["id"] for item in with_shared["items"]} == {str(own.pk), str(shared.pk)}
    assert with_shared["total"] == 2
    shared_item = next(item for item in with_shared["items"] if item["id"] == str(shared.pk))
    assert shared_item["user_id"] == str(other_user.pk)
    # A reader sees only themselves among the readers.
    assert shared_item["shared_with"] == [str(user.pk)]


def test_list_logs_owner_sees_every_reader_once(auth_client, user, other_user):
    log = FoodLogFactory(owner=user)
    third = UserFactory()
    FoodLogShareFactory(food_log=log, user=other_user)
    FoodLogShareFactory(food_log=log, user=third)

    body = auth_client.get(LOGS, {"include_shared": "true"}).json()

    assert body["total"] == 1
    assert set(body["items"][0]["shared_with"]) == {str(other_user.pk), str(third.pk)}


@pytest.mark.parametrize("page_size", [5, 100])
def test_list_logs_uses_fixed_number_of_queries(
    auth_client, user, other_user, page_size, django_assert_max_num_queries
):
    for log in FoodLogFactory.create_batch(page_size, owner=user):
        FoodLogTagFactory(food_log=log)
        FoodLogShareFactory(food_log=log, user=other_user)

    with django_assert_max_num_queries(5):
        response = auth_client.get(LOGS, {"page_size": page_size, "include_shared": "true"})

    assert len(response.json()["items"]) == page_size


# --- detail ---------------------------------------------------------------------------------


def test_get_log_returns_it_with_etag(auth_client, user):
    log = FoodLogFactory(owner=user)

    response = auth_client.get(detail(log.pk))

    assert response.status_code == 200
    assert response.json()["id"] == str(log.pk)
    assert response["ETag"].startswith('"')


def test_get_log_answers_404_for_deleted_or_unknown(auth_client, user):
    deleted = FoodLogFactory(owner=user, deleted_at=timezone.now())

    assert_error(auth_client.get(detail(deleted.pk)), 404, "not_found")
    assert_error(auth_client.get(detail(uuid.uuid4())), 404, "not_found")
    assert_error(auth_client.get(f"{LOGS}/not-a-uuid"), 404, "not_found")


def test_get_log_shared_with_caller_is_readable(auth_client, user, other_user):
    log = FoodLogFactory(owner=other_user)
    FoodLogShareFactory(food_log=log, user=user)

    response = auth_client.get(detail(log.pk))

    assert response.status_code == 200
    assert response.json()["user_id"] == str(other_user.pk)


def test_every_verb_answers_404_for_another_users_log(auth_client, other_user):
    log = FoodLogFactory(owner=other_user, name="Theirs", calories=500)

    responses = [
        auth_client.get(detail(log.pk)),
        auth_client.put(detail(log.pk), full_payload(), format="json"),
        auth_client.patch(detail(log.pk), {"name": "Mine"}, format="json"),
        auth_client.delete(detail(log.pk)),
    ]

    for response in responses:
        assert_error(response, 404, "not_found")
        assert "Theirs" not in response.content.decode()
    log.refresh_from_db()
    assert (log.name, log.calories, log.deleted_at) == ("Theirs", 500, None)


def test_reader_cannot_change_or_delete_a_shared_log(auth_client, user, other_user):
    log = FoodLogFactory(owner=other_user, name="Theirs")
    FoodLogShareFactory(food_log=log, user=user)

    assert_error(auth_client.patch(detail(log.pk), {"name": "x"}, format="json"), 404, "not_found")
    assert_error(auth_client.put(detail(log.pk), full_payload(), format="json"), 404, "not_found")
    assert_error(auth_client.delete(detail(log.pk)), 404, "not_found")
    log.refresh_from_db()
    assert log.name == "Theirs" and log.deleted_at is None


def test_put_replaces_fields_and_keeps_timestamp_when_left_out(auth_client, user):
    log = FoodLogFactory(owner=user, meal_type="dinner", fiber=5)
    FoodLogTagFactory(food_log=log, name="old")
    original_timestamp = log.timestamp

    response = auth_client.put(detail(log.pk), {"name": "Soup", "calories": 150}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Soup" and body["calories"] == 150
    assert body["protein"] == 0 and body["fiber"] is None and body["meal_type"] is None
    assert body["tags"] == []
    log.refresh_from_db()
    assert log.timestamp == original_timestamp


def test_put_answers_400_and_changes_nothing_without_required_fields(auth_client, user):
    log = FoodLogFactory(owner=user, name="Keep")

    response = auth_client.put(detail(log.pk), {"name": "Soup"}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert "calories" in error["details"]["fields"]
    log.refresh_from_db()
    assert log.name == "Keep"


def test_patch_changes_only_given_fields(auth_client, user, other_user):
    connect(user, other_user)
    log = FoodLogFactory(owner=user, name="Toast", calories=200, meal_type="breakfast")
    FoodLogTagFactory(food_log=log, name="bread")

    response = auth_client.patch(
        detail(log.pk),
        {"calories": 250, "tags": ["wholegrain"], "shared_with": [str(other_user.pk)]},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Toast" and body["meal_type"] == "breakfast"
    assert body["calories"] == 250
    assert body["tags"] == ["wholegrain"]
    assert body["shared_with"] == [str(other_user.pk)]


def test_patch_shared_with_replaces_readers(auth_client, user, other_user):
    connect(user, other_user)
    log = FoodLogFactory(owner=user)
    kept = FoodLogShareFactory(food_log=log, user=other_user)
    dropped = FoodLogShareFactory(food_log=log)

    response = auth_client.patch(
        detail(log.pk), {"shared_with": [str(other_user.pk)]}, format="json"
    )

    assert response.json()["shared_with"] == [str(other_user.pk)]
    assert FoodLogShare.objects.filter(pk=kept.pk).exists()
    assert not FoodLogShare.objects.filter(pk=dropped.pk).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"calories": -5},
        {"name": ""},
        {"shared_with": [str(uuid.UUID(int=7))]},
        {"id": str(uuid.UUID(int=8))},
        {"unknown": 1},
    ],
)
def test_patch_answers_400_and_changes_nothing_when_invalid(auth_client, user, payload):
    log = FoodLogFactory(owner=user, name="Keep", calories=10)
    FoodLogTagFactory(food_log=log, name="kept")
    etag = auth_client.get(detail(log.pk))["ETag"]

    response = auth_client.patch(detail(log.pk), {**payload, "tags": ["new"]}, format="json")

    assert_error(response, 400, "validation_error")
    after = auth_client.get(detail(log.pk))
    assert after["ETag"] == etag
    assert after.json()["tags"] == ["kept"]


def test_patch_with_current_if_match_succeeds_and_changes_etag(auth_client, user):
    log = FoodLogFactory(owner=user)
    etag = auth_client.get(detail(log.pk))["ETag"]

    response = auth_client.patch(
        detail(log.pk), {"name": "Renamed"}, format="json", HTTP_IF_MATCH=etag
    )

    assert response.status_code == 200
    assert response["ETag"] != etag
    assert auth_client.get(detail(log.pk))["ETag"] == response["ETag"]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_with_stale_if_match_answers_412_and_changes_nothing(auth_client, user, method):
    log = FoodLogFactory(owner=user, name="Original")
    stale = auth_client.get(detail(log.pk))["ETag"]
    newer = auth_client.patch(detail(log.pk), {"name": "Edited elsewhere"}, format="json")

    response = getattr(auth_client, method)(
        detail(log.pk), full_payload(name="Offline edit"), format="json", HTTP_IF_MATCH=stale
    )

    error = assert_error(response, 412, "precondition_failed")
    assert error["details"]["current_etag"] == newer["ETag"]
    log.refresh_from_db()
    assert log.name == "Edited elsewhere" and log.deleted_at is None


def test_delete_log_leaves_tombstone_and_hides_it(auth_client, user):
    log = FoodLogFactory(owner=user)

    response = auth_client.delete(detail(log.pk))

    assert response.status_code == 204
    log.refresh_from_db()
    assert log.deleted_at is not None
    assert_error(auth_client.get(detail(log.pk)), 404, "not_found")
    assert auth_client.get(LOGS).json()["total"] == 0
    assert_error(auth_client.patch(detail(log.pk), {"name": "x"}, format="json"), 404, "not_found")


def test_delete_log_twice_answers_204_again(auth_client, user):
    log = FoodLogFactory(owner=user)
    auth_client.delete(detail(log.pk))
    log.refresh_from_db()
    deleted_at = log.deleted_at

    response = auth_client.delete(detail(log.pk))

    assert response.status_code == 204
    log.refresh_from_db()
    assert log.deleted_at == deleted_at


def test_shared_log_disappears_for_reader_when_owner_deletes_it(user, other_user):
    log = FoodLogFactory(owner=other_user)
    FoodLogShareFactory(food_log=log, user=user)

    client_for(other_user).delete(detail(log.pk))

    reader = client_for(user)
    assert_error(reader.get(detail(log.pk)), 404, "not_found")
    assert reader.get(LOGS, {"include_shared": "true"}).json()["total"] == 0
