from django.urls import path

from analytics.api import views

urlpatterns = [
    path("events", views.ClientEventsView.as_view(), name="analytics-events"),
]
