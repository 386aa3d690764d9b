"""Reading stored objects back: their head, a prefix, a stream, a copy, or a seekable view that
fetches only the ranges a parser asks for (`RangedObject`, within a byte budget), each pinned
to the object's ETag so a replaced object is never read half old, half new. Through the client
that skips botocore's response checksums (see storage.py).

And writing an object of unknown length as a stream (`object_writer`: an export archive built
while it is written): on S3 a multipart upload, one part in memory at a time; on local storage
a temporary file renamed into place. Either way the object appears whole or not at all."""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import tempfile
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import ClientError

from . import multipart, storage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Head:
    size: int
    # Every later read of the object passes it as If-Match: all of them see the same bytes.
    etag: str


def object_head(key: str) -> Head | None:
    target = storage.s3()
    try:
        head = target.client.head_object(Bucket=target.bucket, Key=target.key(key))
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise
    return Head(size=int(head["ContentLength"]), etag=str(head["ETag"]))


def object_size(key: str) -> int | None:
    head = object_head(key)
    return head.size if head is not None else None


def _get(key: str, *, etag: str, byte_range: str | None = None) -> dict[str, Any]:
    target = storage.s3()
    params = {"Bucket": target.bucket, "Key": target.key(key), "IfMatch": etag}
    if byte_range is not None:
        params["Range"] = byte_range
    return dict(storage.read_client(target.storage).get_object(**params))


def read_head(key: str, length: int, *, etag: str) -> bytes:
    body = _get(key, etag=etag, byte_range=f"bytes=0-{length - 1}")["Body"]
    with body:
        return bytes(body.read(length))


def iter_object(key: str, *, etag: str, chunk_bytes: int = storage.DOWNLOAD_CHUNK) -> Iterator[bytes]:
    """The whole object in one GET, as chunks of `chunk_bytes` (the last one shorter). Each chunk
    is the bytes object the socket was read into: nothing is copied on the way, and a body that
    ends early raises (botocore checks the Content-Length)."""
    body = _get(key, etag=etag)["Body"]
    with body:
        yield from body.iter_chunks(chunk_bytes)


def download(key: str, destination: IO[bytes], *, etag: str) -> int:
    """Copy the object into `destination`; its size."""
    size = 0
    for chunk in iter_object(key, etag=etag):
        destination.write(chunk)
        size += len(chunk)
    destination.flush()
    return size


class ReadBudgetExceeded(OSError):
    """A `RangedObject` was asked for more requests or bytes than it may read."""


