"""Serving a file's bytes from local storage: a streamed attachment with single-range HTTP Range
support (RFC 9110 §14). (On S3 the content route redirects to a presigned URL instead.)"""

from __future__ import annotations

import re
from typing import BinaryIO

from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from . import storage

_RANGE = re.compile(r"^bytes=\s*(\d*)\s*-\s*(\d*)\s*$")
BLOCK = 256 * 1024


class Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte positions for a single `bytes=` range, None to send the whole file
    (no header, several ranges, or a syntax we ignore as RFC 9110 allows), or Unsatisfiable."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable()
        return max(0, size - suffix), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # syntactically invalid: ignore the header
    if start >= size:
        raise Unsatisfiable()
    return start, min(end, size - 1)


class _Window:
    """A read-only view of `length` bytes of `stream` from `start` (closes the stream)."""

    def __init__(self, stream: BinaryIO, start: int, length: int) -> None:
        self._stream = stream
        self._left = length
        stream.seek(start)

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        wanted = self._left if size < 0 else min(size, self._left)
        data = self._stream.read(wanted)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._stream.close()


def local_file_response(
    request: HttpRequest, *, key: str, size: int, content_type: str, filename: str, etag: str
) -> HttpResponseBase:
    header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        header = None  # the client's partial copy is of something else: send it all
    try:
        window = parse_range(header, size)
    except Unsatisfiable:
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    start, end = window if window is not None else (0, size - 1)
    length = max(0, end - start + 1)
    response = FileResponse(
        _Window(storage.open_local(key), start, length),
        status=206 if window is not None else 200,
        as_attachment=True,
        filename=filename,
        content_type=content_type,
    )
    response.block_size = BLOCK
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    if window is not None:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response
