import pytest
from pydantic import ValidationError

from ai_assistant.recognition.schemas import FoodAnalysis
from tests.ai_assistant.factories import analysis_payload, food_item


def test_food_analysis_accepts_complete_answer():
    result = FoodAnalysis.model_validate(analysis_payload())

    assert [item.name for item in result.item_breakdown.items] == ["Boiled egg", "Toast"]
    assert result.item_breakdown.totals.calories == 235


def test_food_analysis_totals_recomputed_from_items():
    payload = analysis_payload([food_item("Banana", 120, 105, 1.3, 27, 0.4)])
    payload["item_breakdown"]["totals"] = {"calories": 1, "protein": 2, "carbs": 3, "fat": 4}

    totals = FoodAnalysis.model_validate(payload).item_breakdown.totals

    assert totals.model_dump() == {"calories": 105, "protein": 1.3, "carbs": 27, "fat": 0.4}


@pytest.mark.parametrize(
    "breakage",
    [
        lambda p: p.pop("confidence"),
        lambda p: p["dietary_info"].pop("vegan"),
        lambda p: p.update(health_score=11),
        lambda p: p.update(confidence=1.5),
        lambda p: p.update(food_name=""),
        lambda p: p["item_breakdown"]["items"][0].update(grams=-1),
        lambda p: p["item_breakdown"]["items"][0].update(calories="a lot"),
        lambda p: p["item_breakdown"]["items"][0].pop("name"),
        lambda p: p.update(item_breakdown={"items": [food_item()] * 51, "totals": {}}),
    ],
    ids=[
        "no_confidence",
        "no_vegan_flag",
        "health_score_over_10",
        "confidence_over_1",
        "empty_name",
        "negative_grams",
        "calories_not_number",
        "item_without_name",
        "too_many_items",
    ],
)
def test_food_analysis_rejects_off_schema_answer(breakage):
    payload = analysis_payload()
    breakage(payload)

    with pytest.raises(ValidationError):
        FoodAnalysis.model_validate(payload)


def test_food_analysis_schema_requires_every_field():
    schema = FoodAnalysis.model_json_schema()

    assert set(schema["required"]) == set(schema["properties"])
    for definition in schema["$defs"].values():
        assert set(definition["required"]) == set(definition["properties"])
