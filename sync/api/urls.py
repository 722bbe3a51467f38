from django.urls import path

from sync.api.views import SyncView

urlpatterns = [path("sync", SyncView.as_view(), name="sync")]
