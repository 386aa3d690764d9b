"""Routes of the library app, mounted at /v1/files by the gateway; paths carry their leading
slash so canonical URLs have no trailing one (/v1/files/{id})."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.FileListCreateView.as_view(), name="files-list"),
    path("/uploads", views.UploadListCreateView.as_view(), name="files-uploads"),
    path("/uploads/<uuid:upload_id>", views.UploadDetailView.as_view(), name="files-upload-detail"),
    path(
        "/uploads/<uuid:upload_id>/complete", views.UploadCompleteView.as_view(), name="files-upload-complete"
    ),
    path("/<uuid:file_id>", views.FileDetailView.as_view(), name="files-detail"),
    path("/<uuid:file_id>/content", views.FileContentView.as_view(), name="files-content"),
    path("/<uuid:file_id>/cover", views.FileCoverView.as_view(), name="files-cover"),
    path("/<uuid:file_id>/viewer-state", views.ViewerStateView.as_view(), name="files-viewer-state"),
]
