from django.urls import include, path

from ai_assistant.api import views

urlpatterns = [
    path("food/analyze-text", views.AnalyzeFoodTextView.as_view(), name="ai-food-analyze-text"),
    path("", include("ai_assistant.api.coach_urls")),
]
