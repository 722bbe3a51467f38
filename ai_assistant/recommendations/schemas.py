"""Suggestions as the API returns them, the model answers them and the rules compute them:
one shape for all three, so a client never knows (or cares) which produced them."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ai_assistant.recognition.schemas import Grams, Kcal
from ai_assistant.responses import AIResponse
from food.models import MealType
from workouts.models import WorkoutType

MAX_SUGGESTIONS = 5
Reason = Annotated[
    str, Field(min_length=1, max_length=300, description="Why this suits the user, briefly.")
]


class MealSuggestion(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    meal_type: MealType
    portion: str = Field(max_length=100, description="How much, e.g. '1.5 servings (350 g)'.")
    calories: Kcal
    protein: Grams
    carbs: Grams
    fat: Grams
    reason: Reason


class Weight(BaseModel):
    value: float = Field(ge=0, le=2500)
    unit: Literal["kg", "lb"]


class SuggestedExercise(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    sets: int = Field(ge=1, le=20)
    reps: int | None = Field(ge=1, le=200, description="Per set; null for timed work.")
    seconds: int | None = Field(ge=1, le=7200, description="Per set, for timed work.")
    weight: Weight | None = Field(description="In the user's measurement system.")


class WorkoutSuggestion(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    type: WorkoutType
    intensity: Literal["easy", "moderate", "hard"]
    duration_minutes: int = Field(ge=5, le=240)
    focus: list[str] = Field(max_length=6, description="Muscle groups or aims, e.g. 'legs'.")
    exercises: list[SuggestedExercise] = Field(max_length=12)
    reason: Reason


class MealSuggestions(BaseModel):
    """What the model is asked for."""

    suggestions: list[MealSuggestion] = Field(min_length=1, max_length=MAX_SUGGESTIONS)
    confidence: float = Field(ge=0, le=1, description="How well these fit the user, 0 to 1.")


class WorkoutSuggestions(BaseModel):
    """What the model is asked for."""

    suggestions: list[WorkoutSuggestion] = Field(min_length=1, max_length=MAX_SUGGESTIONS)
    confidence: float = Field(ge=0, le=1, description="How well these fit the user, 0 to 1.")


class FoodRecommendationsResponse(AIResponse[list[MealSuggestion]]):
    pass


class WorkoutRecommendationsResponse(AIResponse[list[WorkoutSuggestion]]):
    pass
