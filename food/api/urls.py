from django.urls import path

from food.api import views

urlpatterns = [
    path("logs", views.FoodLogsView.as_view(), name="food-logs"),
    path("logs/batch", views.FoodLogBatchView.as_view(), name="food-logs-batch"),
    path("logs/<uuid:log_id>", views.FoodLogDetailView.as_view(), name="food-log-detail"),
    path("stats", views.NutritionStatsView.as_view(), name="food-stats"),
]
