"""Fixtures of the library tests: uploading through the API, looking into S3, local storage."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.library import objects, storage
from apps.library.models import File
from tests.conftest import Account

from . import factories


def upload(client: APIClient, data: bytes, filename: str = "file.bin", **fields: Any) -> Any:
    """POST /v1/files as a client would (multipart, field `file`; other fields as form fields)."""
    return client.post(
        "/v1/files",
        {"file": SimpleUploadedFile(filename, data, content_type="application/octet-stream"), **fields},
        format="multipart",
    )


@pytest.fixture
def uploaded(account: Account) -> Callable[..., dict[str, Any]]:
    """Upload bytes as `account` and return the new file's JSON (asserting 201)."""

    def make(
        data: bytes | None = None, name: str = "book.pdf", client: APIClient | None = None
    ) -> dict[str, Any]:
        response = upload(client or account.client, data if data is not None else factories.pdf_bytes(), name)

        assert response.status_code == 201, response.content
        return dict(response.json())

    return make


def object_size(file_id: str) -> int | None:
    """The size of a file's object in S3, None when it is gone."""
    key = File.objects.get(id=file_id).storage_key
    return objects.object_size(key)


def http(
    method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Plain HTTP (as a mobile client would talk to S3), no SDK."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback S3
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def local_storage(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """Library files on the local file system for one test (Django resets its cached storages
    when STORAGES changes)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    assert not storage.is_s3()
    return tmp_path


def initiate(account: Account, data: bytes, **overrides: Any) -> Any:
    """POST /v1/files/uploads for `data` (a PDF unless overridden; None drops a field)."""
    body = {
        "name": "Big book.pdf",
        "size": len(data),
        "sha256": sha256(data),
        "content_type": "application/pdf",
    }
    payload = {key: value for key, value in {**body, **overrides}.items() if value is not None}
    return account.client.post("/v1/files/uploads", payload, format="json")
