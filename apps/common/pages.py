"""What the gateway answers beside the apps' routes: the root page, and 404 problem+json for
any other path under /v1/.

`/` tells a person (or a program) what this server is and where the API's documentation lives:
HTML to a browser, JSON to anything that does not prefer HTML (curl, API clients), so neither
gets a page it cannot use.

`api_not_found` is the last route of /v1/: a path no app claims gets `404 not_found` as
problem+json in every settings profile. Without it Django answers an unmatched URL itself, and
with DEBUG on (`make run`) that is its HTML page listing every URL pattern.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from .errors import not_found

NAME = "ExampleApp API"
SUMMARY = "Todos, notes and a reading library kept in sync across devices."


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    links = {
        "docs": reverse("swagger-ui"),
        "redoc": reverse("redoc"),
        "schema": reverse("schema"),
    }
    response: HttpResponse
    if request.get_preferred_type(["application/json", "text/html"]) == "text/html":
        response = render(request, "common/home.html", {"name": NAME, "summary": SUMMARY, "links": links})
    else:
        response = JsonResponse({"name": NAME, "summary": SUMMARY, "api": "/v1/", "links": links})
    patch_vary_headers(response, ["Accept"])
    return response


@csrf_exempt  # any method, any body: the answer is 404 (a CSRF refusal would be a 403 page)
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return not_found()
