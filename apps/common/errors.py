"""One error shape for the whole API: RFC 9457 problem+json with a stable machine-readable code.

Services raise `ApplicationError` (or a subclass) with an `ErrorCode`; DRF's own exceptions are
mapped to codes here; anything unexpected becomes a bare 500 with no internals. Every error
response goes through `problem_response`, so clients can rely on `type, title, status, detail,
code` and, for validation errors, `errors`: `{field: [message, ...]}`. ErrorCode is the one list
of codes: the schema's Problem component lists it and tests/test_error_codes.py keeps it, the
code and docs/api.md in step.
"""

from __future__ import annotations

import logging
from enum import StrEnum
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


class ErrorCode(StrEnum):
    """Every `code` an error answer carries (also the `code` of a rejected sync op). Stable: a
    client may branch on them; docs/api.md says when each is used."""

    # 400
    BAD_REQUEST = "bad_request"
    VALIDATION_ERROR = "validation_error"
    PARSE_ERROR = "parse_error"
    JSON_TOO_DEEP = "json_too_deep"
    INVALID_TEXT = "invalid_text"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - an error code, not a secret
    NOTE_NOT_INDEXABLE = "note_not_indexable"
    # 401
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    INVALID_CREDENTIALS = "invalid_credentials"
    TOKEN_INVALID = "token_invalid"  # noqa: S105 - an error code
    TOKEN_REUSED = "token_reused"  # noqa: S105 - an error code
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - an error code
    SESSION_REVOKED = "session_revoked"
    # 403
    PERMISSION_DENIED = "permission_denied"
    REAUTHENTICATION_REQUIRED = "reauthentication_required"
    # 404, 405, 406
    NOT_FOUND = "not_found"
    NO_COVER = "no_cover"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    # 409, 410, 411, 412
    CONFLICT = "conflict"
    ID_CONFLICT = "id_conflict"
    STALE_VIEWER_STATE = "stale_viewer_state"
    UPLOAD_INCOMPLETE = "upload_incomplete"
    UPLOAD_NOT_PENDING = "upload_not_pending"
    JOB_IN_PROGRESS = "job_in_progress"
    IMPORT_TARGET_NOT_EMPTY = "import_target_not_empty"
    RESYNC_REQUIRED = "resync_required"
    LENGTH_REQUIRED = "length_required"
    PRECONDITION_FAILED = "precondition_failed"
    # 413, 415, 422, 429
    REQUEST_TOO_LARGE = "request_too_large"
    FILE_TOO_LARGE = "file_too_large"
    NOTE_TOO_LARGE = "note_too_large"
    PUSH_TOO_LARGE = "push_too_large"
    QUOTA_EXCEEDED = "quota_exceeded"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNSUPPORTED_FILE_TYPE = "unsupported_file_type"
    UPLOAD_VERIFICATION_FAILED = "upload_verification_failed"
    SIZE_MISMATCH = "size_mismatch"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    INVALID_ARCHIVE = "invalid_archive"
    THROTTLED = "throttled"
    TOO_MANY_STREAMS = "too_many_streams"
    # 5xx
    SERVER_ERROR = "server_error"
    DIRECT_UPLOAD_UNAVAILABLE = "direct_upload_unavailable"
    SERVICE_UNAVAILABLE = "service_unavailable"
    DATABASE_UNAVAILABLE = "database_unavailable"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    EVENTS_FULL = "events_full"
    EVENTS_UNAVAILABLE = "events_unavailable"
    # only in a sync push's `rejected` results
    REJECTED = "rejected"
    UNSUPPORTED_OPERATION = "unsupported_operation"
    UPLOAD_REQUIRED = "upload_required"
    BASE_VERSION_AHEAD = "base_version_ahead"
    OP_FAILED = "op_failed"


# For the schema: one named enum of every code (SPECTACULAR_SETTINGS ENUM_NAME_OVERRIDES).
ERROR_CODES = [code.value for code in ErrorCode]


class ApplicationError(Exception):
    """A business-rule failure the client can act on."""

    status = 400
    code: ErrorCode = ErrorCode.BAD_REQUEST
    title: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        code: ErrorCode | None = None,
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


