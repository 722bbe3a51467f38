"""The coach's recommendations: meals for the rest of the day, the next workouts."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from ai_assistant.recommendations import service as recommendations
from ai_assistant.recommendations.schemas import (
    FoodRecommendationsResponse,
    WorkoutRecommendationsResponse,
)


class FoodRecommendationsView(APIView):
    @extend_schema(
        tags=["ai"],
        summary="Meals that fit what is left of today's goals",
        responses={200: FoodRecommendationsResponse},
        description="Respects `preferences.dietary_restrictions` (vegan, vegetarian, "
        "pescatarian, gluten_free, dairy_free, nut_free) and `preferences.allergies`. From "
        "the model when one is configured (cached for the day until a log or workout "
        "changes: `source: cache`), otherwise or when it fails from rules over the user's "
        "own goals and logs (`source: rules`), as also while the `ai_recommendations` switch "
        "is off. Never fails for want of a model.",
    )
    def get(self, request):
        return Response(recommendations.recommend_food(user=request.user).model_dump(mode="json"))


class WorkoutRecommendationsView(APIView):
    @extend_schema(
        tags=["ai"],
        summary="The next workouts, from recent training",
        responses={200: WorkoutRecommendationsResponse},
        description="Balances workout types and muscle groups over the last 7 days, puts "
        "rest after hard days and progresses from personal records. Sources and caching as "
        "for food recommendations.",
    )
    def get(self, request):
        response = recommendations.recommend_workouts(user=request.user)
        return Response(response.model_dump(mode="json"))
