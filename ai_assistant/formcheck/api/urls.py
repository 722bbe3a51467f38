from django.urls import path

from ai_assistant.formcheck.api import views

# Mounted at /api/v1/ (see ai_assistant.urls): the check belongs with the workouts.
root_urlpatterns = [
    path("workouts/form-check", views.FormCheckView.as_view(), name="workouts-form-check"),
]
