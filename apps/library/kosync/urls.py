"""KOReader's paths. The reference server also answers with one trailing slash; those aliases
are left out of the OpenAPI schema (apps.common.schema.drop_trailing_slash_aliases)."""

from django.urls import path, register_converter

from . import views


class DocumentConverter:
    """KOReader document ids: only [A-Za-z0-9_] (anything else is "no route", 404)."""

    regex = "[A-Za-z0-9_]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DocumentConverter, "kodoc")

_routes = [
    ("/users/create", views.RegisterView, "kosync-register"),
    ("/users/auth", views.AuthView, "kosync-auth"),
    ("/syncs/progress", views.ProgressPutView, "kosync-progress-put"),
    ("/syncs/progress/<kodoc:document>", views.ProgressGetView, "kosync-progress-get"),
    ("/healthcheck", views.HealthView, "kosync-health"),
]

urlpatterns = [path(route, view.as_view(), name=name) for route, view, name in _routes] + [
    path(route + "/", view.as_view()) for route, view, _name in _routes
]
