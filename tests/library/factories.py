"""Real files made by the test suite: PDFs (pypdf, or a hand-written one of any size streamed
on the fly), EPUBs (zipfile), PNG/JPEG/WebP/GIF images (Pillow), and hostile variants."""

from __future__ import annotations

import hashlib
import io
import random
import stat
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from scripts.services import pdf_bytes  # noqa: F401 - the shared sample, re-exported for the tests


def image_bytes(fmt: str = "PNG", *, size: tuple[int, int] = (32, 24), **save: object) -> bytes:
    """A small valid image in `fmt` (PNG, JPEG, WEBP, GIF); random pixels make each unique."""
    image = Image.new("RGB", size, (200, 30, 30))
    rng = random.Random()
    for _ in range(8):
        image.putpixel(
            (rng.randrange(size[0]), rng.randrange(size[1])), tuple(rng.randrange(256) for _ in "rgb")
        )
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def png_with_text(key: str, text: str) -> bytes:
    info = PngInfo()
    info.add_text(key, text)
    return image_bytes("PNG", pnginfo=info)


# --- EPUB ------------------------------------------------------------------------------------

CONTAINER = b"""<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">&lol4;</container>"""

CONTAINER_WITH_DOCTYPE = CONTAINER.replace(
    b"<container", b'<!DOCTYPE container SYSTEM "c.dtd">\n<container', 1
)


