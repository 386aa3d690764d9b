"""The streamed upload (`POST /v1/files`, multipart field `file`): never whole in memory.

`prepare_upload` runs before the body is touched. A request that declares (Content-Length) more
than FILE_UPLOAD_MAX_BYTES, or more than the caller's remaining quota, is refused at once — the
body is never read. Otherwise it installs `HashingUploadHandler` as the request's only upload
handler: the `file` part is written to a temporary file in bounded chunks while its SHA-256 is
computed, and the upload stops (413) the moment it passes the cap, whatever the headers said.
Other file parts are skipped unread.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest
from rest_framework.request import Request

from apps.common import quota
from apps.common.errors import ApplicationError, ErrorCode
from apps.common.quota import QuotaExceeded

from .errors import FileTooLarge

FIELD = "file"
# Room for the multipart envelope (boundaries, part headers, small form fields) on top of the
# file itself when comparing a declared Content-Length with the cap.
ENVELOPE_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024


class HashedUpload(TemporaryUploadedFile):
    sha256: str = ""


def too_large() -> FileTooLarge:
    cap = settings.FILE_UPLOAD_MAX_BYTES
    return FileTooLarge(f"Files may be at most {cap} bytes.", extra={"max_bytes": cap})


def over_quota(used: int) -> QuotaExceeded:
    return quota.exceeded(used_bytes=used, what="file")


class HashingUploadHandler(FileUploadHandler):
    chunk_size = CHUNK_BYTES

    def __init__(self, request: HttpRequest, *, used_bytes: int) -> None:
        super().__init__(request)
        self.used_bytes = used_bytes
        self.cap = settings.FILE_UPLOAD_MAX_BYTES
        self.room = max(0, settings.USER_STORAGE_QUOTA_BYTES - used_bytes)
        # Not called `file`: Django's parser closes any handler's `file` when it skips a part.
        self._spool: HashedUpload | None = None
        self._digest = hashlib.sha256()
        self._received = 0
        self._taken = False

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        if field_name != FIELD or self._taken:
            raise SkipFile()
        self._taken = True
        super().new_file(field_name, file_name, *args, **kwargs)
        self._spool = HashedUpload(file_name, "application/octet-stream", 0, None)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        assert self._spool is not None
        self._received += len(raw_data)
        if self._received > min(self.cap, self.room):
            self._discard()
            raise too_large() if self._received > self.cap else over_quota(self.used_bytes)
        self._digest.update(raw_data)
        self._spool.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> HashedUpload | None:
        if self._spool is None:
            return None
        self._spool.seek(0)
        self._spool.size = file_size
        self._spool.sha256 = self._digest.hexdigest()
        return self._spool

    def upload_interrupted(self) -> None:
        self._discard()

    def _discard(self) -> None:
        if self._spool is not None:
            self._spool.close()  # deletes the temporary file
            self._spool = None


def declared_length(request: Request) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None


def prepare_upload(request: Request, *, used_bytes: int) -> None:
    """Refuse what can be refused from the headers; install the streaming handler."""
    length = declared_length(request)
    if length is None or length <= 0:
        raise ApplicationError(
            "Send the file as multipart/form-data with a Content-Length.",
            code=ErrorCode.LENGTH_REQUIRED,
            status=411,
        )
    if length > settings.FILE_UPLOAD_MAX_BYTES + ENVELOPE_BYTES:
        raise too_large()
    if length > settings.USER_STORAGE_QUOTA_BYTES - used_bytes + ENVELOPE_BYTES:
        raise over_quota(used_bytes)
    django_request: HttpRequest = request._request
    django_request.upload_handlers = [HashingUploadHandler(django_request, used_bytes=used_bytes)]
