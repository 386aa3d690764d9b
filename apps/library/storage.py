"""Where the bytes live: Django's default storage (django-storages S3 in production, local files
on a laptop), plus the S3 calls the storage API has no words for (multipart uploads, presigned
part URLs, ranged reads, listings).

Object keys are `users/<owner id>/<random hex>`: generated here, never derived from a user's
file name. The boto3 client is the storage's own (`S3Storage.connection`), so endpoint, keys,
region, path-style addressing and s3v4 signing are the very same settings. The storage is looked
up on every call (not cached at import) so `override_settings(STORAGES=...)` takes effect.

Reading an object back to verify it (`iter_object`, `RangedObject`, `read_head`, `download`)
goes through a second client built from the same settings with one difference: botocore does not
validate S3's response checksums. Since botocore 1.36 it asks for them on every GetObject and,
when S3 sends a whole-object CRC (objects stored in one PUT; CRC64NVME on AWS when awscrt is
installed), computes it over every byte read. Those reads already compute a SHA-256 over every
byte and compare it with the digest the client declared, which is the stronger check; a second
pass in CRC32 was a second full pass (figures: docs/benchmarks.md). Ranged responses never carry one.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, BinaryIO

from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files import File as DjangoFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.utils.http import content_disposition_header

from .errors import DirectUploadUnavailable

logger = logging.getLogger(__name__)

PREFIX = "users/"
# Presigned part URLs live at most this long (a new set is one GET away).
MAX_PART_URL_SECONDS = 15 * 60
DOWNLOAD_CHUNK = 8 * 1024 * 1024
DELETE_BATCH = 1000


def get_storage() -> Storage:
    return storages["default"]


def _s3_storage_class() -> type | None:
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # pragma: no cover - django-storages[s3] is a base requirement
        return None
    return S3Storage


def is_s3(storage: Storage | None = None) -> bool:
    cls = _s3_storage_class()
    return cls is not None and isinstance(storage or get_storage(), cls)


def owner_prefix(owner_id: uuid.UUID | str) -> str:
    return f"{PREFIX}{owner_id}/"


def new_key(owner_id: uuid.UUID | str) -> str:
    return f"{owner_prefix(owner_id)}{uuid.uuid4().hex}"


def save(key: str, content: DjangoFile, *, content_type: str) -> str:
    """Store `content` under `key` (S3 streams it in parts from the temporary file; local
    storage moves the file). Returns the key actually used."""
    content.content_type = content_type  # type: ignore[attr-defined]  # S3Storage reads it
    return get_storage().save(key, content)


def open_local(key: str) -> BinaryIO:
    return get_storage().open(key, "rb")  # type: ignore[return-value]


def delete_quietly(keys: Iterable[str]) -> None:
    """Best effort: a failure leaves an orphan that `cleanup_uploads` removes later."""
    storage = get_storage()
    for key in keys:
        try:
            storage.delete(key)
        except Exception:
            logger.warning("could not delete object %s (left for cleanup_uploads)", key, exc_info=True)


def delete_after_commit(keys: list[str], *, using: str) -> None:
    transaction.on_commit(lambda: delete_quietly(keys), using=using)


def download_url(key: str, *, filename: str, content_type: str) -> str:
    """A short-lived presigned GET that makes S3 answer as an attachment of the right type."""
    target = s3()
    return str(
        _presign_client(target.storage).generate_presigned_url(
            "get_object",
            Params={
                "Bucket": target.bucket,
                "Key": target.key(key),
                "ResponseContentDisposition": content_disposition_header(True, filename),
                "ResponseContentType": content_type,
            },
            ExpiresIn=min(int(getattr(target.storage, "querystring_expire", 300)), 300),
        )
    )


# --- S3 only ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    etag: str
    modified: datetime | None = None


@dataclass(frozen=True)
class S3:
    storage: Any

    @property
    def client(self) -> Any:
        return self.storage.connection.meta.client

    @property
    def bucket(self) -> str:
        return str(self.storage.bucket_name)

    def key(self, name: str) -> str:
        # Honour the storage's `location` prefix exactly as its own save() does.
        return str(self.storage._normalize_name(name))

    def name(self, key: str) -> str:
        """The storage name of a raw bucket key (the inverse of `key`)."""
        location = str(getattr(self.storage, "location", "") or "").strip("/")
        return key[len(location) + 1 :] if location and key.startswith(location + "/") else key


# Clients besides the storage's own, made from its session and settings with one difference
# each: per storage instance and variant. boto3 clients are thread-safe.
_clients: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], Any]] = weakref.WeakKeyDictionary()
_clients_lock = threading.Lock()


def _client(storage: Any, purpose: str, *, endpoint_url: str | None, config: Config | None = None) -> Any:
    variant = (purpose, endpoint_url or "")
    with _clients_lock:
        made = _clients.setdefault(storage, {})
        client = made.get(variant)
        if client is None:
            # The storage's own session: its keys, token or profile, exactly as its connection.
            client = storage._create_session().client(
                "s3",
                region_name=storage.region_name,
                use_ssl=storage.use_ssl,
                endpoint_url=endpoint_url,
                config=storage.client_config.merge(config) if config is not None else storage.client_config,
                verify=storage.verify,
            )
            made[variant] = client
    return client


def _read_client(storage: Any) -> Any:
    """The client for reading objects back (see the module docstring)."""
    return _client(
        storage,
        "read",
        endpoint_url=storage.endpoint_url,
        config=Config(response_checksum_validation="when_required"),
    )


def _presign_client(storage: Any) -> Any:
    """The client that signs URLs handed to API clients: for S3_PUBLIC_ENDPOINT_URL when set.
    Inside a cluster the app often reaches S3 at an address phones and browsers cannot
    (`http://minio.storage.svc:9000`); a presigned URL is signed for its host, so it must be
    made for the public one, not rewritten afterwards. Presigning sends no request."""
    public = settings.S3_PUBLIC_ENDPOINT_URL
    if not public:
        return storage.connection.meta.client
    return _client(storage, "presign", endpoint_url=public)


def s3() -> S3:
    storage = get_storage()
    if not is_s3(storage):
        raise DirectUploadUnavailable(
            "Direct uploads need S3 storage; this server keeps files locally. Use POST /v1/files."
        )
    return S3(storage)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def multipart_create(key: str, *, content_type: str) -> str:
    target = s3()
    response = target.client.create_multipart_upload(
        Bucket=target.bucket, Key=target.key(key), ContentType=content_type
    )
    return str(response["UploadId"])


def presign_part(key: str, *, upload_id: str, number: int, size: int, expires: int) -> str:
    """A URL that stores exactly part `number` of `size` bytes. The length is signed (it is one
    of the URL's SignedHeaders), so S3 refuses a PUT of any other length and a declared upload
    cannot grow in storage beyond what its quota reservation counted."""
    target = s3()
    return str(
        _presign_client(target.storage).generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": target.bucket,
                "Key": target.key(key),
                "UploadId": upload_id,
                "PartNumber": number,
                "ContentLength": size,
            },
            ExpiresIn=min(expires, MAX_PART_URL_SECONDS),
        )
    )


class UploadGone(Exception):
    """S3 no longer knows the multipart upload (aborted or expired)."""


def list_parts(key: str, *, upload_id: str) -> list[Part]:
    """Every part S3 lists for the upload. A part sent again replaces the earlier one in S3,
    but SeaweedFS lists both until completion: `selectors.current_parts` picks one per number."""
    target = s3()
    parts: list[Part] = []
    try:
        paginator = target.client.get_paginator("list_parts")
        for page in paginator.paginate(Bucket=target.bucket, Key=target.key(key), UploadId=upload_id):
            parts.extend(
                Part(
                    number=int(entry["PartNumber"]),
                    size=int(entry["Size"]),
                    etag=str(entry["ETag"]),
                    modified=entry.get("LastModified"),
                )
                for entry in page.get("Parts", ())
            )
    except ClientError as exc:
        if _code(exc) in ("NoSuchUpload", "404", "NoSuchKey"):
            raise UploadGone() from exc
        raise
    return parts


def multipart_complete(key: str, *, upload_id: str, parts: list[Part]) -> None:
    target = s3()
    target.client.complete_multipart_upload(
        Bucket=target.bucket,
        Key=target.key(key),
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]},
    )


def multipart_abort(key: str, *, upload_id: str) -> None:
    target = s3()
    try:
        target.client.abort_multipart_upload(Bucket=target.bucket, Key=target.key(key), UploadId=upload_id)
    except ClientError as exc:
        if _code(exc) not in ("NoSuchUpload", "404"):
            raise


@dataclass(frozen=True)
class Head:
    size: int
    # Every later read of the object passes it as If-Match: all of them see the same bytes.
    etag: str


def object_head(key: str) -> Head | None:
    target = s3()
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
    target = s3()
    params = {"Bucket": target.bucket, "Key": target.key(key), "IfMatch": etag}
    if byte_range is not None:
        params["Range"] = byte_range
    return dict(_read_client(target.storage).get_object(**params))


def read_head(key: str, length: int, *, etag: str) -> bytes:
    body = _get(key, etag=etag, byte_range=f"bytes=0-{length - 1}")["Body"]
    with body:
        return bytes(body.read(length))


def iter_object(key: str, *, etag: str, chunk_bytes: int = DOWNLOAD_CHUNK) -> Iterator[bytes]:
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


# --- listings (cleanup and account purge) ----------------------------------------------------


def list_objects(prefix: str) -> Iterator[tuple[str, datetime]]:
    """(storage name, last modified) of every object under `prefix`, in either storage."""
    storage = get_storage()
    if is_s3(storage):
        target = S3(storage)
        paginator = target.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=target.bucket, Prefix=target.key(prefix)):
            for entry in page.get("Contents", ()):
                yield target.name(str(entry["Key"])), entry["LastModified"]
        return
    yield from _walk_local(storage, prefix.rstrip("/"))


def _walk_local(storage: Storage, directory: str) -> Iterator[tuple[str, datetime]]:
    try:
        directories, files = storage.listdir(directory)
    except FileNotFoundError:
        return
    for name in files:
        key = f"{directory}/{name}"
        yield key, storage.get_modified_time(key)
    for sub in directories:
        yield from _walk_local(storage, f"{directory}/{sub}")


def list_multipart_uploads(prefix: str) -> Iterator[tuple[str, str]]:
    """(storage name, upload id) of the multipart uploads in progress under `prefix` (S3 only)."""
    if not is_s3():
        return
    target = s3()
    paginator = target.client.get_paginator("list_multipart_uploads")
    for page in paginator.paginate(Bucket=target.bucket, Prefix=target.key(prefix)):
        for entry in page.get("Uploads", ()):
            yield target.name(str(entry["Key"])), str(entry["UploadId"])


def delete_objects(keys: list[str]) -> None:
    """Delete objects by storage name, in batches."""
    storage = get_storage()
    if not is_s3(storage):
        delete_quietly(keys)
        return
    target = S3(storage)
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        target.client.delete_objects(
            Bucket=target.bucket, Delete={"Objects": [{"Key": target.key(k)} for k in batch], "Quiet": True}
        )


STORAGE_ERRORS: tuple[type[BaseException], ...] = (ClientError, BotoCoreError, OSError)


def is_outage(exc: BaseException) -> bool:
    """Is `exc` object storage being unreachable or failing (not a client mistake)? Connection
    errors and timeouts, S3's own 5xx answers, and boto3's transfer errors that wrap them."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BotoCoreError):
            return True
        if isinstance(current, ClientError):
            status = current.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            return int(status) >= 500
        if isinstance(current, Boto3Error):  # S3UploadFailedError, RetriesExceededError
            return True
        current = current.__cause__ or current.__context__
    return False
