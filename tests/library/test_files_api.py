"""/v1/files through the API against the real S3 server: upload of every kind, metadata, dedup,
listing and filters, rename/tags, delete (object removed), downloads (S3 redirect and local
Range), the CRUD contract and BOLA on every route."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from apps.library import selectors, services, storage
from apps.library.models import File, ViewerState
from tests.conftest import Account, assert_problem
from tests.contract import CrudContract

from . import factories
from .conftest import http, object_size, sha256, upload

pytestmark = pytest.mark.django_db


def koreader_reference(data: bytes) -> str:
    """KOReader's partial MD5, written straight from specs/kosync/README.md §4.1."""
    md5 = hashlib.md5(usedforsecurity=False)
    for i in range(-1, 11):
        offset = 0 if i == -1 else 1024 << (2 * i)
        sample = data[offset : offset + 1024]
        if not sample:
            break
        md5.update(sample)
    return md5.hexdigest()


KINDS = [
    (
        "pdf",
        "application/pdf",
        lambda: factories.pdf_bytes(pages=4, title="Moby", author="Melville"),
        "m.pdf",
    ),
    ("epub", "application/epub+zip", lambda: factories.epub_bytes(title="Emma"), "emma.epub"),
    ("image", "image/png", lambda: factories.image_bytes("PNG"), "a.png"),
    ("image", "image/jpeg", lambda: factories.image_bytes("JPEG"), "b.jpg"),
    ("image", "image/webp", lambda: factories.image_bytes("WEBP"), "c.webp"),
    ("image", "image/gif", lambda: factories.image_bytes("GIF"), "d.gif"),
]


@pytest.mark.parametrize(("kind", "content_type", "make", "name"), KINDS, ids=[k[1] for k in KINDS])
def test_streamed_upload_of_each_kind(
    account: Account, kind: str, content_type: str, make: Any, name: str
) -> None:
    data = make()
    # The client's Content-Type and the name's extension mean nothing: the bytes decide.
    response = upload(account.client, data, filename="renamed.bin")
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["ETag"] == '"1"'
    assert response["Location"] == f"/v1/files/{body['id']}"
    assert body["kind"] == kind
    assert body["content_type"] == content_type
    assert body["size"] == len(data)
    assert body["sha256"] == sha256(data)
    assert body["koreader_hash"] == koreader_reference(data)
    assert body["status"] == "ready"
    assert body["version"] == 1
    assert body["name"] == "renamed.bin"
    assert {
        "id",
        "name",
        "kind",
        "content_type",
        "size",
        "sha256",
        "metadata",
        "status",
        "version",
        "created_at",
    } <= set(body)
    assert object_size(body["id"]) == len(data)
    key = File.objects.get(id=body["id"]).storage_key
    assert key.startswith(f"users/{account.id}/")
    assert "renamed" not in key

    metadata = body["metadata"]
    if kind == "pdf":
        assert metadata["page_count"] == 4
        assert metadata["title"] == "Moby"
        assert metadata["author"] == "Melville"
    elif kind == "epub":
        assert metadata["title"] == "Emma"
        assert metadata["authors"] == ["Ann Author", "Bob Writer"]
        assert metadata["language"] == "en"
        assert metadata["identifier"].startswith("urn:uuid:")
        assert metadata["cover"] == "OEBPS/images/cover.png"
        assert metadata["toc"][0]["title"] == "Chapter 1"
        assert metadata["toc"][0]["href"] == "OEBPS/text/ch1.xhtml#c1"
        assert metadata["toc"][0]["children"][0]["title"] == "Section 1.1"
        assert metadata["spine"] == [f"OEBPS/text/ch{n}.xhtml" for n in (1, 2, 3)]
    else:
        assert (metadata["width"], metadata["height"]) == (32, 24)
        assert metadata["format"] == content_type.split("/")[1].upper()


def test_epub2_table_of_contents_comes_from_the_ncx(account: Account) -> None:
    body = upload(account.client, factories.epub_bytes(nav=False), filename="old.epub").json()
    assert [entry["title"] for entry in body["metadata"]["toc"]] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert body["metadata"]["toc"][1]["href"] == "OEBPS/text/ch2.xhtml"


