"""Answers a model could give: FoodAnalysis payloads as JSON-ready dicts."""

from typing import Any

from ai_assistant.recognition.schemas import FoodAnalysis


def food_item(
    name: str = "Boiled egg",
    grams: float = 100,
    calories: float = 155,
    protein: float = 13,
    carbs: float = 1.1,
    fat: float = 11,
) -> dict[str, Any]:
    return {
        "name": name,
        "grams": grams,
        "calories": calories,
        "protein": protein,
        "carbs": carbs,
        "fat": fat,
    }


def analysis_payload(items: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    items = [food_item(), food_item("Toast", 30, 80, 2.7, 15, 1)] if items is None else items
    payload = {
        "food_name": "Eggs on toast",
        "description": "Two boiled eggs with a slice of toast.",
        "item_breakdown": {
            "items": items,
            "totals": {
                key: round(sum(item[key] for item in items), 1)
                for key in ("calories", "protein", "carbs", "fat")
            },
        },
        "health_score": 7,
        "dietary_info": {
            "vegetarian": True,
            "vegan": False,
            "gluten_free": False,
            "dairy_free": True,
            "allergens": ["egg", "gluten"],
            "notes": "High in protein.",
        },
        "confidence": 0.9,
    }
    payload.update(overrides)
    return payload


def analysis(items: list[dict[str, Any]] | None = None, **overrides: Any) -> FoodAnalysis:
    return FoodAnalysis.model_validate(analysis_payload(items, **overrides))


def form_check_payload(**overrides: Any) -> dict[str, Any]:
    """A FormCheckAnswer as the model gives it (with its confidence)."""
    payload = {
        "exercise": "Back squat",
        "score": 6.5,
        "issues": [
            {
                "severity": "high",
                "description": "Knees cave inward at the bottom.",
                "cue": "Push your knees out over your toes.",
            },
            {
                "severity": "low",
                "description": "Gaze drifts upward.",
                "cue": "Keep a neutral neck.",
            },
        ],
        "summary": "Good depth; work on knee tracking first.",
        "confidence": 0.7,
    }
    payload.update(overrides)
    return payload
