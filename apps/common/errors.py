"""One error shape for the whole API: RFC 9457 problem+json with a stable machine-readable code.

Services raise `ApplicationError` (or a subclass) with a code; DRF's own exceptions are mapped
to codes here; anything unexpected becomes a bare 500 with no internals. Every error response
goes through `problem_response`, so clients can rely on `type, title, status, detail, code`
and, for validation errors, `errors`: `{field: [message, ...]}`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://docs.exampleapp.invalid/problems/"


class ApplicationError(Exception):
    """A business-rule failure the client can act on."""

    status = 400
    code = "bad_request"
    title: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.errors = errors
        self.extra = extra or {}
        self.headers = headers or {}


class NotFound(ApplicationError):
    status = 404
    code = "not_found"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


class PreconditionFailed(ApplicationError):
    status = 412
    code = "precondition_failed"


class ServiceUnavailable(ApplicationError):
    """A dependency is down for a moment: 503 with Retry-After, so clients retry later."""

    status = 503
    code = "service_unavailable"
    retry_after = 5

    def __init__(self, detail: str, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("Retry-After", str(self.retry_after))


def problem_body(
    *,
    status: int,
    code: str,
    detail: str,
    title: str | None = None,
    errors: dict[str, list[str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code.replace("_", "-"),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return body


def problem_response(
    *, status: int, code: str, detail: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> Response:
    return Response(
        problem_body(status=status, code=code, detail=detail, **kwargs),
        status=status,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF nests errors (lists of dicts for many=True); clients get flat `field: [messages]`."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in flatten_errors(value, name).items():
                out.setdefault(field, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                name = f"{prefix}.{index}" if prefix else str(index)
                for field, messages in flatten_errors(item, name).items():
                    out.setdefault(field, []).extend(messages)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


_DRF_CODES: dict[type[drf.APIException], str] = {
    drf.ParseError: "parse_error",
    drf.AuthenticationFailed: "authentication_failed",
    drf.NotAuthenticated: "not_authenticated",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "throttled",
}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF EXCEPTION_HANDLER: every error the API answers becomes problem+json."""
    # Imported here: rest_framework.views loads the parser classes, and the API's JSON parser
    # (parsers.py) raises the errors defined in this module.
    from rest_framework.views import set_rollback

    if isinstance(exc, RequestDataTooBig):
        return problem_response(
            status=413,
            code="request_too_large",
            detail="The request body is larger than this endpoint accepts.",
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, ApplicationError):
        set_rollback()
        return problem_response(
            status=exc.status,
            code=exc.code,
            detail=exc.detail,
            title=exc.title,
            errors=exc.errors,
            extra=exc.extra,
            headers=exc.headers or None,
        )

    if isinstance(exc, drf.ValidationError):
        set_rollback()
        return problem_response(
            status=400,
            code="validation_error",
            detail="The request has invalid fields.",
            errors=flatten_errors(exc.detail),
        )

    if isinstance(exc, drf.APIException):
        set_rollback()
        headers: dict[str, str] = {}
        wait = getattr(exc, "wait", None)
        if isinstance(exc, drf.Throttled) and wait is not None:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        code = next((c for t, c in _DRF_CODES.items() if isinstance(exc, t)), None)
        if code is None:
            code = exc.default_code if isinstance(exc.default_code, str) else "error"
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
        return problem_response(status=exc.status_code, code=code, detail=str(detail), headers=headers)

    return None  # unexpected: Django's 500 handler answers (without internals) and logs it


def _json_problem(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        problem_body(status=status, code=code, detail=detail),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def not_found() -> JsonResponse:
    return _json_problem(404, "not_found", "No such resource.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return not_found()


def handler500(request: HttpRequest) -> JsonResponse:
    return _json_problem(500, "server_error", "An unexpected error occurred; it has been logged.")


def database_unavailable(retry_after: int = 2) -> JsonResponse:
    response = _json_problem(
        503, "database_unavailable", "The database is unreachable for a moment; retry shortly."
    )
    response["Retry-After"] = str(retry_after)
    return response


def unstorable_url(where: str) -> JsonResponse:
    body = problem_body(
        status=400,
        code="invalid_text",
        detail="The URL has text that cannot be stored.",
        errors={where: ["Contains a NUL character, which cannot be stored."]},
    )
    return JsonResponse(body, status=400, content_type=PROBLEM_CONTENT_TYPE)


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_problem(400, "bad_request", "The request could not be understood.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_problem(403, "permission_denied", "You may not do this.")