def test_failed_metadata_extraction_keeps_the_file(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path: str) -> dict[str, Any]:
        raise RuntimeError("a bug in the extractor")

    monkeypatch.setattr("apps.library.metadata._pdf", broken)
    response = upload(account.client, factories.pdf_bytes(), filename="x.pdf")
    assert response.status_code == 201
    assert response.json()["status"] == "metadata_failed"
    # Said plainly, without the exception's name or text (those are in the log).
    error = response.json()["metadata"]["error"]
    assert error == "The file's metadata could not be read; the file itself is fine."
    assert account.client.get(f"/v1/files/{response.json()['id']}/content").status_code == 302


def test_same_bytes_again_return_the_existing_file_only_for_that_user(
    account: Account, other_account: Account
) -> None:
    data = factories.pdf_bytes()
    first = upload(account.client, data, filename="one.pdf")
    again = upload(account.client, data, filename="two.pdf")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert File.objects.filter(owner_id=account.id).count() == 1
    theirs = upload(other_account.client, data, filename="one.pdf")
    assert theirs.status_code == 201  # nothing reveals that someone else has these bytes
    assert theirs.json()["id"] != first.json()["id"]


def test_user_file_name_is_sanitised_metadata_only(account: Account) -> None:
    response = upload(account.client, factories.pdf_bytes(), name="../../etc/\u202egpj.exe\x07  report .pdf")
    assert response.status_code == 201
    assert response.json()["name"] == "gpj.exe report .pdf"
    blank = upload(account.client, factories.pdf_bytes(), name="\u202e/..")
    assert blank.json()["name"] == "untitled.pdf"


class TestFileContract(CrudContract):
    url = "/v1/files"

    def create_body(self, account: Account) -> dict[str, Any]:
        return {"name": "Original name.pdf"}

    def patch_body(self) -> dict[str, Any]:
        return {"name": "Renamed.pdf"}

    def create(self, account: Account, **extra: Any) -> dict[str, Any]:
        # Creation is a multipart upload: the body's fields travel as form fields.
        fields = {key: str(value) for key, value in {**self.create_body(account), **extra}.items()}
        response = upload(account.client, factories.pdf_bytes(), **fields)
        assert response.status_code == 201, response.content
        return dict(response.json())

    def test_client_chosen_id_is_idempotent(self, account: Account, other_account: Account) -> None:
        chosen = str(uuid.uuid4())
        data = factories.pdf_bytes()
        first = upload(account.client, data, id=chosen, name="Original name.pdf")
        assert first.status_code == 201, first.content
        assert first.json()["id"] == chosen
        again = upload(account.client, data, id=chosen, name="Original name.pdf")
        assert again.status_code == 200
        assert again.json() == first.json()
        ids = [item["id"] for item in account.client.get(self.url).json()["results"]]
        assert ids.count(chosen) == 1
        different = upload(account.client, factories.pdf_bytes(), id=chosen, name="Original name.pdf")
        assert_problem(different, 409, "id_conflict")
        taken = upload(other_account.client, factories.pdf_bytes(), id=chosen)
        assert_problem(taken, 409, "id_conflict")


def test_put_replaces_name_and_tags_and_patch_normalises_tags(account: Account, uploaded: Any) -> None:
    file = uploaded()
    url = f"/v1/files/{file['id']}"
    patched = account.client.patch(url, {"tags": ["  Sci  Fi", "sci fi", "Classics"]}, format="json")
    assert patched.json()["tags"] == ["classics", "sci fi"]
    assert patched.json()["version"] == 2
    put = account.client.put(url, {"name": "New.pdf"}, format="json")
    assert put.json()["name"] == "New.pdf"
    assert put.json()["tags"] == []
    assert put.json()["version"] == 3
    assert File.objects.get(id=file["id"]).field_versions == {"name": 3, "tags": 3}
    assert_problem(account.client.put(url, {"tags": ["x"]}, format="json"), 400, "validation_error")
    assert_problem(account.client.patch(url, {"name": "\u202e \x07"}, format="json"), 400, "validation_error")
    unchanged = account.client.patch(url, {"name": "New.pdf"}, format="json")
    assert unchanged.json()["version"] == 3


