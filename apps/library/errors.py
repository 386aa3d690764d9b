"""Business errors of the library, each with a stable `code` (rendered as problem+json by
apps.common.errors). `reason` (an extra member) says which check refused a file."""

from __future__ import annotations

from typing import Any

from apps.common.errors import ApplicationError, Conflict, ServiceUnavailable


class UnsupportedFileType(ApplicationError):
    """The bytes are not a PDF, EPUB or PNG/JPEG/WebP/GIF image, or not a safe one."""

    status = 415
    code = "unsupported_file_type"

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail, extra={"reason": reason})
        self.reason = reason


class FileTooLarge(ApplicationError):
    status = 413
    code = "file_too_large"


class IdConflict(Conflict):
    code = "id_conflict"


class StaleViewerState(Conflict):
    code = "stale_viewer_state"

    def __init__(self, detail: str, *, current: dict[str, Any]) -> None:
        super().__init__(detail, extra={"current": current})


class UploadIncomplete(Conflict):
    code = "upload_incomplete"


class UploadNotPending(Conflict):
    code = "upload_not_pending"


class UploadVerificationFailed(ApplicationError):
    """What arrived in storage is not what the upload declared (size or SHA-256)."""

    status = 422
    code = "upload_verification_failed"


class DirectUploadUnavailable(ApplicationError):
    status = 501
    code = "direct_upload_unavailable"


class StorageUnavailable(ServiceUnavailable):
    """Object storage cannot be reached: nothing was stored, try again in a moment."""

    code = "storage_unavailable"
