"""The files the readers' e2e opens (web/e2e/readers.mjs), made at run time: a PDF whose pages
say their number (hand-written, Helvetica: pdf.js draws it without an embedded font), an EPUB of
five chapters (the library tests' factory) whose first chapter carries a script and an inline
style that must not apply (the page's CSP, inherited by the reader's frames), and a PNG."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from tests.library.factories import EpubSpec, epub_bytes, image_bytes

PDF_PAGES = 48


def numbered_pdf(pages: int = PDF_PAGES) -> bytes:
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, once the pages' numbers are known
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for n in range(1, pages + 1):
        text = f"BT /F1 36 Tf 60 420 Td (Page {n}) Tj ET".encode()
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 595] /Contents %d 0 R"
            b" /Resources << /Font << /F1 3 0 R >> >> >>" % (len(objects))
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), pages)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info << /Title (Numbered pages) >> >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


# "pwned" marks what the CSP must block: the e2e counts those reports as expected, not as faults.
HOSTILE = (
    b"<script>parent.document.title = 'pwned';</script>"
    b"<style>/* pwned */ h1 { color: rgb(255, 0, 255) !important; }</style>"
)


def hostile_epub() -> bytes:
    """The factory's book, its first chapter's head given a script and an inline style."""
    source = zipfile.ZipFile(io.BytesIO(epub_bytes(EpubSpec(title="Five Chapters", chapters=5))))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "OEBPS/text/ch1.xhtml":
                data = data.replace(b"</head>", HOSTILE + b"</head>", 1)
            archive.writestr(info, data, compress_type=info.compress_type)
    return out.getvalue()


def write(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "numbered.pdf").write_bytes(numbered_pdf())
    (folder / "book.epub").write_bytes(hostile_epub())
    (folder / "photo.png").write_bytes(image_bytes("PNG", size=(640, 400)))
    return folder
