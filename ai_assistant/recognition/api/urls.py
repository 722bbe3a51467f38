from django.urls import path

from ai_assistant.recognition.api import views

urlpatterns = [
    path("food/analyze-text", views.AnalyzeFoodTextView.as_view(), name="ai-food-analyze-text"),
    path("food/recognize", views.RecognizeFoodView.as_view(), name="ai-food-recognize"),
    path("jobs/<uuid:job_id>", views.JobDetailView.as_view(), name="ai-job-detail"),
]

# Mounted at /api/v1/ (see ai_assistant.urls).
root_urlpatterns = [
    path("food/analyze", views.AnalyzeFoodView.as_view(), name="food-analyze"),
]