class RangedObject(io.RawIOBase):
    """A read-only, seekable file over one S3 object whose reads are ranged GETs, all pinned to
    `etag`. Wrap it in `io.BufferedReader` for small reads.

    Parsers seek back and forth (pypdf reads a PDF's trailer backwards, then the objects; a zip
    is read from its end, then entry by entry; the metadata pass reads it all again), and
    BufferedReader drops its buffer on most seeks. So reads are served from blocks of
    `block_bytes`, aligned, of which the last CACHED_BLOCKS stay in memory. A miss fetches one
    block, or more when it follows the previous fetch (the run doubles up to
    READ_AHEAD_BLOCKS): a sequential scan costs a few requests. A read of at least two blocks
    goes straight into the caller's buffer.

    At most `max_requests` GETs and `max_bytes` bytes: a file whose parser wanders all over it
    stops with ReadBudgetExceeded instead of turning into thousands of requests. The parsers
    catch broad exceptions and turn them into verdicts of their own, so the first failure
    (budget or storage) is also kept in `error`; once it is set, every read fails."""

    CACHED_BLOCKS = 32
    READ_AHEAD_BLOCKS = 8

    def __init__(
        self, key: str, *, size: int, etag: str, max_requests: int, max_bytes: int, block_bytes: int
    ) -> None:
        super().__init__()
        self.key, self.size, self.etag = key, size, etag
        self.max_requests, self.max_bytes, self.block_bytes = max_requests, max_bytes, block_bytes
        self.requests = 0
        self.bytes_read = 0
        self.error: BaseException | None = None
        self._position = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._next_block = -1  # the block after the last fetched run
        self._run = 1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence!r}")
        if position < 0:
            # As a file answers (zipfile relies on it to tell a tiny archive from a zip64 one).
            raise OSError(errno.EINVAL, f"negative seek position {position}")
        self._position = position
        return position

    def _check_not_failed(self) -> None:
        if self.error is not None:
            raise OSError(f"an earlier read of {self.key} failed") from self.error

    def readinto(self, buffer: Any) -> int:
        self._check_not_failed()
        view = memoryview(buffer).cast("B")
        start = self._position
        length = max(0, min(len(view), self.size - start))
        if length == 0:
            return 0
        if length >= 2 * self.block_bytes:
            with self._request(start, length) as body:
                filled = 0
                while filled < length:
                    count = body.readinto(view[filled:length])
                    if not count:
                        raise OSError(f"{self.key} ended after {start + filled} bytes")
                    filled += count
        else:
            index, offset = divmod(start, self.block_bytes)
            block = self._block(index)
            length = min(length, len(block) - offset)
            view[:length] = block[offset : offset + length]
        self._position = start + length
        return length

    def readall(self) -> bytes:
        """The rest: from the blocks when it is short, else in one request (the default would
        ask for 8 KiB at a time)."""
        start = self._position
        length = max(0, self.size - start)
        if length < 2 * self.block_bytes:
            data = bytearray(length)
            filled = 0
            while filled < length:
                filled += self.readinto(memoryview(data)[filled:])
            return bytes(data)
        with self._request(start, length) as body:  # charged before anything is allocated
            rest: bytes = body.read()  # botocore raises if fewer bytes than announced arrive
        self._position = start + length
        return rest

    def _block(self, index: int) -> bytes:
        block = self._blocks.get(index)
        if block is not None:
            self._blocks.move_to_end(index)
            return block
        self._run = min(2 * self._run, self.READ_AHEAD_BLOCKS) if index == self._next_block else 1
        count = next((n for n in range(1, self._run) if index + n in self._blocks), self._run)
        start = index * self.block_bytes
        with self._request(start, min(count * self.block_bytes, self.size - start)) as body:
            data: bytes = body.read()
        for n in range(count):
            piece = data[n * self.block_bytes : (n + 1) * self.block_bytes]
            if piece:
                self._blocks[index + n] = piece
        self._next_block = index + count
        while len(self._blocks) > self.CACHED_BLOCKS:
            self._blocks.popitem(last=False)
        return self._blocks[index]

    @contextlib.contextmanager
    def _request(self, start: int, length: int) -> Iterator[Any]:
        """The body of one GET of `length` bytes from `start`, charged to the budget; any
        failure is kept in `error`."""
        self._check_not_failed()
        if self.requests + 1 > self.max_requests or self.bytes_read + length > self.max_bytes:
            self.error = ReadBudgetExceeded(
                f"reading {self.key} needs more than {self.max_requests} requests or {self.max_bytes} bytes"
            )
            raise self.error
        self.requests += 1
        self.bytes_read += length
        end = start + length - 1
        try:
            response = _get(self.key, etag=self.etag, byte_range=f"bytes={start}-{end}")
            with response["Body"] as body:
                # A server that ignored the Range would send other bytes than asked for.
                if response.get("ContentRange") != f"bytes {start}-{end}/{self.size}":
                    raise OSError(f"S3 answered {response.get('ContentRange')!r} to a ranged read")
                yield body
        except Exception as exc:  # a read failure; not an interruption (inspection's CPU deadline)
            self.error = exc
            raise


# --- reading an object as a seekable file (S3 or local) ----------------------------------------