def test_list_filters_and_orderings(account: Account, uploaded: Any) -> None:
    pdf = uploaded(factories.pdf_bytes(), "Zebra manual.pdf")
    book = uploaded(factories.epub_bytes(), "A novel.epub")
    image = uploaded(factories.image_bytes("PNG"), "Holiday.png")
    account.client.patch(f"/v1/files/{book['id']}", {"tags": ["fiction"]}, format="json")

    def ids(**params: Any) -> list[str]:
        response = account.client.get("/v1/files", params)
        assert response.status_code == 200, response.content
        assert set(response.json()) == {"results", "next", "next_cursor"}
        return [item["id"] for item in response.json()["results"]]

    assert ids() == [image["id"], book["id"], pdf["id"]]
    assert ids(ordering="created_at") == [pdf["id"], book["id"], image["id"]]
    assert ids(ordering="name") == [book["id"], image["id"], pdf["id"]]
    assert ids(ordering="-updated_at")[0] == book["id"]
    assert ids(kind="epub") == [book["id"]]
    assert ids(kind="image") == [image["id"]]
    assert ids(q="zebra") == [pdf["id"]]
    assert ids(tag="fiction") == [book["id"]]
    assert ids(sha256=image["sha256"].upper()) == [image["id"]]
    assert set(ids(created_since=pdf["created_at"])) == {pdf["id"], book["id"], image["id"]}
    assert ids(updated_since=image["updated_at"], ordering="name") == [book["id"], image["id"]]
    assert ids(ordering="-last_opened") == []  # nothing opened yet
    assert_problem(account.client.get("/v1/files", {"kind": "exe"}), 400, "validation_error")
    assert_problem(account.client.get("/v1/files", {"ordering": "size"}), 400, "validation_error")
    page = account.client.get("/v1/files", {"limit": 2}).json()
    assert len(page["results"]) == 2
    assert [i["id"] for i in account.client.get(page["next"]).json()["results"]] == [pdf["id"]]


