"""Where the bytes live: Django's default storage (django-storages S3 in production, local files
on a laptop), plus the S3 calls the storage API has no words for (multipart uploads, presigned
part URLs, ranged reads, listings).

Object keys are `users/<owner id>/<random hex>`: generated here, never derived from a user's
file name. The boto3 client is the storage's own (`S3Storage.connection`), so endpoint, keys,
region, path-style addressing and s3v4 signing are the very same settings. The storage is looked
up on every call (not cached at import) so `override_settings(STORAGES=...)` takes effect.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, BinaryIO

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from django.core.files import File as DjangoFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.utils.http import content_disposition_header

from .errors import DirectUploadUnavailable

logger = logging.getLogger(__name__)

PREFIX = "users/"
# Presigned part URLs live at most this long (a new set is one GET away).
MAX_PART_URL_SECONDS = 15 * 60
DOWNLOAD_CHUNK = 1024 * 1024
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
    storage: Any = get_storage()  # S3Storage.url takes presigning parameters
    return str(
        storage.url(
            key,
            parameters={
                "ResponseContentDisposition": content_disposition_header(True, filename),
                "ResponseContentType": content_type,
            },
            expire=min(int(getattr(storage, "querystring_expire", 300)), 300),
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


def presign_part(key: str, *, upload_id: str, number: int, expires: int) -> str:
    target = s3()
    return str(
        target.client.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": target.bucket,
                "Key": target.key(key),
                "UploadId": upload_id,
                "PartNumber": number,
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


def object_size(key: str) -> int | None:
    target = s3()
    try:
        head = target.client.head_object(Bucket=target.bucket, Key=target.key(key))
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise
    return int(head["ContentLength"])


def read_head(key: str, length: int) -> bytes:
    target = s3()
    response = target.client.get_object(
        Bucket=target.bucket, Key=target.key(key), Range=f"bytes=0-{length - 1}"
    )
    return bytes(response["Body"].read(length))


def download(key: str, destination: IO[bytes]) -> tuple[str, int]:
    """Copy the object into `destination` in bounded chunks; its SHA-256 and size."""
    target = s3()
    body = target.client.get_object(Bucket=target.bucket, Key=target.key(key))["Body"]
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in body.iter_chunks(DOWNLOAD_CHUNK):
            digest.update(chunk)
            destination.write(chunk)
            size += len(chunk)
    finally:
        body.close()
    destination.flush()
    return digest.hexdigest(), size


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
