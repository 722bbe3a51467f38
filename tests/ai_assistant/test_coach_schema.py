"""The coach's endpoints in the OpenAPI schema (3.0: optional fields are `nullable`), while
the JSON Schema asked of the model keeps JSON Schema's own null type."""

import pytest

from ai_assistant.recommendations.schemas import WorkoutSuggestions

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client):
    return api_client.get("/api/schema/?format=json").json()


def test_schema_lists_coach_endpoints(schema):
    paths = schema["paths"]

    assert set(paths["/api/v1/ai/chat/start"]) == {"post"}
    assert set(paths["/api/v1/ai/chat/{session}/msg"]) == {"post"}
    assert set(paths["/api/v1/ai/chat/{session}/history"]) == {"get"}
    assert set(paths["/api/v1/ai/chat/{session}"]) == {"delete"}
    message = paths["/api/v1/ai/chat/{session}/msg"]["post"]["responses"]
    assert message["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ChatReplyResponse"
    }
    assert {"404", "429", "502", "503", "504"} <= set(message)
    food = paths["/api/v1/ai/recommendations/food"]["get"]["responses"]["200"]
    assert food["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FoodRecommendationsResponse"
    }


def test_schema_marks_optional_fields_nullable_the_openapi_30_way(schema):
    components = schema["components"]["schemas"]

    tokens = components["ChatMessage"]["properties"]["prompt_tokens"]
    assert (tokens["type"], tokens["nullable"]) == ("integer", True)
    weight = components["SuggestedExercise"]["properties"]["weight"]
    assert weight["allOf"] == [{"$ref": "#/components/schemas/Weight"}]
    assert weight["nullable"] is True


def test_model_still_asked_for_json_schema_null():
    exercise = WorkoutSuggestions.model_json_schema()["$defs"]["SuggestedExercise"]

    assert {"type": "null"} in exercise["properties"]["reps"]["anyOf"]
