from django.urls import path

from rollout.api import views

urlpatterns = [
    path("config", views.ConfigView.as_view(), name="config"),
]
