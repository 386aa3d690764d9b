"""Deciding what a file is from its bytes, never from its name or the client's Content-Type.

Two steps: `sniff` looks at the first bytes (magic numbers); `detect` adds a structural check
of the whole file: the PDF parses, the EPUB passes the archive checks and has a readable
container and package, the image decodes its header and verifies. Images are also refused when
they carry HTML/SVG markup or data after their end (a PNG+HTML polyglot): they are served as
attachments with `nosniff` anyway, but a library has no reason to keep such files.
Anything else is `UnsupportedFileType` (415) with a `reason`.

`detect` reads a seekable binary file object (a local file, or S3 ranged reads): only what the
checks need, except the markup scan of an image, which reads every byte. A caller that streams
the file anyway (the hash pass of a direct upload) feeds a `MarkupScan` and hands it over.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import warnings
import zipfile
from dataclasses import dataclass
from typing import IO

from PIL import Image
from pypdf import PdfReader

from . import epub
from .errors import UnsupportedFileType
from .models import FileKind

logger = logging.getLogger(__name__)

HEAD_BYTES = 4096
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCAN_CHUNK = 1024 * 1024
# Tags a browser would act on if it ever rendered the bytes as HTML or SVG.
_MARKUP = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|script|iframe|svg|object|embed|meta\s+http-equiv)[\s/>]",
    re.IGNORECASE,
)
# A tag that may still be open at the end of a chunk: "<", a name, perhaps whitespace and the
# start of a second name (`<!doctype html`, `<meta http-equiv`).
_OPEN_TAG = re.compile(rb"<[!a-z-]{0,9}(?:\s+[a-z-]{0,10})?", re.IGNORECASE)
# How an open tag can go on at the start of the next chunk, up to its terminating byte.
_TAG_GOES_ON = re.compile(rb"[!a-z-]{0,10}\s*[a-z-]{0,10}.?", re.IGNORECASE | re.DOTALL)
_TAG_FRAGMENT = re.compile(rb"[!a-z\s-]*", re.IGNORECASE)
_WHITESPACE = re.compile(rb"\s+")

ALLOWED_CONTENT_TYPES = (
    "application/pdf",
    "application/epub+zip",
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
)
_PIL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}


@dataclass(frozen=True)
class Detected:
    kind: str
    content_type: str


def sniff(head: bytes) -> Detected | None:
    """The type the first bytes claim, or None. Not proof: `detect` checks the structure."""
    if head.startswith(b"%PDF-"):
        return Detected(FileKind.PDF, "application/pdf")
    if head.startswith(PNG_MAGIC):
        return Detected(FileKind.IMAGE, "image/png")
    if head.startswith(b"\xff\xd8\xff"):
        return Detected(FileKind.IMAGE, "image/jpeg")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Detected(FileKind.IMAGE, "image/gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Detected(FileKind.IMAGE, "image/webp")
    if head.startswith(b"PK\x03\x04") and len(head) >= 30:
        # OCF: the first local file header is the `mimetype` entry.
        name_length = struct.unpack("<H", head[26:28])[0]
        if head[30 : 30 + name_length] == b"mimetype":
            return Detected(FileKind.EPUB, "application/epub+zip")
    return None


def unrecognised() -> UnsupportedFileType:
    return UnsupportedFileType(
        "The file is not a PDF, an EPUB or a PNG, JPEG, WebP or GIF image.", reason="unrecognised"
    )


class MarkupScan:
    """Finds the tags of `_MARKUP` in bytes fed in order, in chunks of any size: exactly what one
    search of the whole file would find, a tag cut between two chunks included."""

    def __init__(self) -> None:
        self.found = False
        # The end of the bytes so far when it may be the start of a tag, whitespace runs shortened
        # to one space (`\s+` cannot tell).
        self._open = b""

    def update(self, chunk: bytes) -> None:
        if self.found or not chunk:
            return
        if self._open:
            goes_on = _TAG_GOES_ON.match(chunk)
            assert goes_on is not None  # it matches the empty string
            if _MARKUP.match(self._open + chunk[: goes_on.end()]):
                self.found = True
                return
        if _MARKUP.search(chunk):
            self.found = True
            return
        self._open = self._still_open(chunk)

    def _still_open(self, chunk: bytes) -> bytes:
        last = chunk.rfind(b"<")
        if last >= 0:
            return _WHITESPACE.sub(b" ", chunk[last:]) if _OPEN_TAG.fullmatch(chunk, last) else b""
        if not self._open or not _TAG_FRAGMENT.fullmatch(chunk):
            return b""
        longer = _WHITESPACE.sub(b" ", self._open + chunk)
        return longer if _OPEN_TAG.fullmatch(longer) else b""


def detect(stream: IO[bytes], *, markup: MarkupScan | None = None) -> Detected:
    """The verified type of the file open in `stream` (raises UnsupportedFileType). `markup`, when
    given, has been fed the whole file."""
    stream.seek(0)
    detected = sniff(stream.read(HEAD_BYTES))
    if detected is None:
        raise unrecognised()
    if detected.kind == FileKind.PDF:
        _check_pdf(stream)
    elif detected.kind == FileKind.EPUB:
        _check_epub(stream)
    else:
        _check_image(stream, detected.content_type, markup)
    return detected


def _size(stream: IO[bytes]) -> int:
    return stream.seek(0, io.SEEK_END)


def _check_pdf(stream: IO[bytes]) -> None:
    try:
        # A file object, never a path: given a path, pypdf reads the whole file into memory.
        stream.seek(0)
        reader = PdfReader(stream, strict=False)
        if reader.is_encrypted:
            # A password-protected PDF is still a PDF; its pages may be unreadable to us.
            return
        if len(reader.pages) < 1:
            raise UnsupportedFileType("The PDF has no pages.", reason="pdf_unreadable")
    except UnsupportedFileType:
        raise
    except Exception as exc:  # pypdf raises many types on hostile input
        logger.info("PDF refused: %s: %s", exc.__class__.__name__, exc)
        raise UnsupportedFileType("The file is not a readable PDF.", reason="pdf_unreadable") from None


def _check_epub(stream: IO[bytes]) -> None:
    try:
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            epub.check_archive(archive)
            epub.read_package(archive)
    except UnsupportedFileType:
        raise
    except Exception as exc:  # hostile archives must never become a 500
        logger.info("EPUB refused: %s: %s", exc.__class__.__name__, exc)
        raise UnsupportedFileType(
            "Not an acceptable EPUB: the archive is damaged.", reason="zip_corrupt"
        ) from None


def _check_image(stream: IO[bytes], content_type: str, markup: MarkupScan | None) -> None:
    unreadable = UnsupportedFileType("The image cannot be decoded.", reason="image_unreadable")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            stream.seek(0)
            with Image.open(stream, formats=[_PIL_FORMATS[content_type]]) as image:
                width, height = image.size
                if width < 1 or height < 1:
                    raise unreadable
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnsupportedFileType("The image has too many pixels.", reason="image_too_large") from None
    except UnsupportedFileType:
        raise
    except Exception as exc:  # UnidentifiedImageError, OSError, SyntaxError, ... on hostile input
        logger.info("image refused: %s: %s", exc.__class__.__name__, exc)
        raise unreadable from None
    if content_type == "image/png":
        _check_png_end(stream)
    elif content_type == "image/webp":
        _check_riff_end(stream)
    if markup is None:
        markup = MarkupScan()
        stream.seek(0)
        while not markup.found and (chunk := stream.read(SCAN_CHUNK)):
            markup.update(chunk)
    if markup.found:
        raise UnsupportedFileType(
            "The image carries HTML or SVG markup (a polyglot file).", reason="embedded_markup"
        )


def _trailing() -> UnsupportedFileType:
    return UnsupportedFileType("The image has data after its end.", reason="trailing_data")


def _check_png_end(stream: IO[bytes]) -> None:
    """Walk the chunks to IEND: nothing may follow it."""
    size = _size(stream)
    offset = len(PNG_MAGIC)
    while offset + 12 <= size:
        stream.seek(offset)
        length, chunk_type = struct.unpack(">I4s", stream.read(8))
        offset += 12 + length
        if chunk_type == b"IEND":
            if offset != size:
                raise _trailing()
            return
    raise UnsupportedFileType("The PNG has no end.", reason="image_unreadable")


def _check_riff_end(stream: IO[bytes]) -> None:
    size = _size(stream)
    stream.seek(4)
    declared = struct.unpack("<I", stream.read(4))[0] + 8
    if size > declared + (declared & 1):
        raise _trailing()
