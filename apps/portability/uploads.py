"""The archive of an import (`POST /v1/users/me/import`, multipart field `archive`), streamed
into storage as it arrives — to S3 in parts, one part in memory — never whole in memory or on
the pod's disk. Refused before the body is read: no Content-Length (411), a declared length
over IMPORT_MAX_BYTES (413); refused as soon as more than that arrives, whatever was declared.
Other parts of the body are skipped unread."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest
from rest_framework.request import Request

from apps.common.errors import ApplicationError, ErrorCode
from apps.library import objects

from .archive import MEDIA_TYPE

FIELD = "archive"
# Room for the multipart envelope on top of the archive when comparing a declared length.
ENVELOPE_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024


class StoredArchive(UploadedFile):
    """What the upload became: an object in storage (`key`), not a file here."""

    def __init__(self, key: str, size: int, name: str) -> None:
        super().__init__(file=None, name=name, content_type=MEDIA_TYPE, size=size)
        self.key = key


def too_large() -> ApplicationError:
    cap = settings.IMPORT_MAX_BYTES
    return ApplicationError(
        f"Archives may be at most {cap} bytes.",
        code=ErrorCode.FILE_TOO_LARGE,
        status=413,
        extra={"max_bytes": cap},
    )


class ArchiveUploadHandler(FileUploadHandler):
    chunk_size = CHUNK_BYTES

    def __init__(self, request: HttpRequest, *, key: str) -> None:
        super().__init__(request)
        self.key = key
        self._writer: objects.ObjectWriter | None = None
        self._received = 0
        self._taken = False

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        if field_name != FIELD or self._taken:
            raise SkipFile()
        self._taken = True
        super().new_file(field_name, file_name, *args, **kwargs)
        self._writer = objects.new_object_writer(
            self.key, content_type=MEDIA_TYPE, part_bytes=settings.EXPORT_PART_BYTES
        )

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        assert self._writer is not None
        self._received += len(raw_data)
        if self._received > settings.IMPORT_MAX_BYTES:
            self.upload_interrupted()
            raise too_large()
        try:
            self._writer.write(raw_data)
        except BaseException:
            self.upload_interrupted()
            raise
        return None

    def file_complete(self, file_size: int) -> StoredArchive | None:
        if self._writer is None:
            return None
        writer, self._writer = self._writer, None
        try:
            writer.finish()
        except BaseException:
            writer.abort()
            raise
        return StoredArchive(self.key, file_size, self.file_name or "archive.zip")

    def upload_interrupted(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None


def prepare_upload(request: Request, *, key: str) -> None:
    """Refuse what can be refused from the headers; install the streaming handler."""
    raw = request.META.get("CONTENT_LENGTH")
    length = int(raw) if isinstance(raw, str) and raw.isdigit() else 0
    if length <= 0:
        raise ApplicationError(
            "Send the archive as multipart/form-data with a Content-Length.",
            code=ErrorCode.LENGTH_REQUIRED,
            status=411,
        )
    if length > settings.IMPORT_MAX_BYTES + ENVELOPE_BYTES:
        raise too_large()
    django_request: HttpRequest = request._request
    django_request.upload_handlers = [ArchiveUploadHandler(django_request, key=key)]
