"""The gateway: one line per route prefix, each handed to the app that owns it."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.common import health, pages, web
from apps.identity.api.urls import auth_urlpatterns, users_urlpatterns
from apps.portability.api.urls import export_urlpatterns, import_urlpatterns

urlpatterns = [
    path("v1/auth", include(auth_urlpatterns)),
    path("v1/users/me/export", include(export_urlpatterns)),
    path("v1/users/me/import", include(import_urlpatterns)),
    path("v1/users", include(users_urlpatterns)),
    path("v1/todos", include("apps.todos.api.urls")),
    path("v1/notes", include("apps.notes.api.urls")),
    path("v1/sync/kosync", include("apps.library.kosync.urls")),
    path("v1/sync", include("apps.sync.api.urls")),
    path("v1/files", include("apps.library.api.urls")),
    path("v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("v1/redoc", pages.RedocView.as_view(url_name="schema"), name="redoc"),
    path("v1/redoc/redoc.standalone.js", pages.redoc_bundle, name="redoc-bundle"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("django_prometheus.urls")),
    path("admin/", admin.site.urls),
    path("", pages.home, name="home"),
    path("sw.js", web.service_worker, name="web-service-worker"),
    # Last: any other path under /v1/ is 404 problem+json, whatever DEBUG says.
    re_path(r"^v1(?:/|$)", pages.api_not_found, name="api-not-found"),
]

handler400 = "apps.common.errors.handler400"
handler403 = "apps.common.errors.handler403"
handler404 = "apps.common.errors.handler404"
handler500 = "apps.common.errors.handler500"
