"""Pure functions of the library: KOReader's partial MD5 (seeking, or sampled from a stream),
the markup scan of images, name sanitising, Range parsing, part sizes, magic-number sniffing,
progress ranking."""

from __future__ import annotations

import hashlib
import io
import random

import pytest
from django.test import override_settings

from apps.library import downloads, hashing, selectors, sniffing
from apps.library.naming import sanitize_name
from apps.library.viewer import validation as viewer

from . import factories


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class TestKoreaderPartialMd5:
    def test_offsets_follow_the_luajit_wraparound(self) -> None:
        assert hashing.KOREADER_OFFSETS == (
            0,
            1024,
            4096,
            16384,
            65536,
            262144,
            1048576,
            4194304,
            16777216,
            67108864,
            268435456,
            1073741824,
        )

    def test_empty_file(self) -> None:
        assert hashing.koreader_partial_md5(io.BytesIO(b"")) == "d41d8cd98f00b204e9800998ecf8427e"

    def test_small_files_hash_whole(self) -> None:
        data = bytes(range(256)) * 8  # 2048 bytes
        assert hashing.koreader_partial_md5(io.BytesIO(data)) == md5(data)
        assert hashing.koreader_partial_md5(io.BytesIO(data[:700])) == md5(data[:700])

    def test_files_up_to_4096_hash_their_first_2048_bytes(self) -> None:
        data = bytes(range(256)) * 15  # 3840 bytes
        assert hashing.koreader_partial_md5(io.BytesIO(data)) == md5(data[:2048])

    def test_bytes_outside_the_windows_do_not_matter(self) -> None:
        data = bytearray(b"\x01" * 300_000)
        before = hashing.koreader_partial_md5(io.BytesIO(bytes(data)))
        data[6000:7000] = b"\x02" * 1000  # between the windows at 4096..5120 and 16384
        assert hashing.koreader_partial_md5(io.BytesIO(bytes(data) + b"appended")) == before
        data[16384] = 9
        assert hashing.koreader_partial_md5(io.BytesIO(bytes(data))) != before

    def test_sampling_matches_the_spec_by_construction(self) -> None:
        data = bytes((i * 7) % 251 for i in range(70_000))
        expected = md5(b"".join(data[o : o + 1024] for o in (0, 1024, 4096, 16384, 65536)))
        assert hashing.koreader_partial_md5(io.BytesIO(data)) == expected


def _fed(scanner: hashing.KoreaderSampler | sniffing.MarkupScan, data: bytes, sizes: list[int]) -> None:
    """Feed `data` in chunks of the given sizes, the last one repeated to the end."""
    start = 0
    for size in sizes[:-1]:
        scanner.update(data[start : start + size])
        start += size
    while start < len(data):
        scanner.update(data[start : start + sizes[-1]])
        start += sizes[-1]


class TestKoreaderSampler:
    @pytest.mark.parametrize("size", [0, 1, 700, 1024, 1025, 2048, 4096, 5000, 70_000, 1_100_000])
    def test_same_digest_as_seeking_whatever_the_chunks(self, size: int) -> None:
        data = random.Random(size).randbytes(size)
        expected = hashing.koreader_partial_md5(io.BytesIO(data))
        for sizes in ([1000], [1024], [4095], [3, 1021, 65536], [max(size, 1)]):
            sampler = hashing.KoreaderSampler()
            _fed(sampler, data, sizes)
            assert sampler.hexdigest() == expected, sizes

    def test_far_offsets(self) -> None:
        data = random.Random(7).randbytes(17 * 1024 * 1024 + 3)  # samples at 4 MiB and 16 MiB
        expected = hashing.koreader_partial_md5(io.BytesIO(data))
        for sizes in ([8 * 1024 * 1024], [1024 * 1024 + 7], [4 * 1024 * 1024 - 1, 8 * 1024 * 1024]):
            sampler = hashing.KoreaderSampler()
            _fed(sampler, data, sizes)
            assert sampler.hexdigest() == expected, sizes


