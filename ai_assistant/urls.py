from django.urls import include, path

from ai_assistant.api import photo_views, views

urlpatterns = [
    path("food/analyze-text", views.AnalyzeFoodTextView.as_view(), name="ai-food-analyze-text"),
    path("", include("ai_assistant.api.coach_urls")),
]
urlpatterns += [
    path("food/recognize", photo_views.RecognizeFoodView.as_view(), name="ai-food-recognize"),
    path("jobs/<uuid:job_id>", photo_views.JobDetailView.as_view(), name="ai-job-detail"),
]

# Where the plan puts them, outside /ai/: fitness/urls.py mounts these at /api/v1/.
root_urlpatterns = [
    path("food/analyze", photo_views.AnalyzeFoodView.as_view(), name="food-analyze"),
    path("workouts/form-check", photo_views.FormCheckView.as_view(), name="workouts-form-check"),
]
