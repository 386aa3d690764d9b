"""Content hashes: SHA-256 (identity and per-user dedup) and KOReader's partial MD5.

KOReader's "binary" document id (specs/kosync/README.md §4.1): one MD5 over up to 1024 bytes
read at offsets 0 and 1024·4^k for k = 0..10, stopping at the first offset past the end.
`koreader_partial_md5` seeks to them; `KoreaderSampler` picks them out of a stream read once
from the start (the hash pass of a direct upload), with the same result.
"""

from __future__ import annotations

import hashlib
from typing import IO

KOREADER_OFFSETS = (0, *(1024 * 4**k for k in range(11)))
KOREADER_SAMPLE = 1024
CHUNK = 1024 * 1024


def koreader_partial_md5(stream: IO[bytes]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for offset in KOREADER_OFFSETS:
        stream.seek(offset)
        sample = stream.read(KOREADER_SAMPLE)
        if not sample:
            break
        digest.update(sample)
    return digest.hexdigest()


class KoreaderSampler:
    """KOReader's partial MD5 of bytes fed in order, in chunks of any size."""

    def __init__(self) -> None:
        self._samples = [bytearray() for _ in KOREADER_OFFSETS]
        self._offset = 0

    def update(self, chunk: bytes) -> None:
        start = self._offset
        end = start + len(chunk)
        for sample, offset in zip(self._samples, KOREADER_OFFSETS, strict=True):
            if offset >= end:
                break
            low, high = max(offset, start), min(offset + KOREADER_SAMPLE, end)
            if low < high:
                sample += chunk[low - start : high - start]
        self._offset = end

    def hexdigest(self) -> str:
        digest = hashlib.md5(usedforsecurity=False)
        for sample in self._samples:
            if not sample:  # this offset is past the end
                break
            digest.update(sample)
        return digest.hexdigest()
