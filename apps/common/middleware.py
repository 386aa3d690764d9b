"""Request ids, and the answer when the database cannot be reached.

RequestIdMiddleware: the id is taken from a trusted-looking X-Request-ID header or generated,
logged with every record and echoed on the response so a client's report can be matched to the
logs.

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

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from . import context
from .errors import database_unavailable

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
        finally:
            context.end(token)
        response["X-Request-ID"] = request_id
        return response


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
