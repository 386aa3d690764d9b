"""Every way a streamed upload is refused: foreign and hostile bytes (415 with a reason), size
and quota (413, before the body is read when the headers already tell), malformed requests.
Nothing refused leaves a row or an object behind."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import override_settings

from apps.library import storage
from apps.library.models import File
from tests.conftest import Account, assert_problem

from . import factories
from .conftest import sha256, upload
from .factories import EpubSpec

pytestmark = pytest.mark.django_db


def _no_traces(account: Account) -> None:
    assert not File.objects.filter(owner_id=account.id).exists()
    assert list(storage.list_objects(storage.owner_prefix(account.id))) == []


def _png_plus(data: bytes) -> bytes:
    return factories.image_bytes("PNG") + data


def _webp_plus(data: bytes) -> bytes:
    return factories.image_bytes("WEBP") + data


REFUSED = {
    "exe renamed .pdf": (lambda: factories.EXE, "report.pdf", "unrecognised"),
    "svg": (lambda: factories.SVG, "picture.svg", "unrecognised"),
    "html": (lambda: factories.HTML, "page.png", "unrecognised"),
    "plain zip": (lambda: _zip({"a.txt": b"hello"}), "book.epub", "unrecognised"),
    "text": (lambda: b"just some words\n", "notes.pdf", "unrecognised"),
    "pdf header, no pdf": (lambda: b"%PDF-1.7\n" + b"garbage " * 200, "x.pdf", "pdf_unreadable"),
    "polyglot png+html": (lambda: _png_plus(factories.HTML), "cat.png", "trailing_data"),
    "png with script in a text chunk": (
        lambda: factories.png_with_text("Comment", "<html><script>alert(1)</script></html>"),
        "cat.png",
        "embedded_markup",
    ),
    "gif with svg in a comment": (
        lambda: factories.image_bytes("GIF", comment=b"<svg onload=alert(1)>"),
        "cat.gif",
        "embedded_markup",
    ),
    "webp with trailing data": (lambda: _webp_plus(b"\x00" * 64), "cat.webp", "trailing_data"),
    "truncated png": (lambda: factories.image_bytes("PNG")[:60], "cat.png", "image_unreadable"),
    "zip path traversal": (
        lambda: factories.epub_bytes(extra={"../../evil.sh": b"rm -rf /"}),
        "b.epub",
        "zip_path_traversal",
    ),
    "zip absolute path": (
        lambda: factories.epub_bytes(extra={"/etc/cron.d/x": b"x"}),
        "b.epub",
        "zip_absolute_path",
    ),
    "zip backslash traversal": (
        lambda: factories.epub_bytes(extra={"OEBPS\\..\\..\\evil": b"x"}),
        "b.epub",
        "zip_path_traversal",
    ),
    "zip symlink": (lambda: factories.epub_bytes(symlink="OEBPS/link"), "b.epub", "zip_symlink"),
    "zip bomb": (
        lambda: factories.epub_bytes(extra={"OEBPS/bomb.bin": b"\0" * (20 * 1024 * 1024)}),
        "b.epub",
        "zip_bomb",
    ),
    "xml entity bomb": (
        lambda: factories.epub_bytes(container=factories.BILLION_LAUGHS),
        "b.epub",
        "xml_entities",
    ),
    "entity bomb in a chapter": (
        lambda: factories.epub_bytes(extra={"OEBPS/text/evil.xhtml": factories.BILLION_LAUGHS}),
        "b.epub",
        "xml_entities",
    ),
    "container with a doctype": (
        lambda: factories.epub_bytes(container=factories.CONTAINER_WITH_DOCTYPE),
        "b.epub",
        "xml_doctype",
    ),
    "mimetype not first": (lambda: factories.epub_bytes(mimetype_first=False), "b.epub", "unrecognised"),
    "wrong mimetype": (
        lambda: factories.epub_bytes(mimetype=b"application/zip"),
        "b.epub",
        "epub_mimetype_missing",
    ),
    "no container": (lambda: _epub_without("META-INF/container.xml"), "b.epub", "epub_structure"),
}


def _zip(entries: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _epub_without(name: str) -> bytes:
    import io
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(factories.epub_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info in source.infolist():
            if info.filename != name:
                archive.writestr(info, source.read(info))
    return buffer.getvalue()


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_unacceptable_bytes_are_415_and_leave_nothing(account: Account, case: str) -> None:
    make, filename, reason = REFUSED[case]
    body = assert_problem(upload(account.client, make(), filename=filename), 415, "unsupported_file_type")
    assert body["reason"] == reason, body
    _no_traces(account)


def test_epub_entry_limits(account: Account) -> None:
    with override_settings(EPUB_MAX_ENTRIES=5):
        body = assert_problem(upload(account.client, factories.epub_bytes()), 415)
        assert body["reason"] == "zip_too_many_entries"
    with override_settings(EPUB_MAX_UNCOMPRESSED_BYTES=4096):
        body = assert_problem(upload(account.client, factories.epub_bytes()), 415)
        assert body["reason"] == "zip_too_large"
    _no_traces(account)


def test_declared_length_over_the_cap_is_refused_before_the_body_is_read(account: Account) -> None:
    with override_settings(FILE_UPLOAD_MAX_BYTES=1_000_000):
        response = account.client.generic(
            "POST",
            "/v1/files",
            content_type="multipart/form-data; boundary=x",
            **{"wsgi.input": factories.ExplodingInput(), "CONTENT_LENGTH": str(5_000_000)},
        )
    body = assert_problem(response, 413, "file_too_large")
    assert body["max_bytes"] == 1_000_000


def test_declared_length_over_the_quota_is_refused_before_the_body_is_read(account: Account) -> None:
    with override_settings(USER_STORAGE_QUOTA_BYTES=200_000):
        response = account.client.generic(
            "POST",
            "/v1/files",
            content_type="multipart/form-data; boundary=x",
            **{"wsgi.input": factories.ExplodingInput(), "CONTENT_LENGTH": str(1_000_000)},
        )
    body = assert_problem(response, 413, "quota_exceeded")
    assert body["quota_bytes"] == 200_000
    assert body["used_bytes"] == 0


def test_a_body_longer_than_the_cap_is_cut_off_while_streaming(account: Account) -> None:
    data = factories.pdf_bytes() + b"%" * 150_000  # under cap + envelope allowance, over the cap
    with override_settings(FILE_UPLOAD_MAX_BYTES=100_000):
        assert_problem(upload(account.client, data), 413, "file_too_large")
    _no_traces(account)


def test_quota(account: Account) -> None:
    first = factories.pdf_bytes()
    with override_settings(USER_STORAGE_QUOTA_BYTES=len(first) + 100):
        assert upload(account.client, first).status_code == 201
        # Declared length fits the envelope allowance, so this one is stopped while streaming.
        body = assert_problem(upload(account.client, factories.pdf_bytes()), 413, "quota_exceeded")
        assert body["used_bytes"] == len(first)
        # A streamed upload is measured against the quota while it arrives, before anyone knows
        # it is a duplicate; the direct-upload handshake checks dedup first.
        assert_problem(upload(account.client, first), 413, "quota_exceeded")
        exists = account.client.post(
            "/v1/files/uploads",
            {
                "name": "again.pdf",
                "size": len(first),
                "sha256": sha256(first),
                "content_type": "application/pdf",
            },
            format="json",
        )
        assert exists.status_code == 200
        assert exists.json()["status"] == "exists"
        initiate = account.client.post(
            "/v1/files/uploads",
            {"name": "big.pdf", "size": 5000, "sha256": "a" * 64, "content_type": "application/pdf"},
            format="json",
        )
        assert_problem(initiate, 413, "quota_exceeded")
    with override_settings(USER_STORAGE_QUOTA_BYTES=len(first) + 200_000):
        assert upload(account.client, factories.pdf_bytes()).status_code == 201


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": {"name": "x"}, "format": "multipart"}, 400, "validation_error"),
        ({"data": {"name": "x"}, "format": "json"}, 415, "unsupported_media_type"),
    ],
    ids=["no file part", "json body"],
)
def test_malformed_upload_requests(account: Account, kwargs: dict[str, Any], status: int, code: str) -> None:
    assert_problem(account.client.post("/v1/files", **kwargs), status, code)


def test_missing_content_length_is_411(account: Account) -> None:
    response = account.client.generic("POST", "/v1/files", content_type="multipart/form-data; boundary=x")
    assert_problem(response, 411, "length_required")


def test_only_the_file_part_is_kept(account: Account) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = factories.pdf_bytes()
    response = account.client.post(
        "/v1/files",
        {
            "other": SimpleUploadedFile("evil.html", factories.HTML),
            "file": SimpleUploadedFile("ok.pdf", data),
            "id": str(uuid.uuid4()),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["size"] == len(data)


def test_epub_spec_defaults_are_valid(account: Account) -> None:
    assert upload(account.client, factories.epub_bytes(EpubSpec(ncx=False))).status_code == 201