class ValidationFailed(ApplicationError):
    """A rule a request broke that a serializer could not see (it needs the database, or the
    object's state), answered like a serializer's: 400 `validation_error` with
    `errors: {field: [messages]}`, so clients handle both the same way."""

    code = ErrorCode.VALIDATION_ERROR

    def __init__(self, errors: dict[str, list[str]], detail: str = "The request has invalid fields.") -> None:
        super().__init__(detail, errors=errors)

    @classmethod
    def field(cls, name: str, message: str) -> ValidationFailed:
        return cls({name: [message]})


class NotFound(ApplicationError):
    status = 404
    code = ErrorCode.NOT_FOUND


class Conflict(ApplicationError):
    status = 409
    code = ErrorCode.CONFLICT


class IdConflict(Conflict):
    """A client-chosen id already used by a different object (anyone's, or a tombstone): ids
    are random UUIDs, so saying so reveals nothing."""

    code = ErrorCode.ID_CONFLICT

    def __init__(self, detail: str = "This id is already used by another object.") -> None:
        super().__init__(detail)


class PreconditionFailed(ApplicationError):
    status = 412
    code = ErrorCode.PRECONDITION_FAILED


class ServiceUnavailable(ApplicationError):
    """A dependency is down for a moment: 503 with Retry-After, so clients retry later."""

    status = 503
    code = ErrorCode.SERVICE_UNAVAILABLE
    retry_after = 5

    def __init__(self, detail: str, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("Retry-After", str(self.retry_after))


def problem_body(
    *,
    status: int,
    code: ErrorCode,
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
    *, status: int, code: ErrorCode, detail: str, headers: dict[str, str] | None = None, **kwargs: Any
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


_DRF_CODES: dict[type[drf.APIException], ErrorCode] = {
    drf.ParseError: ErrorCode.PARSE_ERROR,
    drf.AuthenticationFailed: ErrorCode.AUTHENTICATION_FAILED,
    drf.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    drf.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    drf.NotFound: ErrorCode.NOT_FOUND,
    drf.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    drf.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    drf.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    drf.Throttled: ErrorCode.THROTTLED,
}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF EXCEPTION_HANDLER: every error the API answers becomes problem+json."""
    # Imported here: rest_framework.views loads the parser classes, and the API's JSON parser
    # (parsers.py) raises the errors defined in this module.
    from rest_framework.views import set_rollback

    if isinstance(exc, RequestDataTooBig):
        return problem_response(
            status=413,
            code=ErrorCode.REQUEST_TOO_LARGE,
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
            code=ErrorCode.VALIDATION_ERROR,
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
        if code is ErrorCode.AUTHENTICATION_FAILED and exc.get_codes() == ErrorCode.TOKEN_EXPIRED:
            # A genuine access token whose time is up (identity's authentication names it): the
            # client refreshes and retries instead of signing in again (RFC 6750's invalid_token).
            code = ErrorCode.TOKEN_EXPIRED
            headers["WWW-Authenticate"] = 'Bearer realm="api", error="invalid_token"'
        if code is None:  # another APIException: the codes stay ErrorCode's
            code = ErrorCode.SERVER_ERROR if exc.status_code >= 500 else ErrorCode.BAD_REQUEST
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
        return problem_response(status=exc.status_code, code=code, detail=str(detail), headers=headers)

    return None  # unexpected: Django's 500 handler answers (without internals) and logs it


def _json_problem(status: int, code: ErrorCode, detail: str) -> JsonResponse:
    return JsonResponse(
        problem_body(status=status, code=code, detail=detail),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def not_found() -> JsonResponse:
    return _json_problem(404, ErrorCode.NOT_FOUND, "No such resource.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return not_found()


def handler500(request: HttpRequest) -> JsonResponse:
    return _json_problem(500, ErrorCode.SERVER_ERROR, "An unexpected error occurred; it has been logged.")


def database_unavailable(retry_after: int = 2) -> JsonResponse:
    response = _json_problem(
        503, ErrorCode.DATABASE_UNAVAILABLE, "The database is unreachable for a moment; retry shortly."
    )
    response["Retry-After"] = str(retry_after)
    return response


def unstorable_url(where: str) -> JsonResponse:
    body = problem_body(
        status=400,
        code=ErrorCode.INVALID_TEXT,
        detail="The URL has text that cannot be stored.",
        errors={where: ["Contains a NUL character, which cannot be stored."]},
    )
    return JsonResponse(body, status=400, content_type=PROBLEM_CONTENT_TYPE)


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_problem(400, ErrorCode.BAD_REQUEST, "The request could not be understood.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_problem(403, ErrorCode.PERMISSION_DENIED, "You may not do this.")
