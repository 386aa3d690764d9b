"""Reading stored objects back: their head, a prefix, a stream, a copy, or a seekable view that
fetches only the ranges a parser asks for (`RangedObject`, within a byte budget), each pinned
to the object's ETag so a replaced object is never read half old, half new. Through the client
that skips botocore's response checksums (see storage.py)."""

from __future__ import annotations

import contextlib
import io
import logging
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from botocore.exceptions import ClientError

from . import storage

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
            raise ValueError(f"negative seek position {position}")
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
