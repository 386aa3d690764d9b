"""Content hashes: SHA-256 (identity and per-user dedup) and KOReader's partial MD5.

KOReader's "binary" document id (specs/kosync/README.md §4.1): one MD5 over up to 1024 bytes
read at offsets 0 and 1024·4^k for k = 0..10, stopping at the first offset past the end.
"""

from __future__ import annotations

import hashlib
from typing import BinaryIO

KOREADER_OFFSETS = (0, *(1024 * 4**k for k in range(11)))
KOREADER_SAMPLE = 1024
CHUNK = 1024 * 1024


def koreader_partial_md5(stream: BinaryIO) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for offset in KOREADER_OFFSETS:
        stream.seek(offset)
        sample = stream.read(KOREADER_SAMPLE)
        if not sample:
            break
        digest.update(sample)
    return digest.hexdigest()


def sha256_of(stream: BinaryIO) -> tuple[str, int]:
    """SHA-256 and length of a stream, read from the start in bounded chunks."""
    stream.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size
