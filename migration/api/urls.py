from django.urls import path

from migration.api import views

urlpatterns = [path("ids", views.IdLookupView.as_view(), name="migration-ids")]
