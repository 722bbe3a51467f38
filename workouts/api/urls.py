from django.urls import path

from workouts.api import views

# Mounted at /api/v1/ so that the collection is /api/v1/workouts, without a slash. The
# <uuid:> converter keeps /workouts/stats (and the AI app's /workouts/form-check) apart.
urlpatterns = [
    path("workouts", views.WorkoutListView.as_view(), name="workouts"),
    path("workouts/stats", views.WorkoutStatsView.as_view(), name="workouts-stats"),
    path("workouts/<uuid:workout_id>", views.WorkoutDetailView.as_view(), name="workouts-detail"),
    path(
        "workouts/<uuid:workout_id>/progress",
        views.WorkoutProgressView.as_view(),
        name="workouts-progress",
    ),
]
