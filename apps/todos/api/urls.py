"""Routes of the todos app, mounted at /v1/todos by the gateway."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