class TestMarkupScan:
    """The scan finds what one search of the whole file finds, wherever the chunks are cut."""

    @pytest.mark.parametrize(
        ("tag", "found"),
        [
            (b"<html>", True),
            (b"<SCRIPT src=x>", True),
            (b"<svg/", True),
            (b"<iframe\n", True),
            (b"<!doctype \n\t html>", True),
            (b"<!DOCTYPE" + b" " * 300 + b"HTML ", True),
            (b"<meta   http-equiv >", True),
            (b"<meta" + b"\n" * 200 + b"http-equiv/", True),
            (b"<htmlx>", False),
            (b"<!doctypehtml>", False),
            (b"< html>", False),
            (b"<scrip>", False),
            (b"<meta" + b" " * 200 + b"name>", False),
        ],
    )
    def test_every_cut_through_a_tag(self, tag: bytes, found: bool) -> None:
        rng = random.Random(tag)
        before = rng.randbytes(5000).replace(b"<", b"(")
        data = before + tag + rng.randbytes(3000).replace(b"<", b"(")
        at = len(before)
        for cut in range(at - 1, at + len(tag) + 2):
            for sizes in ([cut, 4096], [cut, 1], [cut, 2, 3, 4096]):
                scan = sniffing.MarkupScan()
                _fed(scan, data, sizes)
                assert scan.found is found, (cut, sizes)

    def test_tags_among_many_angle_brackets(self) -> None:
        rng = random.Random(3)
        for _ in range(200):
            data = bytes(rng.choice(b"<>/ \nhtmlsvgHTMLmeta-equivdoctype!xq") for _ in range(400))
            expected = sniffing._MARKUP.search(data) is not None
            for sizes in ([1], [7], [rng.randrange(1, 400), 13]):
                scan = sniffing.MarkupScan()
                _fed(scan, data, sizes)
                assert scan.found is expected, (data, sizes)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ann\\My Book.epub", "My Book.epub"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("tab\tand\nnewline.png", "tab and newline.png"),
        ("  ..hidden.pdf. ", "hidden.pdf"),
        ("Cafe\u0301.pdf", "Café.pdf"),
        ("", "untitled.pdf"),
        ("\x00\x01", "untitled.pdf"),
        ("a" * 300 + ".epub", "a" * 250 + ".epub"),
    ],
)
def test_sanitize_name(raw: str, expected: str) -> None:
    assert sanitize_name(raw, default_extension=".pdf" if "epub" not in raw else ".epub") == expected


@pytest.mark.parametrize(
    ("header", "window"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=9-3", None),
        ("bytes=0-1,5-6", None),
        ("items=0-9", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, window: tuple[int, int] | None) -> None:
    assert downloads.parse_range(header, 100) == window


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(downloads.Unsatisfiable):
        downloads.parse_range(header, 100)


@override_settings(DIRECT_UPLOAD_PART_BYTES=16 * 1024 * 1024)
def test_part_size_grows_to_stay_within_10000_parts() -> None:
    assert selectors.part_size_for(100) == 16 * 1024 * 1024
    assert selectors.part_size_for(2 * 1024**3) == 16 * 1024 * 1024
    big = 500 * 1024**3
    size = selectors.part_size_for(big)
    assert -(-big // size) <= 10_000
    assert size % (1024 * 1024) == 0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"%PDF-1.4\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (factories.epub_bytes()[:4096], "application/epub+zip"),
        (b"<svg", None),
        (b"MZ\x90\x00", None),
        (b"PK\x03\x04" + b"\x00" * 40, None),
        (b"", None),
    ],
)
def test_sniff(data: bytes, content_type: str | None) -> None:
    detected = sniffing.sniff(data)
    assert (detected.content_type if detected else None) == content_type


def test_progress_ranks_epub_positions_through_the_spine() -> None:
    meta = {"spine": ["OEBPS/a.xhtml", "OEBPS/b.xhtml"]}
    early = viewer.progress_of("epub", {"href": "OEBPS/a.xhtml", "locations": {"progression": 0.9}}, meta)
    late = viewer.progress_of("epub", {"href": "b.xhtml", "locations": {"progression": 0.1}}, meta)
    assert early == pytest.approx(0.45)
    assert late == pytest.approx(0.55)
    assert viewer.is_regression(early, late)
    assert not viewer.is_regression(late, early)
    assert not viewer.is_regression(None, late)
    unknown = viewer.progress_of("epub", {"href": "x.xhtml", "locations": {"progression": 0.1}}, meta)
    assert unknown is None
