"""What the gateway answers beside the apps' routes: the root page, 404 problem+json for any
other path under /v1/, and ReDoc with nothing fetched from the internet.

`/` is the web client to a browser (apps/common/web.py, docs/web.md) and JSON saying what this
server is and where the API's documentation lives to anything that does not prefer HTML (curl,
API clients), so neither gets a page it cannot use. When the client has not been built (no
Node.js), a browser gets a small HTML page with the same links instead.

`api_not_found` is the last route of /v1/: a path no app claims gets `404 not_found` as
problem+json in every settings profile. Without it Django answers an unmatched URL itself, and
with DEBUG on (`make run`) that is its HTML page listing every URL pattern.

ReDoc's bundle comes from drf-spectacular-sidecar like Swagger UI's, but drf-spectacular's page
links Google Fonts, and the bundle draws Redocly's logo from their CDN (no option turns it off):
offline, both are failed requests. `RedocView` uses a page without the font links (ReDoc falls
back to the system's fonts) and `redoc_bundle` serves the sidecar's bundle with the logo's URL
replaced by an empty inline image.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularRedocView

from .errors import not_found
from .web import web_shell

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
        context = {"name": NAME, "summary": SUMMARY, "links": links}
        response = web_shell(request) or render(request, "common/home.html", context)
    else:
        response = JsonResponse({"name": NAME, "summary": SUMMARY, "api": "/v1/", "links": links})
    patch_vary_headers(response, ["Accept"])
    return response


@csrf_exempt  # any method, any body: the answer is 404 (a CSRF refusal would be a 403 page)
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return not_found()


_REDOCLY_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
_EMPTY_IMAGE = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


@functools.cache
def _redoc_bundle() -> bytes:
    bundles = (
        resources.files("drf_spectacular_sidecar")
        / "static"
        / "drf_spectacular_sidecar"
        / "redoc"
        / "bundles"
    )
    return (bundles / "redoc.standalone.js").read_bytes().replace(_REDOCLY_LOGO, _EMPTY_IMAGE)


@require_safe
@cache_control(public=True, max_age=86400)
def redoc_bundle(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_redoc_bundle(), content_type="text/javascript; charset=utf-8")


class RedocView(SpectacularRedocView):
    template_name = "common/redoc.html"

    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("redoc-bundle")
