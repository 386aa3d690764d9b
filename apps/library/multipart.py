"""S3 multipart uploads: for direct uploads, open one, sign a URL per part (its size signed in,
so a part cannot be larger than promised), list what arrived, complete or abort; for objects
the server writes itself in parts (objects.ObjectWriter), upload a part."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import ClientError

from . import storage


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    etag: str
    modified: datetime | None = None


def multipart_create(key: str, *, content_type: str) -> str:
    target = storage.s3()
    response = target.client.create_multipart_upload(
        Bucket=target.bucket, Key=target.key(key), ContentType=content_type
    )
    return str(response["UploadId"])


def presign_part(key: str, *, upload_id: str, number: int, size: int, expires: int) -> str:
    """A URL that stores exactly part `number` of `size` bytes. The length is signed (it is one
    of the URL's SignedHeaders), so S3 refuses a PUT of any other length and a declared upload
    cannot grow in storage beyond what its quota reservation counted."""
    target = storage.s3()
    return str(
        storage.presign_client(target.storage).generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": target.bucket,
                "Key": target.key(key),
                "UploadId": upload_id,
                "PartNumber": number,
                "ContentLength": size,
            },
            ExpiresIn=min(expires, storage.MAX_PART_URL_SECONDS),
        )
    )


class UploadGone(Exception):
    """S3 no longer knows the multipart upload (aborted or expired)."""


def list_parts(key: str, *, upload_id: str) -> list[Part]:
    """Every part S3 lists for the upload. A part sent again replaces the earlier one in S3,
    but SeaweedFS lists both until completion: `selectors.current_parts` picks one per number."""
    target = storage.s3()
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
        if storage.error_code(exc) in ("NoSuchUpload", "404", "NoSuchKey"):
            raise UploadGone() from exc
        raise
    return parts


def multipart_upload_part(key: str, *, upload_id: str, number: int, body: bytes | bytearray) -> Part:
    """Store part `number` of a multipart upload the server itself writes (an export archive)."""
    target = storage.s3()
    response = target.client.upload_part(
        Bucket=target.bucket, Key=target.key(key), UploadId=upload_id, PartNumber=number, Body=body
    )
    return Part(number=number, size=len(body), etag=str(response["ETag"]))


def multipart_complete(key: str, *, upload_id: str, parts: list[Part]) -> None:
    target = storage.s3()
    target.client.complete_multipart_upload(
        Bucket=target.bucket,
        Key=target.key(key),
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]},
    )


def multipart_abort(key: str, *, upload_id: str) -> None:
    target = storage.s3()
    try:
        target.client.abort_multipart_upload(Bucket=target.bucket, Key=target.key(key), UploadId=upload_id)
    except ClientError as exc:
        if storage.error_code(exc) not in ("NoSuchUpload", "404"):
            raise