def _chapter(number: int, words: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Chapter {number}</title></head>
<body><h1 id="c{number}">Chapter {number}</h1><p>{words}</p></body></html>""".encode()


@dataclass
class EpubSpec:
    title: str = "A Test Book"
    authors: tuple[str, ...] = ("Ann Author", "Bob Writer")
    language: str = "en"
    identifier: str = field(default_factory=lambda: f"urn:uuid:{uuid.uuid4()}")
    chapters: int = 3
    nav: bool = True
    ncx: bool = True
    container: bytes = CONTAINER
    mimetype: bytes = b"application/epub+zip"
    mimetype_first: bool = True
    extra: dict[str, bytes] = field(default_factory=dict)
    nav_document: bytes | None = None
    symlink: str | None = None
    # The manifest's cover-image item (False: a book without a cover) and its bytes (None: a
    # small PNG); `cover_compression` for a cover that expands absurdly (a zip bomb).
    cover: bool = True
    cover_data: bytes | None = None
    cover_compression: int = zipfile.ZIP_DEFLATED


def epub_bytes(spec: EpubSpec | None = None, **overrides: object) -> bytes:
    spec = spec or EpubSpec(**overrides)  # type: ignore[arg-type]
    chapters = [f"text/ch{n}.xhtml" for n in range(1, spec.chapters + 1)]
    creators = "".join(f"<dc:creator>{a}</dc:creator>" for a in spec.authors)
    items = "".join(
        f'<item id="ch{n}" href="{href}" media-type="application/xhtml+xml"/>'
        for n, href in enumerate(chapters, 1)
    )
    if spec.nav:
        items += '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
    if spec.ncx:
        items += '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>'
    if spec.cover:
        items += '<item id="cover" href="images/cover.png" media-type="image/png" properties="cover-image"/>'
    spine = "".join(f'<itemref idref="ch{n}"/>' for n in range(1, spec.chapters + 1))
    opf = f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="bookid">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="bookid">{spec.identifier}</dc:identifier>
    <dc:identifier>isbn-not-the-unique-one</dc:identifier>
    <dc:title>{spec.title}</dc:title>{creators}<dc:language>{spec.language}</dc:language>
  </metadata>
  <manifest>{items}</manifest>
  <spine{' toc="ncx"' if spec.ncx else ""}>{spine}</spine>
</package>""".encode()
    nav_items = "".join(
        f'<li><a href="{href}#c{n}">Chapter {n}</a>'
        + ('<ol><li><a href="text/ch1.xhtml#s1">Section 1.1</a></li></ol>' if n == 1 else "")
        + "</li>"
        for n, href in enumerate(chapters, 1)
    )
    nav = (
        spec.nav_document
        or f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>Contents</title></head>
<body><nav epub:type="toc"><h1>Contents</h1><ol>{nav_items}</ol></nav></body></html>""".encode()
    )
    points = "".join(
        f'<navPoint id="p{n}" playOrder="{n}"><navLabel><text>Chapter {n}</text></navLabel>'
        f'<content src="{href}"/></navPoint>'
        for n, href in enumerate(chapters, 1)
    )
    ncx = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE ncx PUBLIC "-//NISO//DTD ncx 2005-1//EN" "http://www.daisy.org/z3986/2005/ncx-2005-1.dtd">
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">
<head/><docTitle><text>{spec.title}</text></docTitle><navMap>{points}</navMap></ncx>""".encode()

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:

        def mimetype() -> None:
            archive.writestr(zipfile.ZipInfo("mimetype"), spec.mimetype, compress_type=zipfile.ZIP_STORED)

        if spec.mimetype_first:
            mimetype()
        archive.writestr("META-INF/container.xml", spec.container)
        archive.writestr("OEBPS/content.opf", opf)
        if spec.nav:
            archive.writestr("OEBPS/nav.xhtml", nav)
        if spec.ncx:
            archive.writestr("OEBPS/toc.ncx", ncx)
        for n, href in enumerate(chapters, 1):
            archive.writestr(f"OEBPS/{href}", _chapter(n, f"Words of chapter {n}. " * 20))
        cover = spec.cover_data if spec.cover_data is not None else image_bytes("PNG")
        archive.writestr("OEBPS/images/cover.png", cover, compress_type=spec.cover_compression)
        for name, data in spec.extra.items():
            archive.writestr(name, data)
        if spec.symlink:
            info = zipfile.ZipInfo(spec.symlink)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
        if not spec.mimetype_first:
            mimetype()
    return buffer.getvalue()


# --- hostile or foreign bytes ----------------------------------------------------------------

EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 48
    + b"This program cannot be run in DOS mode.\r\r\n$"
    + b"\x00" * 512
)
SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">
<script>alert(1)</script><rect width="10" height="10"/></svg>"""
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


# --- a large PDF, generated while it is sent -------------------------------------------------


class StreamedPdf:
    """A valid PDF of exactly `size` bytes whose bulk is one binary stream object, produced in
    1 MiB blocks as it is read (never whole in memory). `sha256` is known once fully read."""

    BLOCK = 1024 * 1024

    def __init__(self, size: int) -> None:
        self.block = random.Random(size).randbytes(self.BLOCK)
        head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        ]
        self.prefix = bytearray(head)
        offsets = []
        for number, body in enumerate(objects, 1):
            offsets.append(len(self.prefix))
            self.prefix += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        offsets.append(len(self.prefix))
        # The trailer's length depends on the offsets' digits, not on the payload size.
        tail_template = self._tail(offsets, 0)
        stream_head_template = b"4 0 obj\n<< /Length %d >>\nstream\n"
        fixed = len(self.prefix) + len(b"\nendstream\nendobj\n") + len(tail_template)
        payload = size - fixed - len(stream_head_template % 0)
        while True:  # the /Length digits change the header length: settle it
            stream_head = stream_head_template % payload
            total = fixed + len(stream_head) + payload
            if total == size:
                break
            payload -= total - size
        self.prefix += stream_head
        self.payload = payload
        xref_at = len(self.prefix) + payload + len(b"\nendstream\nendobj\n")
        self.suffix = b"\nendstream\nendobj\n" + self._tail(offsets, xref_at)
        self.size = len(self.prefix) + payload + len(self.suffix)
        assert self.size == size, (self.size, size)
        self.sha256 = ""

    @staticmethod
    def _tail(offsets: list[int], xref_at: int) -> bytes:
        entries = b"0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
        return (
            b"xref\n0 %d\n" % (len(offsets) + 1)
            + entries
            + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%012d\n%%%%EOF\n"
            % (len(offsets) + 1, xref_at)
        )

    def chunks(self) -> Iterator[bytes]:
        digest = hashlib.sha256()
        for piece in self._pieces():
            digest.update(piece)
            yield piece
        self.sha256 = digest.hexdigest()

    def _pieces(self) -> Iterator[bytes]:
        yield bytes(self.prefix)
        left = self.payload
        while left > 0:
            piece = self.block[: min(left, self.BLOCK)]
            left -= len(piece)
            yield piece
        yield self.suffix

    def read_all(self) -> bytes:
        return b"".join(self.chunks())


class MultipartStream:
    """A multipart/form-data body with one file part, produced while it is read (a WSGI input)."""

    BOUNDARY = "exampleapp-test-boundary-7d1c0f"

    def __init__(
        self, chunks: Iterator[bytes], size: int, *, filename: str, field_name: str = "file"
    ) -> None:
        self.head = (
            f"--{self.BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.BOUNDARY}--\r\n".encode()
        self.length = len(self.head) + size + len(self.tail)
        self.content_type = f"multipart/form-data; boundary={self.BOUNDARY}"
        self._source = self._all(chunks)
        self._buffer = b""
        self.bytes_read = 0

    def _all(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        yield self.head
        yield from chunks
        yield self.tail

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            piece = next(self._source, None)
            if piece is None:
                break
            self._buffer += piece
        if size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        self.bytes_read += len(out)
        return out

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - not used by the parser
        return self.read(size)


class ExplodingInput:
    """A WSGI input that fails the test if anything reads it."""

    bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the request body was read")

    def readline(self, size: int = -1) -> bytes:
        raise AssertionError("the request body was read")


# --- PDFs of a chosen page size and weight (covers) ---------------------------------------------


def pdf_page_bytes(*, media_box: tuple[int, int, int, int] = (0, 0, 612, 792), ops: int = 10) -> bytes:
    """A one-page PDF with `ops` small filled squares (the weight of its content stream), unique
    per call (a random comment)."""
    content = b"%% %s\n" % uuid.uuid4().hex.encode() + b"".join(
        b"%d %d 3 3 re f\n" % (i % 600, (i // 600) % 780) for i in range(ops)
    )
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [%d %d %d %d] /Contents 4 0 R >>" % media_box,
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(bodies, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, xref_at)
    return bytes(out)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` pixels over a few bytes of data: a
    decompression bomb's announcement (Pillow refuses it when it opens the file)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
