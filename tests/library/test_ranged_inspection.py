"""Inspecting a direct upload where it lies, on the real S3 server: the seekable file over ranged
GETs (`objects.RangedObject`), the same verdicts, metadata and hashes as from a local file,
the read budget and its fallback to a temporary copy, and no temporary file otherwise."""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.httpchecksum import StreamingChecksumBody
from PIL import Image

from apps.library import inspection, metadata, objects, sniffing, storage
from apps.library.errors import UnsupportedFileType
from apps.library.models import FileKind
from tests.conftest import Account

from . import factories
from .conftest import initiate, sha256
from .test_direct_upload import put_part
from .test_rejections import REFUSED

MIB = 1024 * 1024
BLOCK = 64 * 1024


@pytest.fixture
def s3_object() -> Iterator[Callable[..., str]]:
    """Store bytes under a fresh key (or over `key`); everything stored is deleted afterwards."""
    keys: list[str] = []

    def put(data: bytes, key: str | None = None) -> str:
        key = key or storage.new_key(uuid.uuid4())
        target = storage.s3()
        target.client.put_object(Bucket=target.bucket, Key=target.key(key), Body=data)
        keys.append(key)
        return key

    yield put
    storage.delete_objects(sorted(set(keys)))


def ranged(key: str, *, max_requests: int = 1000, max_bytes: int = 1 << 40) -> objects.RangedObject:
    head = objects.object_head(key)
    assert head is not None
    return objects.RangedObject(
        key,
        size=head.size,
        etag=head.etag,
        max_requests=max_requests,
        max_bytes=max_bytes,
        block_bytes=BLOCK,
    )


DATA = bytes(range(256)) * 4096 + b"the end"  # 1 MiB + 7 bytes, 17 blocks; every offset is known


