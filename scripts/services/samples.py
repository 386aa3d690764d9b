"""Sample files the tests, the drills and the bench upload."""

from __future__ import annotations

import io
import uuid

from pypdf import PdfWriter


def pdf_bytes(*, pages: int = 3, title: str = "A Test PDF", author: str = "Ann Author") -> bytes:
    """A small valid PDF; every call gives different bytes (a random subject)."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": title, "/Author": author, "/Subject": uuid.uuid4().hex})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
