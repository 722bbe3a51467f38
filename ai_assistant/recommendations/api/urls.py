from django.urls import path

from ai_assistant.recommendations.api import views

urlpatterns = [
    path(
        "recommendations/food",
        views.FoodRecommendationsView.as_view(),
        name="ai-recommendations-food",
    ),
    path(
        "recommendations/workout",
        views.WorkoutRecommendationsView.as_view(),
        name="ai-recommendations-workout",
    ),
]