def test_delete_removes_the_object_and_leaves_a_tombstone(
    account: Account, uploaded: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = factories.pdf_bytes()
    file = uploaded(data)
    account.client.put(
        f"/v1/files/{file['id']}/viewer-state",
        {"device": {"id": "d1"}, "modified": "2026-01-01T10:00:00Z", "pdf": {"page": 2}},
        format="json",
    )
    assert object_size(file["id"]) == file["size"]
    with django_capture_on_commit_callbacks(execute=True):
        assert account.client.delete(f"/v1/files/{file['id']}").status_code == 204
    assert object_size(file["id"]) is None
    row = File.objects.get(id=file["id"])
    assert row.deleted_at is not None
    assert row.version == 2
    assert row.field_versions == {"name": 1, "tags": 1}  # a delete stamps no field
    assert ViewerState.objects.get(file_id=file["id"]).deleted_at is not None
    assert_problem(account.client.get(f"/v1/files/{file['id']}"), 404, "not_found")
    assert_problem(account.client.get(f"/v1/files/{file['id']}/content"), 404, "not_found")
    assert_problem(account.client.get(f"/v1/files/{file['id']}/viewer-state"), 404, "not_found")
    # The same bytes can come back, as a new file with a new object.
    again = upload(account.client, data)
    assert again.status_code == 201
    assert again.json()["id"] != file["id"]
    assert object_size(again.json()["id"]) == len(data)


def test_s3_download_is_a_presigned_attachment_redirect(account: Account) -> None:
    data = factories.image_bytes("PNG")
    file = upload(account.client, data, name="Fête photo.png").json()
    response = account.client.get(f"/v1/files/{file['id']}/content")
    assert response.status_code == 302
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    location = response["Location"]
    assert "X-Amz-Signature=" in location
    assert "X-Amz-Expires=300" in location
    status, headers, body = http("GET", location)
    assert status == 200
    assert body == data
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"].startswith("attachment;")
    assert "F%C3%AAte%20photo.png" in headers["Content-Disposition"]
    # The browser may keep it; a shared cache (CDN, proxy) between the client and S3 may not.
    assert headers["Cache-Control"] == "private"
    tampered = location.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert http("GET", tampered)[0] == 403
    # The response-* parameters are signed: a cache or client that drops one gets nothing.
    assert "response-cache-control=private&" in location
    assert http("GET", location.replace("response-cache-control=private&", ""))[0] == 403


def test_local_download_streams_with_range_support(account: Account, local_storage: Any) -> None:
    data = factories.pdf_bytes(pages=2)
    file = upload(account.client, data, name="Local.pdf").json()
    assert File.objects.get(id=file["id"]).storage_key.startswith(f"users/{account.id}/")
    assert list(local_storage.glob(f"users/{account.id}/*"))
    url = f"/v1/files/{file['id']}/content"

    whole = account.client.get(url)
    assert whole.status_code == 200
    assert whole.streaming
    assert b"".join(whole.streaming_content) == data
    assert whole["Content-Type"] == "application/pdf"
    assert whole["Content-Disposition"] == 'attachment; filename="Local.pdf"'
    assert whole["X-Content-Type-Options"] == "nosniff"
    assert whole["Accept-Ranges"] == "bytes"
    assert whole["Content-Length"] == str(len(data))

    part = account.client.get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206
    assert b"".join(part.streaming_content) == data[10:20]
    assert part["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert part["Content-Length"] == "10"
    assert part["X-Content-Type-Options"] == "nosniff"

    suffix = account.client.get(url, HTTP_RANGE="bytes=-5")
    assert b"".join(suffix.streaming_content) == data[-5:]
    open_ended = account.client.get(url, HTTP_RANGE=f"bytes={len(data) - 3}-")
    assert b"".join(open_ended.streaming_content) == data[-3:]
    clamped = account.client.get(url, HTTP_RANGE=f"bytes=0-{len(data) * 2}")
    assert clamped.status_code == 206
    assert b"".join(clamped.streaming_content) == data

    refused = account.client.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert refused.status_code == 416
    assert refused["Content-Range"] == f"bytes */{len(data)}"
    changed = account.client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"not-this-file"')
    assert changed.status_code == 200
    matching = account.client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=whole["ETag"])
    assert matching.status_code == 206
    several = account.client.get(url, HTTP_RANGE="bytes=0-1,4-5")
    assert several.status_code == 200  # multiple ranges: the whole file, as RFC 9110 allows


def test_another_users_objects_are_404_on_every_route(
    account: Account, other_account: Account, uploaded: Any
) -> None:
    file = uploaded()
    thief = other_account.client
    base = f"/v1/files/{file['id']}"
    body = {"device": {"id": "x"}, "modified": "2026-01-01T00:00:00Z", "pdf": {"page": 1}}
    assert_problem(thief.get(f"{base}/content"), 404, "not_found")
    assert_problem(thief.get(f"{base}/viewer-state"), 404, "not_found")
    assert_problem(thief.put(f"{base}/viewer-state", body, format="json"), 404, "not_found")
    assert not ViewerState.objects.filter(file_id=file["id"]).exists()
    for missing in (f"/v1/files/{uuid.uuid4()}", f"/v1/files/{uuid.uuid4()}/content", "/v1/files/not-a-uuid"):
        assert_problem(account.client.get(missing), 404)


def test_anonymous_is_401_on_every_route(api: Any, uploaded: Any) -> None:
    file = uploaded()
    for method, path in [
        ("get", f"/v1/files/{file['id']}/content"),
        ("get", f"/v1/files/{file['id']}/viewer-state"),
        ("put", f"/v1/files/{file['id']}/viewer-state"),
        ("get", "/v1/files/uploads"),
        ("post", "/v1/files/uploads"),
        ("get", f"/v1/files/uploads/{uuid.uuid4()}"),
        ("delete", f"/v1/files/uploads/{uuid.uuid4()}"),
        ("post", f"/v1/files/uploads/{uuid.uuid4()}/complete"),
    ]:
        assert_problem(getattr(api, method)(path), 401)


def test_storage_usage_and_purging_a_user(account: Account, uploaded: Any, other_account: Account) -> None:
    first = uploaded(factories.pdf_bytes())
    second = uploaded(factories.image_bytes("GIF"), "g.gif")
    theirs = upload(other_account.client, factories.pdf_bytes()).json()
    user_id = uuid.UUID(account.id)
    assert selectors.file_storage_usage(user_id=user_id) == first["size"] + second["size"]
    assert services.library_purge_user(user_id=user_id) == 2
    assert list(storage.list_objects(storage.owner_prefix(user_id))) == []
    assert object_size(theirs["id"]) == theirs["size"]


@pytest.mark.parametrize(
    ("name", "saved_as"),
    [
        ("invoice.html", "invoice.html.pdf"),
        ("invoice", "invoice.pdf"),
        ("notes.PDF", "notes.PDF"),
        ("report.pdf", "report.pdf"),
    ],
)
def test_the_download_name_ends_in_the_detected_type(account: Account, name: str, saved_as: str) -> None:
    """A PDF uploaded as `invoice.html` must not be saved as an HTML page by the browser."""
    file = upload(account.client, factories.pdf_bytes(), filename=name).json()
    assert file["name"] == name  # the user's name is kept as metadata
    response = account.client.get(f"/v1/files/{file['id']}/content")
    assert response.status_code == 302
    disposition = parse_qs(urlsplit(response["Location"]).query)["response-content-disposition"][0]
    assert f'filename="{saved_as}"' in disposition or f"filename*=utf-8''{saved_as}" in disposition


def test_the_download_name_ends_in_the_detected_type_from_local_storage(
    account: Account, local_storage: Any
) -> None:
    file = upload(account.client, factories.image_bytes("JPEG"), filename="photo.jpeg.html").json()
    response = account.client.get(f"/v1/files/{file['id']}/content")
    assert response.status_code == 200
    assert 'filename="photo.jpeg.html.jpg"' in response["Content-Disposition"]


def test_a_huge_table_of_contents_is_cut_to_a_bounded_size(account: Account) -> None:
    """Metadata travels in every listing and sync page: a book with 3,000 long contents entries
    keeps its first 48 KiB of them, and says so."""
    entries = "".join(
        f'<li><a href="text/ch1.xhtml#e{n}">{"Entry " + str(n) + " " + "x" * 100}</a></li>'
        for n in range(3000)
    )
    nav = (
        '<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml" '
        'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>c</title></head><body>'
        f'<nav epub:type="toc"><ol>{entries}</ol></nav></body></html>'
    ).encode()
    body = upload(account.client, factories.epub_bytes(nav_document=nav), filename="big.epub").json()
    metadata = body["metadata"]
    assert metadata["toc_truncated"] is True
    assert 100 < len(metadata["toc"]) < 3000
    assert metadata["toc"][0]["title"].startswith("Entry 0 ")
    assert len(json.dumps(metadata["toc"], separators=(",", ":"))) <= 48 * 1024
    assert (
        "toc_truncated"
        not in upload(account.client, factories.epub_bytes(), filename="small.epub").json()["metadata"]
    )


@pytest.mark.parametrize("on_s3", [True, False])
def test_a_display_name_downloads_with_the_kind_extension(
    account: Account, on_s3: bool, request: pytest.FixtureRequest
) -> None:
    """A display name without an extension (given at upload, or set later) still downloads as
    a file the desktop opens as what it is: `Tiny Tales.epub`."""
    if not on_s3:
        request.getfixturevalue("local_storage")
    book = upload(account.client, factories.epub_bytes(), filename="tales.epub", name="Tiny Tales").json()
    assert book["name"] == "Tiny Tales"
    renamed = upload(account.client, factories.image_bytes("PNG"), filename="shot.png").json()
    assert account.client.patch(f"/v1/files/{renamed['id']}", {"name": "Screenshot"}).status_code == 200
    for file, saved_as in ((book, "Tiny Tales.epub"), (renamed, "Screenshot.png")):
        response = account.client.get(f"/v1/files/{file['id']}/content")
        if on_s3:  # what the browser saves is what S3 answers at the presigned URL
            assert response.status_code == 302
            status, headers, _body = http("GET", response["Location"])
            assert status == 200
            disposition = headers["Content-Disposition"]
        else:
            assert response.status_code == 200
            disposition = response["Content-Disposition"]
        assert f'filename="{saved_as}"' in disposition, disposition