# A sequential read through RangedObject: reads of two blocks or more go straight into the
# caller's buffer; the buffer in front of it makes small reads (a zip's headers, lines of text)
# cost one request per STREAM_BUFFER_BYTES. At most RangedObject.CACHED_BLOCKS blocks are kept.
STREAM_BLOCK_BYTES = 256 * 1024
STREAM_BUFFER_BYTES = 1024 * 1024


def stored_size(key: str) -> int | None:
    """The size of the object at `key` in either storage; None when there is none."""
    if storage.is_s3():
        return object_size(key)
    target = storage.get_storage()
    return int(target.size(key)) if target.exists(key) else None


@contextlib.contextmanager
def open_object(key: str, *, max_read_factor: int = 4) -> Iterator[IO[bytes]]:
    """The object at `key` as a seekable binary file, in either storage. On S3 reads are ranged
    GETs pinned to the object's ETag (a replaced object fails the next read instead of mixing
    old and new bytes), with a budget of `max_read_factor` times its size: a reader that seeks
    back and forth over a hostile file stops instead of reading without end."""
    if not storage.is_s3():
        with storage.open_local(key) as local:
            yield local
        return
    head = object_head(key)
    if head is None:
        raise FileNotFoundError(key)
    raw = RangedObject(
        key,
        size=head.size,
        etag=head.etag,
        max_requests=max(1024, max_read_factor * (head.size // STREAM_BLOCK_BYTES + 1)),
        max_bytes=max_read_factor * head.size + 64 * 1024 * 1024,
        block_bytes=STREAM_BLOCK_BYTES,
    )
    with io.BufferedReader(raw, STREAM_BUFFER_BYTES) as stream:
        yield stream


# --- writing an object as a stream -------------------------------------------------------------


class ObjectWriter(io.RawIOBase):
    """A write-only, non-seekable binary file whose bytes become one stored object when
    `finish()` is called (`abort()` drops them). `tell()` is the bytes written, which is what
    zipfile needs to write an archive into it as a stream."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._write(view)
        self.size += len(view)
        return len(view)

    # io.RawIOBase is an ABC: the two writers below (S3, local files) must define these.
    @abstractmethod
    def _write(self, view: memoryview) -> None:
        """Take the next bytes (the caller counts them)."""

    @abstractmethod
    def finish(self) -> None:
        """Store what was written as the object."""

    @abstractmethod
    def abort(self) -> None:
        """Drop what was written; nothing is stored."""


class _S3Writer(ObjectWriter):
    """A multipart upload fed part by part: one buffer of `part_bytes`, filled and sent as it is
    (no copy), then filled again — allocated once, so memory stays flat for any size. S3 allows
    10,000 parts, so every thousand parts the part size doubles (16 MiB parts reach 16 GB in the
    first thousand, and far beyond any archive before the limit). An object smaller than one
    part is stored with a single PUT."""

    def __init__(self, key: str, *, content_type: str, part_bytes: int) -> None:
        super().__init__()
        self.key, self.content_type, self.part_bytes = key, content_type, part_bytes
        self.upload_id: str | None = None
        self.parts: list[multipart.Part] = []
        self._buffer = bytearray(part_bytes)
        self._filled = 0

    def _part_size(self) -> int:
        return self.part_bytes * 2 ** (len(self.parts) // 1000)

    def _write(self, view: memoryview) -> None:
        while view:
            taken = view[: len(self._buffer) - self._filled]
            self._buffer[self._filled : self._filled + len(taken)] = taken
            self._filled += len(taken)
            view = view[len(taken) :]
            if self._filled == len(self._buffer):
                self._send(self._buffer)
                self._filled = 0
                if len(self._buffer) != self._part_size():
                    self._buffer = bytearray(self._part_size())

    def _send(self, body: bytearray) -> None:
        if self.upload_id is None:
            self.upload_id = multipart.multipart_create(self.key, content_type=self.content_type)
        number = len(self.parts) + 1
        self.parts.append(
            multipart.multipart_upload_part(self.key, upload_id=self.upload_id, number=number, body=body)
        )

    def finish(self) -> None:
        rest = self._buffer[: self._filled]
        if self.upload_id is None:  # smaller than one part: one PUT
            target = storage.s3()
            target.client.put_object(
                Bucket=target.bucket, Key=target.key(self.key), Body=rest, ContentType=self.content_type
            )
        else:
            if rest:
                self._send(rest)
            multipart.multipart_complete(self.key, upload_id=self.upload_id, parts=self.parts)
        self._buffer, self._filled = bytearray(), 0

    def abort(self) -> None:
        self._buffer, self._filled = bytearray(), 0
        if self.upload_id is not None:
            try:
                multipart.multipart_abort(self.key, upload_id=self.upload_id)
            except storage.STORAGE_ERRORS:
                logger.warning("could not abort the multipart upload of %s", self.key, exc_info=True)


class _LocalWriter(ObjectWriter):
    """A temporary file in the storage's own folder, renamed to the key when finished."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.path = Path(storage.get_storage().path(key))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(prefix=".writing-", dir=self.path.parent)
        self._file = os.fdopen(descriptor, "wb")
        self._temporary = Path(name)

    def _write(self, view: memoryview) -> None:
        self._file.write(view)

    def finish(self) -> None:
        self._file.close()
        os.replace(self._temporary, self.path)

    def abort(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)


def new_object_writer(key: str, *, content_type: str, part_bytes: int) -> ObjectWriter:
    """A stream whose bytes are stored under `key` when `finish()` is called; `abort()` drops
    them. On S3 at most one part of `part_bytes` is held in memory."""
    if storage.is_s3():
        return _S3Writer(key, content_type=content_type, part_bytes=part_bytes)
    return _LocalWriter(key)


@contextlib.contextmanager
def object_writer(key: str, *, content_type: str, part_bytes: int) -> Iterator[ObjectWriter]:
    """`new_object_writer` for a block: finished when it ends, aborted if it raises."""
    writer = new_object_writer(key, content_type=content_type, part_bytes=part_bytes)
    try:
        yield writer
        writer.finish()
    except BaseException:
        writer.abort()
        raise


# --- small derived objects (covers) --------------------------------------------------------------


class ObjectTooLarge(OSError):
    """A small object (`read_small`) is larger than its caller allows."""


def read_small(key: str, *, max_bytes: int) -> bytes | None:
    """The whole object at `key`, in either storage, in one request; None when there is none.
    For small objects the server wrote itself (covers): anything over `max_bytes` raises
    ObjectTooLarge instead of being read into memory."""
    if not storage.is_s3():
        try:
            with storage.open_local(key) as local:
                data = local.read(max_bytes + 1)
        except FileNotFoundError:
            return None
    else:
        target = storage.s3()
        try:
            client = storage.read_client(target.storage)
            response = client.get_object(Bucket=target.bucket, Key=target.key(key))
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None
            raise
        with response["Body"] as body:
            if int(response.get("ContentLength") or 0) > max_bytes:
                raise ObjectTooLarge(f"{key} is larger than {max_bytes} bytes")
            data = body.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ObjectTooLarge(f"{key} is larger than {max_bytes} bytes")
    return bytes(data)


def store_small(key: str, data: bytes, *, content_type: str) -> None:
    """Store `data` at `key` whole or not at all: one PUT on S3 (no multipart buffer for a few
    kilobytes), a temporary file renamed into place locally."""
    if storage.is_s3():
        target = storage.s3()
        target.client.put_object(
            Bucket=target.bucket, Key=target.key(key), Body=data, ContentType=content_type
        )
        return
    writer = _LocalWriter(key)
    try:
        writer.write(data)
        writer.finish()
    except BaseException:
        writer.abort()
        raise