class TestRangedObject:
    def test_reads_anywhere_across_blocks(self, s3_object: Callable[..., str]) -> None:
        raw = ranged(s3_object(DATA))
        stream = io.BufferedReader(raw, 16 * 1024)
        for offset in (0, 1, BLOCK - 10, BLOCK - 1, BLOCK, 3 * BLOCK - 5, len(DATA) - 100):
            for length in (1, 20, 100, BLOCK + 7, 2 * BLOCK, 3 * BLOCK + 11):
                stream.seek(offset)
                assert stream.read(length) == DATA[offset : offset + length], (offset, length)
                assert stream.tell() == min(offset + length, len(DATA))

    def test_seeking_from_the_end_and_backwards_like_pypdf(self, s3_object: Callable[..., str]) -> None:
        raw = ranged(s3_object(DATA))
        stream = io.BufferedReader(raw, 16 * 1024)
        assert stream.seek(-7, io.SEEK_END) == len(DATA) - 7
        assert stream.read() == b"the end"
        stream.seek(-1000, io.SEEK_END)
        for step in range(1, 3 * BLOCK // 1000):  # backwards, a little at a time, over block edges
            assert stream.read(1000) == DATA[len(DATA) - 1000 * step :][:1000]
            stream.seek(-2000, io.SEEK_CUR)
        for position in range(BLOCK + 50, BLOCK - 50, -1):  # a byte at a time (pypdf's trailer)
            stream.seek(position)
            assert stream.read(1) == DATA[position : position + 1]
        assert raw.requests <= 6  # each block once

    def test_reads_past_the_end(self, s3_object: Callable[..., str]) -> None:
        raw = ranged(s3_object(DATA))
        stream = io.BufferedReader(raw, 16 * 1024)
        stream.seek(len(DATA) - 3)
        assert stream.read(10) == b"end"
        assert stream.read(10) == b""
        stream.seek(len(DATA) + 100)
        assert stream.read(1) == b""
        assert stream.read() == b""
        assert raw.readinto(bytearray(10)) == 0
        stream.seek(2 * BLOCK + 3)
        assert stream.read() == DATA[2 * BLOCK + 3 :]  # the rest, in one request
        with pytest.raises(OSError, match="negative"):
            raw.seek(-1)

    def test_blocks_read_once_are_kept(self, s3_object: Callable[..., str]) -> None:
        raw = ranged(s3_object(DATA))
        stream = io.BufferedReader(raw, 16 * 1024)
        for _ in range(3):
            for offset in (len(DATA) - 1000, 0, 5 * BLOCK + 17):
                stream.seek(offset)
                stream.read(500)
        assert raw.requests == 3

    def test_a_sequential_scan_reads_ahead(self, s3_object: Callable[..., str]) -> None:
        raw = ranged(s3_object(DATA))
        stream = io.BufferedReader(raw, 16 * 1024)
        assert b"".join(iter(lambda: stream.read(1000), b"")) == DATA
        assert raw.requests <= 5  # 1 + 2 + 4 + 8 + 2 blocks, not 17
        assert raw.bytes_read == len(DATA)

    def test_the_request_cap(self, s3_object: Callable[..., str]) -> None:
        raw = ranged(s3_object(DATA), max_requests=2)
        stream = io.BufferedReader(raw, 16 * 1024)
        stream.seek(0)
        stream.read(10)
        stream.seek(8 * BLOCK)
        stream.read(10)
        stream.seek(4 * BLOCK)
        with pytest.raises(objects.ReadBudgetExceeded):
            stream.read(10)
        assert isinstance(raw.error, objects.ReadBudgetExceeded)
        assert raw.requests == 2
        stream.seek(0)  # once over, even a read of a kept block fails
        with pytest.raises(OSError, match="earlier read"):
            raw.read(10)

    def test_the_byte_cap_is_checked_before_reading(self, s3_object: Callable[..., str]) -> None:
        raw = ranged(s3_object(DATA), max_bytes=BLOCK + 100)
        stream = io.BufferedReader(raw, 16 * 1024)
        assert stream.read(10) == DATA[:10]
        stream.seek(BLOCK)
        with pytest.raises(objects.ReadBudgetExceeded):
            stream.read()
        assert raw.bytes_read == BLOCK

    def test_every_read_sees_the_bytes_the_head_saw(self, s3_object: Callable[..., str]) -> None:
        key = s3_object(factories.pdf_bytes())
        raw = ranged(key)
        s3_object(factories.pdf_bytes(), key=key)  # replaced after the HEAD
        stream = io.BufferedReader(raw, 16 * 1024)
        # Metadata extraction turns any exception into `metadata_failed`; the reader keeps it.
        _, error = metadata.extract(stream, sniffing.Detected(FileKind.PDF, "application/pdf"))
        assert error is not None
        assert isinstance(raw.error, ClientError)
        assert raw.error.response["Error"]["Code"] == "PreconditionFailed"

    def test_reading_back_leaves_checksums_to_the_sha256(self, s3_object: Callable[..., str]) -> None:
        key = s3_object(DATA)  # one PUT: S3 keeps a whole-object CRC and sends it with a GET
        target = storage.s3()
        default = target.client.get_object(Bucket=target.bucket, Key=target.key(key))["Body"]
        with default:
            assert isinstance(default, StreamingChecksumBody)  # botocore would CRC every byte
        head = objects.object_head(key)
        assert head is not None
        with objects._get(key, etag=head.etag)["Body"] as ours:
            assert not isinstance(ours, StreamingChecksumBody)
        assert b"".join(objects.iter_object(key, etag=head.etag, chunk_bytes=300_000)) == DATA


# --- the same outcome as from a local file -----------------------------------------------------


def _noise_png(seed: int, side: int = 120) -> bytes:
    """Random pixels: nothing compresses (`side` 850 makes 2 MiB)."""
    image = Image.frombytes("RGB", (side, side), random.Random(seed).randbytes(side * side * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _epub_with_pictures() -> bytes:
    """About 1 MiB: a few blocks of ranged reads, the central directory far from the entries."""
    pictures = {f"OEBPS/images/p{n}.png": _noise_png(n) for n in range(20)}
    return factories.epub_bytes(chapters=40, extra=pictures)


ACCEPTED: dict[str, Callable[[], bytes]] = {
    "pdf": factories.pdf_bytes,
    "pdf, 3 MiB": lambda: factories.StreamedPdf(3 * MIB + 5).read_all(),
    "epub": factories.epub_bytes,
    "epub 2": lambda: factories.epub_bytes(nav=False),
    "epub with pictures": _epub_with_pictures,
    "png": lambda: factories.image_bytes("PNG", size=(600, 400)),
    "png, 2 MiB of noise": lambda: _noise_png(1, side=850),
    "jpeg": lambda: factories.image_bytes("JPEG"),
    "webp": lambda: factories.image_bytes("WEBP"),
    "gif": lambda: factories.image_bytes("GIF"),
}
CORPUS = {**ACCEPTED, **{name: make for name, (make, _, _) in REFUSED.items()}}


def _outcome(inspect: Callable[[], inspection.Inspection]) -> inspection.Inspection | str:
    try:
        return inspect()
    except UnsupportedFileType as exc:
        return f"415 {exc.reason}"


@pytest.mark.parametrize("in_memory_max", [0, inspection.HASH_READ_BYTES], ids=["ranged", "in-memory"])
@pytest.mark.parametrize("case", list(CORPUS), ids=list(CORPUS))
def test_same_outcome_as_from_a_local_file(
    case: str, in_memory_max: int, s3_object: Callable[..., str], tmp_path: Path
) -> None:
    data = CORPUS[case]()
    key = s3_object(data)
    local = tmp_path / "upload"
    local.write_bytes(data)
    with local.open("rb") as stream:
        expected = _outcome(lambda: inspection.inspect_file(stream))
    found = _outcome(
        lambda: inspection.inspect_object(
            key, size=len(data), sha256=sha256(data), in_memory_max=in_memory_max
        )
    )
    assert found == expected
    if case in ACCEPTED:
        assert isinstance(found, inspection.Inspection)
        assert found.metadata_error is None


def test_a_file_over_the_read_budget_is_inspected_from_a_temporary_copy(
    s3_object: Callable[..., str], settings: Any, tmp_path: Path
) -> None:
    data = _epub_with_pictures()
    key = s3_object(data)
    expected = inspection.inspect_file(io.BytesIO(data))

    def inspect(**limits: int) -> inspection.Inspection:
        return inspection.inspect_object(key, size=len(data), sha256=sha256(data), in_memory_max=0, **limits)

    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    assert inspect(max_requests=1) == expected
    assert inspect(max_bytes=4096) == expected
    assert list(tmp_path.iterdir()) == []  # the copy is gone
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):  # so it really took a copy
        inspect(max_requests=1)
    assert inspect() == expected  # within the budget: no copy


@pytest.mark.parametrize("size", [3 * MIB, 12 * MIB], ids=["in memory", "ranged reads"])
def test_complete_writes_no_temporary_file(
    account: Account, settings: Any, tmp_path: Path, size: int
) -> None:
    data = factories.StreamedPdf(size).read_all()
    job = initiate(account, data).json()["upload"]
    put_part(job["part_urls"][0]["url"], data)
    # A temporary file anywhere under FILE_UPLOAD_TEMP_DIR would fail the request.
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "missing")
    done = account.client.post(f"/v1/files/uploads/{job['id']}/complete")
    assert done.status_code == 201, done.content
    file = done.json()
    expected = inspection.inspect_file(io.BytesIO(data))
    assert (file["kind"], file["size"], file["sha256"]) == ("pdf", size, sha256(data))
    assert file["metadata"] == expected.metadata
    assert file["koreader_hash"] == expected.koreader_hash
