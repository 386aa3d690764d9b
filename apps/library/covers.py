"""A library file's cover (`GET /v1/files/{id}/cover`): drawn once (cover_render.py), stored as
a derived object next to the file's own (storage.cover_key, in S3 or local storage alike), then
served from there.

A file's bytes never change, so neither does its cover: the cover's ETag is derived from the
file's SHA-256, and a client that has it gets 304 without storage being touched. The cover key
extends the file's random, never reused key, so a new file (a re-upload after a delete, an
import) never finds an older file's cover; deleting the file deletes the cover with its object
(services.file_delete), and `cleanup_uploads` keeps a cover exactly as long as its file.

A file that gives no cover gets an empty object at its cover key: the verdict is kept like a
cover, so a book without a cover image or a PDF whose rendering runs out of CPU time costs its
attempt once, not on every visit to the library grid. A storage outage while the file is read
is no verdict: it is raised (503) and the next request tries again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from PIL import Image

from . import cover_render, objects, storage
from .deadline import DeadlineExceeded, cpu_deadline
from .errors import NoCover
from .models import File, FileKind

logger = logging.getLogger(__name__)

CONTENT_TYPE = cover_render.COVER_CONTENT_TYPE
# A stored cover is a few KiB; anything this large at a cover key was not written by us.
MAX_COVER_BYTES = 2 * 1024 * 1024
# Browsers may keep a cover this long without asking again; after that a request with
# If-None-Match costs one query and a 304. Not `immutable` and not a year: a better renderer
# should reach clients within days, not never.
CACHE_CONTROL = "private, max-age=604800"


def cover_etag(file: File) -> str:
    # The cover is a function of the file's bytes (its SHA-256) and of this renderer.
    return f'"cover-{file.sha256}"'


def cover_get(*, file: File) -> bytes:
    """The file's cover (WebP bytes), drawn and stored on the first request; NoCover (404
    `no_cover`) when the file gives none."""
    key = storage.cover_key(file.storage_key)
    try:
        stored = objects.read_small(key, max_bytes=MAX_COVER_BYTES)
    except objects.ObjectTooLarge:
        logger.warning("cover object %s is too large; drawing it again", key)
        stored = None
    if stored is None:
        try:
            stored = _draw(file)
        except FileNotFoundError:  # the file's own object is missing: no verdict to keep
            logger.warning("file %s has no object at %s", file.id, file.storage_key)
            raise NoCover("This file has no cover; show a placeholder.") from None
        objects.store_small(key, stored, content_type=CONTENT_TYPE)
    if not stored:
        raise NoCover("This file has no cover; show a placeholder.")
    return stored


def _draw(file: File) -> bytes:
    """The cover's bytes, or b"" (the stored verdict) when the file gives none."""
    limit = settings.COVER_CPU_SECONDS
    with _open(file) as stream:
        try:
            with cpu_deadline(limit):
                image = _image(file, stream)
                return cover_render.encode(image)
        except cover_render.Unrenderable as exc:
            reason = str(exc)
        except DeadlineExceeded:
            reason = f"drawing took more than {limit:g} CPU-seconds"
        # The renderers turn read errors into verdicts: an outage while reading is no verdict.
        failed = getattr(getattr(stream, "raw", None), "error", None)
        if failed is not None and storage.is_outage(failed):
            raise failed
    logger.info("no cover for file %s (%s): %s", file.id, file.content_type, reason)
    return b""


def _image(file: File, stream: IO[bytes]) -> Image.Image:
    if file.kind == FileKind.PDF:
        local = None if storage.is_s3() else storage.get_storage().path(file.storage_key)
        return cover_render.pdf_cover(stream, path=local)
    if file.kind == FileKind.EPUB:
        cover = (file.metadata or {}).get("cover")
        return cover_render.epub_cover(stream, cover_path=cover if isinstance(cover, str) else None)
    image_format = cover_render.IMAGE_FORMATS.get(file.content_type)
    if image_format is None:
        raise cover_render.Unrenderable(f"no image format for {file.content_type}")
    return cover_render.image_cover(stream, formats=[image_format])


@contextlib.contextmanager
def _open(file: File) -> Iterator[IO[bytes]]:
    # Ranged reads on S3, within a budget of a few times the file's size (objects.open_object):
    # a parser that wanders over a hostile file stops instead of reading without end.
    with objects.open_object(file.storage_key, max_read_factor=2) as stream:
        yield stream
