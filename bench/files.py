"""The upload payload: a valid one-page PDF of exactly the requested size whose bulk is one
binary stream object (random bytes, so nothing compresses), written to disk once per run."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

BLOCK = 1024 * 1024


def _tail(offsets: list[int], xref_at: int) -> bytes:
    entries = b"0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return (
        b"xref\n0 %d\n" % (len(offsets) + 1)
        + entries
        + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%012d\n%%%%EOF\n" % (len(offsets) + 1, xref_at)
    )


def write_pdf(path: Path, size: int) -> str:
    """Write the PDF; returns its SHA-256 (hex)."""
    head = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        ],
        1,
    ):
        offsets.append(len(head))
        head += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    offsets.append(len(head))
    fixed = len(head) + len(b"\nendstream\nendobj\n") + len(_tail(offsets, 0))
    template = b"4 0 obj\n<< /Length %d >>\nstream\n"
    payload = size - fixed - len(template % 0)
    while fixed + len(template % payload) + payload != size:
        payload -= fixed + len(template % payload) + payload - size
    head += template % payload
    xref_at = len(head) + payload + len(b"\nendstream\nendobj\n")
    tail = b"\nendstream\nendobj\n" + _tail(offsets, xref_at)
    digest = hashlib.sha256()
    block = random.Random(size).randbytes(BLOCK)  # noqa: S311 - filler bytes, not secrets
    with path.open("wb") as out:
        for piece in (bytes(head),):
            out.write(piece)
            digest.update(piece)
        left = payload
        counter = 0
        while left > 0:
            # Vary each block a little so no two MiB of the file are equal.
            piece = (counter.to_bytes(8, "big") + block[8:])[: min(left, BLOCK)]
            out.write(piece)
            digest.update(piece)
            left -= len(piece)
            counter += 1
        out.write(tail)
        digest.update(tail)
    assert path.stat().st_size == size
    return digest.hexdigest()
