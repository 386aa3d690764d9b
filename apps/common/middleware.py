"""Request ids, and the answer when the database cannot be reached.

RequestIdMiddleware: the id is taken from a trusted-looking X-Request-ID header or generated,
logged with every record and echoed on the response so a client's report can be matched to the
logs. It also opens the request's context (context.py) and hands the work deferred with
`context.after_response` to the response, to run once it has been sent.

UnstorableURLMiddleware: a query string carrying text PostgreSQL cannot store (a NUL; a lone
surrogate cannot survive Django's decoding of the URL) is refused with 400 problem+json
`invalid_text` before any view, filter, paginator or admin search puts it into a query; a path
with one names nothing (404).

MetricsPortMiddleware: with METRICS_PORT set, /metrics is served only to requests that came in
on that port (gunicorn binds it beside the app's port, see exampleapp/gunicorn.conf.py), and that
port serves nothing else. The Service and Ingress route only the app's port, so metrics (per-view
traffic, exception names) are reachable inside the cluster only, and the NetworkPolicy limits
that port to the monitoring namespace.

DatabaseUnavailableMiddleware: a connection failure (the primary is down or being failed over,
a connection was cut) is not a bug in the request: the client gets 503 problem+json with
Retry-After instead of a bare 500, and retries. It sits above the replica-routing middleware,
which first gets the chance to retry a safe request on the primary.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from . import context
from .errors import database_unavailable, not_found, unstorable_url
from .text import is_storable

logger = logging.getLogger(__name__)

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = context.begin(request_id)
        try:
            response = self.get_response(request)
            deferred = context.current().deferred  # type: ignore[union-attr]  # begun above
        finally:
            context.end(token)
        response["X-Request-ID"] = request_id
        # The WSGI server closes the response after sending it; Django runs these closers then
        # (the same hook FileResponse uses to close its file).
        response._resource_closers.extend(  # type: ignore[attr-defined]
            partial(context.run_logged, work) for work in deferred
        )
        return response


METRICS_PATH = "/metrics"


class MetricsPortMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.METRICS_PORT:
            # SERVER_PORT is the listening socket's port (gunicorn), not the Host header's.
            on_metrics_port = request.META.get("SERVER_PORT") == str(settings.METRICS_PORT)
            if on_metrics_port != (request.path_info == METRICS_PATH):
                return not_found()
        return self.get_response(request)


class UnstorableURLMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_storable(request.path_info):
            return not_found()  # no resource is named with a NUL (KOReader's server says 404 too)
        # A NUL reaches a query string only as `%00` (servers refuse a raw one): parse only then.
        if "%00" in request.META.get("QUERY_STRING", ""):
            for key, values in request.GET.lists():
                if not is_storable(key) or not all(is_storable(value) for value in values):
                    return unstorable_url(key if is_storable(key) else "<key>")
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, (OperationalError, InterfaceError)):
            first_line = next(iter(str(exception).splitlines()), "")
            logger.warning("database unavailable: %s", first_line)
            return database_unavailable()
        return None
