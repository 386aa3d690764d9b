"""Routes of the notes app, mounted at /v1/notes by the gateway."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
