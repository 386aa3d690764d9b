"""Routes of exports and imports, mounted at /v1/users/me/export and /v1/users/me/import by the
gateway; paths carry their leading slash so canonical URLs have no trailing one."""

from django.urls import path

from . import views

export_urlpatterns = [
    path("", views.ExportListCreateView.as_view(), name="users-me-export"),
    path("/<uuid:export_id>", views.ExportDetailView.as_view(), name="users-me-export-detail"),
    path("/<uuid:export_id>/content", views.ExportContentView.as_view(), name="users-me-export-content"),
]

import_urlpatterns = [
    path("", views.ImportListCreateView.as_view(), name="users-me-import"),
    path("/<uuid:import_id>", views.ImportDetailView.as_view(), name="users-me-import-detail"),
]
