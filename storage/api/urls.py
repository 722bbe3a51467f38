from django.urls import path

from storage.api import views

urlpatterns = [
    path("upload", views.UploadView.as_view(), name="storage-upload"),
    path("batch-upload", views.BatchUploadView.as_view(), name="storage-batch-upload"),
    path("batch", views.BatchDeleteView.as_view(), name="storage-batch-delete"),
    path("files", views.FileListView.as_view(), name="storage-files"),
    path("signed/<str:token>", views.SignedFileView.as_view(), name="storage-signed-file"),
    path("<uuid:file_id>", views.FileDetailView.as_view(), name="storage-file"),
    path("<uuid:file_id>/url", views.FileUrlView.as_view(), name="storage-file-url"),
]
