"""Upload attacks not already in tests/library/test_rejections.py (which covers polyglot PNG+HTML,
EXE renamed .pdf, EPUB path traversal and absolute paths, zip bombs, entity bombs and doctypes in
container.xml and chapters, SVG with script, declared Content-Length over the cap or the quota):
a spoofed part Content-Type, XXE and billion laughs in the OPF package document, and multipart
bodies with too many fields or files. Each is refused with the right 4xx and leaves no row and
no object behind."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.library import storage
from apps.library.models import File
from tests.conftest import Account, assert_problem
from tests.library import factories
from tests.library.conftest import upload

pytestmark = pytest.mark.django_db

XXE_OPF = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE package [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">x</dc:identifier>
  <dc:title>&xxe;</dc:title><dc:language>en</dc:language></metadata>
  <manifest/><spine/></package>"""


def _epub_with_package(opf: bytes) -> bytes:
    """An EPUB whose container points at `opf` (the factory's own OPF stays unreferenced)."""
    container = factories.CONTAINER.replace(b"OEBPS/content.opf", b"OEBPS/evil.opf")
    return factories.epub_bytes(container=container, extra={"OEBPS/evil.opf": opf})


def _nothing_stored(account: Account) -> None:
    assert not File.objects.filter(owner_id=account.id).exists()
    assert list(storage.list_objects(storage.owner_prefix(account.id))) == []


def _multipart(client, parts: dict, **extra):
    return client.post("/v1/files", parts, format="multipart", **extra)


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (factories.EXE, "application/pdf"),
        (factories.HTML, "image/png"),
        (factories.SVG, "image/svg+xml"),
    ],
    ids=["exe declared as pdf", "html declared as png", "svg declared as svg"],
)
def test_spoofed_content_type_is_ignored_and_refused(account: Account, data: bytes, declared: str) -> None:
    response = _multipart(
        account.client, {"file": SimpleUploadedFile("doc.pdf", data, content_type=declared)}
    )
    assert_problem(response, 415, "unsupported_file_type")
    _nothing_stored(account)


def test_declared_type_never_decides_the_stored_type(account: Account) -> None:
    pdf = factories.pdf_bytes()
    response = _multipart(
        account.client, {"file": SimpleUploadedFile("x.html", pdf, content_type="text/html")}
    )
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == "application/pdf"
    download = account.client.get(f"/v1/files/{response.json()['id']}/content")
    assert download.status_code == 302
    assert "application%2Fpdf" in download["Location"] or "application/pdf" in download["Location"]


@pytest.mark.parametrize(
    ("opf", "reasons"),
    [
        (XXE_OPF, {"xml_doctype", "xml_entities"}),
        (factories.BILLION_LAUGHS, {"xml_doctype", "xml_entities"}),
    ],
    ids=["xxe in opf", "billion laughs in opf"],
)
def test_entity_tricks_in_the_package_document(account: Account, opf: bytes, reasons: set[str]) -> None:
    body = assert_problem(
        upload(account.client, _epub_with_package(opf), "b.epub"), 415, "unsupported_file_type"
    )
    assert body["reason"] in reasons, body
    _nothing_stored(account)


def test_too_many_multipart_fields(account: Account, settings) -> None:
    fields = {f"f{n}": "x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 50)}
    fields["file"] = SimpleUploadedFile("ok.pdf", factories.pdf_bytes())
    response = _multipart(account.client, fields)
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    _nothing_stored(account)


def test_too_many_multipart_files(account: Account, settings) -> None:
    parts = {
        f"file{n}": SimpleUploadedFile(f"{n}.pdf", b"%PDF-1.4\n")
        for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 5)
    }
    parts["file"] = SimpleUploadedFile("ok.pdf", factories.pdf_bytes())
    response = _multipart(account.client, parts)
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    _nothing_stored(account)
