"""Business errors of exports and imports, each with a stable `code` (problem+json, rendered by
apps.common.errors; an import that fails in the worker keeps the same problem as its `error`)."""

from __future__ import annotations

from typing import Any

from apps.common.errors import ApplicationError, Conflict, ErrorCode


class InvalidArchive(ApplicationError):
    """The archive is not one this server can import: `reason` names the rule it broke
    (docs/export.md lists them), `errors` where."""

    status = 422
    code = ErrorCode.INVALID_ARCHIVE

    def __init__(
        self,
        detail: str,
        *,
        reason: str,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, errors=errors, extra={"reason": reason, **(extra or {})})
        self.reason = reason


class JobInProgress(Conflict):
    """The account has an export or import queued or running: one at a time."""

    code = ErrorCode.JOB_IN_PROGRESS


class ImportTargetNotEmpty(Conflict):
    """An archive is restored into an account that holds nothing yet."""

    code = ErrorCode.IMPORT_TARGET_NOT_EMPTY


class TooManyJobs(ApplicationError):
    status = 429
    code = ErrorCode.THROTTLED

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})
