"""What a library file is, learnt from its bytes: the verified type (415 otherwise), metadata and
KOReader's document hash — from a local file, or from the object a direct upload left in S3.

A local file (the streamed upload's temporary file) is inspected in place: `inspect_file`.

An object in S3 (`inspect_object`, run by `POST /v1/files/uploads/{id}/complete`) is never
copied to disk:
1. HEAD: the size must be the declared one; the ETag pins every later read to these bytes.
2. One ranged GET of the first 4 KiB: bytes that are no accepted type are refused (415) here.
3. One GET of the whole object, read in 8 MiB chunks straight from the socket: SHA-256, and on
   the way KOReader's samples and, for an image, the markup scan (the only check that needs
   every byte). A digest other than the declared one is 422 `checksum_mismatch`, nothing else
   read.
4. The type and structure checks and the metadata, through a seekable file over the object
   whose reads are ranged GETs (`objects.RangedObject` behind an `io.BufferedReader`): a PDF's
   trailer, cross-reference table and a few objects, a zip's central directory and the entries
   the checks open, an image's header (a PNG's chunks: Pillow's `verify` checks every CRC).
   An object that fits in one read of step 3 is inspected from that read instead: it is
   already in memory, and ranged GETs would only cost requests.
   At most RANGE_MAX_REQUESTS requests and RANGE_MAX_BYTES bytes: a file that needs more (a
   PDF whose cross-reference table pypdf has to rebuild by reading everything, a large PNG, an
   EPUB of thousands of entries spread between large ones) is copied to a temporary file once
   and inspected from there, as every completion was before: same checks, same verdicts.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings

from apps.common.errors import ErrorCode

from . import hashing, metadata, objects, sniffing
from .deadline import DeadlineExceeded, cpu_deadline
from .errors import UnsupportedFileType, UploadVerificationFailed
from .models import FileKind

logger = logging.getLogger(__name__)

# Step 3's reads. An object no larger is inspected from memory.
HASH_READ_BYTES = 8 * 1024 * 1024
# Step 4: the blocks of the ranged reads (see objects.RangedObject), the buffer in front of them
# (small reads: pypdf reads a byte at a time in places), and the budget of one inspection.
RANGE_BLOCK_BYTES = 256 * 1024
RANGE_BUFFER_BYTES = 64 * 1024
RANGE_MAX_REQUESTS = 64
RANGE_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Inspection:
    detected: sniffing.Detected
    metadata: dict[str, Any]
    metadata_error: str | None
    koreader_hash: str


def inspect_file(
    stream: IO[bytes], *, koreader_hash: str | None = None, markup: sniffing.MarkupScan | None = None
) -> Inspection:
    """Everything learnt from the file open in `stream` (seekable): verified type (raises
    UnsupportedFileType), metadata, KOReader's hash. A caller that streamed the whole file already
    passes what it computed on the way: the KOReader hash and, for an image, the markup scan."""
    limit = settings.FILE_INSPECTION_CPU_SECONDS
    try:
        with cpu_deadline(limit):
            detected = sniffing.detect(stream, markup=markup)
    except DeadlineExceeded:
        raise UnsupportedFileType(
            f"Checking this file took more than {limit:g} CPU-seconds; it was not stored.",
            reason="inspection_timeout",
        ) from None
    try:
        with cpu_deadline(limit):
            meta, error = metadata.extract(stream, detected)
    except DeadlineExceeded:  # the file passed its checks: keep it, without metadata
        meta, error = {}, f"metadata extraction took more than {limit:g} CPU-seconds"
    if koreader_hash is None:
        koreader_hash = hashing.koreader_partial_md5(stream)
    return Inspection(detected=detected, metadata=meta, metadata_error=error, koreader_hash=koreader_hash)


@dataclass
class _Streamed:
    sha256: str
    size: int
    koreader_hash: str
    markup: sniffing.MarkupScan | None
    content: bytes | None  # the whole object, when it came in one read


def _hash_pass(key: str, head: objects.Head, *, scan_markup: bool) -> _Streamed:
    digest = hashlib.sha256()
    koreader = hashing.KoreaderSampler()
    markup = sniffing.MarkupScan() if scan_markup else None
    size = reads = 0
    first = b""
    for chunk in objects.iter_object(key, etag=head.etag, chunk_bytes=HASH_READ_BYTES):
        digest.update(chunk)
        koreader.update(chunk)
        if markup is not None:
            markup.update(chunk)
        first = chunk if reads == 0 else b""
        reads += 1
        size += len(chunk)
    return _Streamed(
        sha256=digest.hexdigest(),
        size=size,
        koreader_hash=koreader.hexdigest(),
        markup=markup,
        content=first if reads == 1 else None,
    )


def _size_mismatch(size: int | None, declared: int) -> UploadVerificationFailed:
    return UploadVerificationFailed(
        f"The stored object has {size} bytes, the upload declared {declared}.", code=ErrorCode.SIZE_MISMATCH
    )


def inspect_object(
    key: str,
    *,
    size: int,
    sha256: str,
    in_memory_max: int = HASH_READ_BYTES,
    max_requests: int = RANGE_MAX_REQUESTS,
    max_bytes: int = RANGE_MAX_BYTES,
) -> Inspection:
    """Check that the object at `key` has the declared size and SHA-256 (UploadVerificationFailed
    otherwise) and inspect it (see the module docstring). The keyword limits are for tests."""
    head = objects.object_head(key)
    if head is None or head.size != size:
        raise _size_mismatch(head.size if head else None, size)
    sniffed = sniffing.sniff(objects.read_head(key, sniffing.HEAD_BYTES, etag=head.etag))
    if sniffed is None:
        raise sniffing.unrecognised()
    streamed = _hash_pass(key, head, scan_markup=sniffed.kind == FileKind.IMAGE)
    if streamed.size != size:
        raise _size_mismatch(streamed.size, size)
    if streamed.sha256 != sha256:
        raise UploadVerificationFailed(
            "The SHA-256 of the stored object differs from the declared one.",
            code=ErrorCode.CHECKSUM_MISMATCH,
        )
    koreader_hash, markup = streamed.koreader_hash, streamed.markup
    if streamed.content is not None and size <= in_memory_max:
        return inspect_file(io.BytesIO(streamed.content), koreader_hash=koreader_hash, markup=markup)

    raw = objects.RangedObject(
        key,
        size=size,
        etag=head.etag,
        max_requests=max_requests,
        max_bytes=max_bytes,
        block_bytes=RANGE_BLOCK_BYTES,
    )
    inspection: Inspection | None = None
    with io.BufferedReader(raw, RANGE_BUFFER_BYTES) as stream:
        try:
            inspection = inspect_file(stream, koreader_hash=koreader_hash, markup=markup)
        except Exception:
            # The parsers turn read errors into verdicts of their own: a verdict reached after
            # a read failed says nothing about the file.
            if raw.error is None:
                raise
    logger.debug("inspected %s in %d ranged reads (%d bytes)", key, raw.requests, raw.bytes_read)
    if raw.error is None:
        assert inspection is not None
        return inspection
    if not isinstance(raw.error, objects.ReadBudgetExceeded):
        raise raw.error
    logger.info("%s: %s; inspecting a temporary copy", key, raw.error)
    with tempfile.NamedTemporaryFile(prefix="upload-", dir=settings.FILE_UPLOAD_TEMP_DIR) as spool:
        objects.download(key, spool, etag=head.etag)
        return inspect_file(spool, koreader_hash=koreader_hash, markup=markup)
