"""Business errors of the library, each with a stable `code` (rendered as problem+json by
apps.common.errors). `reason` (an extra member) says which check refused a file."""

from __future__ import annotations

from typing import Any

from apps.common.errors import ApplicationError, Conflict, ErrorCode, ServiceUnavailable


class UnsupportedFileType(ApplicationError):
    """The bytes are not a PDF, EPUB or PNG/JPEG/WebP/GIF image, or not a safe one."""

    status = 415
    code = ErrorCode.UNSUPPORTED_FILE_TYPE

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail, extra={"reason": reason})
        self.reason = reason


class FileTooLarge(ApplicationError):
    status = 413
    code = ErrorCode.FILE_TOO_LARGE


class NoCover(ApplicationError):
    """The file has no cover to show (an EPUB without one, a PDF that does not render, an image
    that does not decode within the bounds): the client shows its placeholder."""

    status = 404
    code = ErrorCode.NO_COVER


class StaleViewerState(Conflict):
    code = ErrorCode.STALE_VIEWER_STATE

    def __init__(self, detail: str, *, current: dict[str, Any]) -> None:
        super().__init__(detail, extra={"current": current})


class UploadIncomplete(Conflict):
    code = ErrorCode.UPLOAD_INCOMPLETE


class UploadNotPending(Conflict):
    code = ErrorCode.UPLOAD_NOT_PENDING


class UploadVerificationFailed(ApplicationError):
    """What arrived in storage is not what the upload declared (size or SHA-256)."""

    status = 422
    code = ErrorCode.UPLOAD_VERIFICATION_FAILED


class DirectUploadUnavailable(ApplicationError):
    status = 501
    code = ErrorCode.DIRECT_UPLOAD_UNAVAILABLE


class StorageUnavailable(ServiceUnavailable):
    """Object storage cannot be reached: nothing was stored, try again in a moment."""

    code = ErrorCode.STORAGE_UNAVAILABLE
