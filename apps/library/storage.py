"""Where the bytes live: Django's default storage (django-storages S3 in production, local files
on a laptop), the S3 handle and its clients, and the calls the storage API has no words for
(listings, batch deletes, bringing back deleted versions). Multipart uploads and presigned part
URLs are in multipart.py, reading stored objects back (ranged, streamed, budgeted) in objects.py.

Object keys are `users/<owner id>/<random hex>`: generated here, never derived from a user's
file name. The boto3 client is the storage's own (`S3Storage.connection`), so endpoint, keys,
region, path-style addressing and s3v4 signing are the very same settings. The storage is looked
up on every call (not cached at import) so `override_settings(STORAGES=...)` takes effect.

Reading an object back to verify it (objects.py: `iter_object`, `RangedObject`, `read_head`,
`download`) goes through a second client built from the same settings with one difference: botocore does not
validate S3's response checksums. Since botocore 1.36 it asks for them on every GetObject and,
when S3 sends a whole-object CRC (objects stored in one PUT; CRC64NVME on AWS when awscrt is
installed), computes it over every byte read. Those reads already compute a SHA-256 over every
byte and compare it with the digest the client declared, which is the stronger check; a second
pass in CRC32 was a second full pass (figures: docs/benchmarks.md). Ranged responses never carry one.
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import urlsplit

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


# A file's cover (covers.py) is a derived object stored next to the file's own: the file's key
# plus this suffix. File keys are random and never reused, so a new file (a re-upload, an
# import) can never find an older file's cover; the cover goes when its file's object goes.
COVER_SUFFIX = ".cover"


def cover_key(key: str) -> str:
    return f"{key}{COVER_SUFFIX}"


def cover_of(key: str) -> str | None:
    """The key of the file whose cover `key` is, or None when `key` is no cover."""
    return key.removesuffix(COVER_SUFFIX) if key.endswith(COVER_SUFFIX) else None


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


# What S3 answers a presigned download with: a user's file may be kept by the browser that asked
# for it, never by a shared cache (a CDN or proxy between the client and S3) that would hand it
# to the next request for the same path, after the URL expired or the file was deleted.
DOWNLOAD_CACHE_CONTROL = "private"


def download_url(key: str, *, filename: str, content_type: str) -> str:
    """A short-lived presigned GET that makes S3 answer as an attachment of the right type and
    uncacheable by shared caches. The response-* parameters are part of the signature: a URL
    with any of them removed or changed is refused (403)."""
    target = s3()
    return str(
        presign_client(target.storage).generate_presigned_url(
            "get_object",
            Params={
                "Bucket": target.bucket,
                "Key": target.key(key),
                "ResponseContentDisposition": content_disposition_header(True, filename),
                "ResponseContentType": content_type,
                "ResponseCacheControl": DOWNLOAD_CACHE_CONTROL,
            },
            ExpiresIn=min(int(getattr(target.storage, "querystring_expire", 300)), 300),
        )
    )


# --- S3 only ---------------------------------------------------------------------------------


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


def read_client(storage: Any) -> Any:
    """The client for reading objects back (see the module docstring)."""
    return _client(
        storage,
        "read",
        endpoint_url=storage.endpoint_url,
        config=Config(response_checksum_validation="when_required"),
    )


def presign_client(storage: Any) -> Any:
    """The client that signs URLs handed to API clients: for S3_PUBLIC_ENDPOINT_URL when set.
    Inside a cluster the app often reaches S3 at an address phones and browsers cannot
    (`http://minio.storage.svc:9000`); a presigned URL is signed for its host, so it must be
    made for the public one, not rewritten afterwards. Presigning sends no request."""
    public = settings.S3_PUBLIC_ENDPOINT_URL
    if not public:
        return storage.connection.meta.client
    return _client(storage, "presign", endpoint_url=public)


def browser_origin() -> str | None:
    """The origin a browser reaches presigned URLs at (scheme://host[:port]), for the web page's
    Content-Security-Policy `connect-src` and the bucket's CORS rule; None on local storage. Read
    off a presigned URL rather than rebuilt from settings: path-style or virtual-hosted, custom
    endpoint or AWS's regional name, it is exactly what download_url() hands out."""
    storage = get_storage()
    if not is_s3(storage):
        return None
    target = s3()
    try:
        url = presign_client(target.storage).generate_presigned_url(
            "get_object", Params={"Bucket": target.bucket, "Key": target.key("probe")}, ExpiresIn=60
        )
    except (BotoCoreError, ClientError):
        # No credentials yet (a misconfigured pod): the page still renders; its files will not.
        logger.warning("storage: cannot presign, the web page's CSP names no S3 origin", exc_info=True)
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# What the web client does with S3 from the page: read a file's bytes (a fetch that follows the
# content route's redirect) and PUT the parts of a direct upload, whose ETag it may read.
CORS_METHODS = ["GET", "HEAD", "PUT"]
CORS_EXPOSE = ["ETag", "Content-Length", "Content-Range"]
CORS_MAX_AGE = 3600


def cors_rule(origins: list[str]) -> dict[str, Any]:
    return {
        "ID": "exampleapp-web",
        "AllowedOrigins": sorted(origins),
        "AllowedMethods": CORS_METHODS,
        "AllowedHeaders": ["*"],
        "ExposeHeaders": CORS_EXPOSE,
        "MaxAgeSeconds": CORS_MAX_AGE,
    }


def apply_cors(origins: list[str]) -> bool:
    """Make the bucket's CORS rule the web client's (idempotent). True when it changed. Other
    rules an operator keeps on the bucket stay; ours is found by its ID."""
    target = s3()
    client = target.storage.connection.meta.client
    try:
        rules = client.get_bucket_cors(Bucket=target.bucket)["CORSRules"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchCORSConfiguration":
            raise
        rules = []
    others = [rule for rule in rules if rule.get("ID") != "exampleapp-web"]
    wanted = [*others, cors_rule(origins)] if origins else others
    if wanted == rules:
        return False
    if wanted:
        client.put_bucket_cors(Bucket=target.bucket, CORSConfiguration={"CORSRules": wanted})
    else:
        client.delete_bucket_cors(Bucket=target.bucket)
    return True


def s3() -> S3:
    storage = get_storage()
    if not is_s3(storage):
        raise DirectUploadUnavailable(
            "Direct uploads need S3 storage; this server keeps files locally. Use POST /v1/files."
        )
    return S3(storage)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


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
    for key, upload_id, _ in multipart_uploads_started(prefix):
        yield key, upload_id


def multipart_uploads_started(prefix: str) -> Iterator[tuple[str, str, datetime]]:
    """(storage name, upload id, when it was started) of the multipart uploads in progress
    under `prefix` (S3 only)."""
    if not is_s3():
        return
    target = s3()
    paginator = target.client.get_paginator("list_multipart_uploads")
    for page in paginator.paginate(Bucket=target.bucket, Prefix=target.key(prefix)):
        for entry in page.get("Uploads", ()):
            yield target.name(str(entry["Key"])), str(entry["UploadId"]), entry["Initiated"]


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


def undelete(key: str) -> bool:
    """Bring back a deleted object of a versioned bucket (S3 only): remove the delete markers
    that hide its newest stored version, which becomes the current object again (same bytes,
    same version id; nothing is copied). True when the object is there afterwards; False when
    no stored version is left (a bucket without versioning, or a version already expired by the
    bucket's lifecycle rule). An object that is there is left alone."""
    target = s3()
    raw = target.key(key)
    paginator = target.client.get_paginator("list_object_versions")
    versions: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    for page in paginator.paginate(Bucket=target.bucket, Prefix=raw):
        # The prefix also matches longer keys: only this exact key counts.
        versions += [v for v in page.get("Versions", ()) if v["Key"] == raw]
        markers += [m for m in page.get("DeleteMarkers", ()) if m["Key"] == raw]
    if any(v.get("IsLatest") for v in versions):
        return True
    if not versions:
        return False
    newest = max(versions, key=lambda v: v["LastModified"])
    for marker in markers:
        if marker["LastModified"] >= newest["LastModified"]:
            target.client.delete_object(Bucket=target.bucket, Key=raw, VersionId=marker["VersionId"])
    return True


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
