"""A URLconf with one view that fails, to see what an unexpected error shows a client."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from exampleapp.urls import handler400, handler403, handler404, handler500  # noqa: F401


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("internal detail: postgresql://app:hunter2@db/app")


urlpatterns = [path("boom", boom)]
