"""Metadata of a validated file (stored in File.metadata, shown in the API and the admin).

- PDF: page_count, title, author, pdf_version, encrypted.
- EPUB: title, authors, language, identifier, epub_version, cover (archive path of the cover
  image), toc (nested `{title, href, children}`, hrefs from the archive root with their
  fragment), spine (archive paths of the reading order; used to check and rank locators).
- Image: width, height, format, animated.
Extraction never loses a valid file: a failure returns `{"error": ...}` and the file is stored
with status `metadata_failed`. Read from a seekable binary file object, like `sniffing.detect`.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import zipfile
from collections.abc import Callable, Iterator
from typing import IO, Any
from xml.etree.ElementTree import Element

from PIL import Image
from pypdf import PdfReader

from apps.common.text import clean_text

from . import epub
from .models import FileKind
from .sniffing import Detected

logger = logging.getLogger(__name__)

TEXT_MAX = 1000
AUTHORS_MAX = 20
# A table of contents keeps at most this much text (titles and links): metadata is in every
# listing and sync page of the file (see _Budget).
TOC_MAX_BYTES = 48 * 1024
TOC_ENTRY_OVERHEAD = 40  # the JSON around an entry's title and link
METADATA_ERROR = "The file's metadata could not be read; the file itself is fine."
TOC_MAX_ENTRIES = 5000
TOC_MAX_DEPTH = 16


def extract(stream: IO[bytes], detected: Detected) -> tuple[dict[str, Any], str | None]:
    """(metadata, error); error is None when extraction worked."""
    try:
        stream.seek(0)
        if detected.kind == FileKind.PDF:
            return _pdf(stream), None
        if detected.kind == FileKind.EPUB:
            return _epub(stream), None
        return _image(stream), None
    except Exception as exc:  # a valid file must survive a metadata bug or oddity
        # The details go to the log; the answer says only what happened (no exception names).
        logger.warning(
            "metadata extraction failed (%s): %s: %s", detected.content_type, type(exc).__name__, exc
        )
        return {"error": METADATA_ERROR}, METADATA_ERROR


def _clean(value: Any) -> str | None:
    """Text from inside a file, made storable (apps/common/text.py: no NUL, no unpaired
    surrogate) and displayable: single spaces, at most TEXT_MAX characters."""
    if value is None:
        return None
    text = " ".join(clean_text(str(value)).split())
    return text[:TEXT_MAX] or None


def _pdf(stream: IO[bytes]) -> dict[str, Any]:
    # A file object, never a path: given a path, pypdf reads the whole file into memory.
    return _pdf_from(PdfReader(stream, strict=False))


def _pdf_from(reader: PdfReader) -> dict[str, Any]:
    encrypted = bool(reader.is_encrypted)
    if encrypted:
        # Only PDFs with an empty user password open; for others we report what we can.
        with contextlib.suppress(Exception):
            reader.decrypt("")
    try:
        page_count: int | None = len(reader.pages)
    except Exception:
        page_count = None
    info: Any
    try:
        info = reader.metadata or {}
    except Exception:
        info = {}
    return {
        "page_count": page_count,
        "title": _clean(info.get("/Title")),
        "author": _clean(info.get("/Author")),
        "pdf_version": _clean(reader.pdf_header.lstrip("%").removeprefix("PDF-")),
        "encrypted": encrypted,
    }


def _image(stream: IO[bytes]) -> dict[str, Any]:
    with Image.open(stream) as image:
        return {
            "width": image.width,
            "height": image.height,
            "format": image.format,
            "animated": bool(getattr(image, "is_animated", False)),
        }


def _epub(stream: IO[bytes]) -> dict[str, Any]:
    with zipfile.ZipFile(stream) as archive:
        package = epub.read_package(archive)
        root = package.root
        metadata = root.find("opf:metadata", epub.NS)
        if metadata is None:
            metadata = Element("metadata")

        def texts(tag: str) -> list[str]:
            return [t for t in (_clean(epub.text_of(e)) for e in metadata.iterfind(tag, epub.NS)) if t]

        titles = texts("dc:title")
        languages = texts("dc:language")
        identifier = None
        unique_id = root.get("unique-identifier")
        for element in metadata.iterfind("dc:identifier", epub.NS):
            if identifier is None or element.get("id") == unique_id:
                identifier = _clean(epub.text_of(element))
        toc, truncated = _toc(archive, package)
        return {
            "title": titles[0] if titles else None,
            "authors": texts("dc:creator")[:AUTHORS_MAX],
            "language": languages[0] if languages else None,
            "identifier": identifier,
            "epub_version": _clean(root.get("version")),
            "cover": _cover(package, metadata),
            "toc": toc,
            **({"toc_truncated": True} if truncated else {}),
            "spine": package.spine,
        }


def _cover(package: epub.Package, metadata: Element) -> str | None:
    for item in package.manifest.values():
        if "cover-image" in item.properties:
            return item.path
    for meta in metadata.iterfind("opf:meta", epub.NS):  # EPUB 2: <meta name="cover" content="id">
        if meta.get("name") == "cover":
            cover = package.manifest.get(meta.get("content", ""))
            if cover is not None:
                return cover.path
    return None


class _Budget:
    """How much table of contents a book's metadata keeps: TOC_MAX_ENTRIES entries and
    TOC_MAX_BYTES of titles and links. Metadata travels in every file listing and sync page, so
    a book with a huge table of contents gets its first part and `toc_truncated: true`."""

    def __init__(self) -> None:
        self.entries = TOC_MAX_ENTRIES
        self.bytes = TOC_MAX_BYTES
        self.truncated = False

    def take(self, title: str, href: str | None) -> bool:
        self.entries -= 1
        self.bytes -= len(title.encode()) + len((href or "").encode()) + TOC_ENTRY_OVERHEAD
        if self.entries < 0 or self.bytes < 0:
            self.truncated = True
        return not self.truncated


def _toc(archive: zipfile.ZipFile, package: epub.Package) -> tuple[list[dict[str, Any]], bool]:
    """The table of contents (EPUB 3 nav, else the EPUB 2 NCX) and whether it was cut short."""
    nav = next((item for item in package.manifest.values() if "nav" in item.properties), None)
    if nav is not None:
        try:
            root = epub.read_xml(archive, nav.path, allow_doctype=True)
            budget = _Budget()
            entries = _nav_toc(root, posixpath.dirname(nav.path), budget)
            if entries:
                return entries, budget.truncated
        except Exception as exc:  # fall back to the NCX
            logger.info("EPUB nav unreadable: %s", exc)
    ncx: epub.ManifestItem | None = package.manifest.get(package.ncx_id or "")
    if ncx is None:
        ncx = next((i for i in package.manifest.values() if i.media_type == "application/x-dtbncx+xml"), None)
    if ncx is None:
        return [], False
    root = epub.read_xml(archive, ncx.path, allow_doctype=True)
    nav_map = root.find("ncx:navMap", epub.NS)
    if nav_map is None:
        return [], False
    budget = _Budget()
    return _ncx_points(nav_map, posixpath.dirname(ncx.path), 0, budget), budget.truncated


def _nav_toc(root: Element, base: str, budget: _Budget) -> list[dict[str, Any]]:
    navs = list(root.iter(f"{{{epub.NS['xhtml']}}}nav"))
    chosen = next(
        (n for n in navs if "toc" in (n.get(f"{{{epub.NS['epub']}}}type") or "").split()),
        navs[0] if navs else None,
    )
    if chosen is None:
        return []
    ol = chosen.find("xhtml:ol", epub.NS)
    return _nav_list(ol, base, 0, budget) if ol is not None else []


def _nav_list(ol: Element, base: str, depth: int, budget: _Budget) -> list[dict[str, Any]]:
    return _toc_tree(ol.iterfind("xhtml:li", epub.NS), _nav_item, base, depth, budget)


def _ncx_points(parent: Element, base: str, depth: int, budget: _Budget) -> list[dict[str, Any]]:
    return _toc_tree(parent.iterfind("ncx:navPoint", epub.NS), _ncx_item, base, depth, budget)


def _nav_item(li: Element) -> tuple[str, str | None, Iterator[Element]]:
    """An EPUB 3 nav `<li>`: its label (a link, or a heading span), target and sub-list."""
    link = li.find("xhtml:a", epub.NS)
    label = link if link is not None else li.find("xhtml:span", epub.NS)
    child = li.find("xhtml:ol", epub.NS)
    below = child.iterfind("xhtml:li", epub.NS) if child is not None else iter(())
    return epub.text_of(label), link.get("href") if link is not None else None, below


def _ncx_item(point: Element) -> tuple[str, str | None, Iterator[Element]]:
    """An EPUB 2 NCX `<navPoint>`: its label, target and nested points."""
    content = point.find("ncx:content", epub.NS)
    label = epub.text_of(point.find("ncx:navLabel/ncx:text", epub.NS))
    return label, content.get("src") if content is not None else None, point.iterfind("ncx:navPoint", epub.NS)


def _toc_tree(
    nodes: Iterator[Element],
    read: Callable[[Element], tuple[str, str | None, Iterator[Element]]],
    base: str,
    depth: int,
    budget: _Budget,
) -> list[dict[str, Any]]:
    """One table of contents from either format: entries of `{title, href, children}`, at most
    TOC_MAX_DEPTH deep, ending where the budget runs out."""
    entries: list[dict[str, Any]] = []
    if depth >= TOC_MAX_DEPTH:
        return entries
    for node in nodes:
        label, href, below = read(node)
        title, target = _clean(label) or "", epub.resolve(base, href) if href else None
        if not budget.take(title, target):
            break
        children = _toc_tree(below, read, base, depth + 1, budget)
        entries.append({"title": title, "href": target, "children": children})
    return entries
