"""EPUB (an OCF zip) safety checks and package reading, shared by validation and metadata.

Safety (every check refuses the whole file with a `reason`):
- at most EPUB_MAX_ENTRIES entries, no duplicate names, no absolute paths, no `..`, no symlinks,
  no zip-level encryption;
- total uncompressed size at most EPUB_MAX_UNCOMPRESSED_BYTES, and neither the archive nor any
  large entry expanding more than EPUB_MAX_COMPRESSION_RATIO times;
- `mimetype` is the first entry and says `application/epub+zip`;
- no XML entity declarations in any markup entry (a billion-laughs bomb needs them), and the
  container and package documents, parsed with defusedxml, have no DOCTYPE at all. Navigation
  documents (XHTML nav, EPUB 2 NCX) legitimately carry a plain DOCTYPE, so there only entity
  declarations and external references are refused.
Reads never trust the sizes written in the zip beyond these bounds: every read is capped.
"""

from __future__ import annotations

import logging
import posixpath
import re
import stat
import zipfile
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml
from defusedxml import ElementTree as SafeET
from django.conf import settings

from .errors import UnsupportedFileType

NS = {
    "container": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xhtml": "http://www.w3.org/1999/xhtml",
    "epub": "http://www.idpf.org/2007/ops",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
}
MIMETYPE = b"application/epub+zip"
CONTAINER_PATH = "META-INF/container.xml"
MARKUP_SUFFIXES = (".xml", ".opf", ".ncx", ".xhtml", ".html", ".htm", ".svg", ".smil", ".xht")
# Entity declarations sit in the prolog; scanning this much of each markup entry finds them.
PROLOG_SCAN_BYTES = 64 * 1024
# Package, container and navigation documents larger than this are not plausible.
MAX_XML_BYTES = 8 * 1024 * 1024
# Small entries compress absurdly well (a page of spaces); the ratio matters for big ones.
RATIO_MIN_BYTES = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")

logger = logging.getLogger(__name__)


def _refuse(detail: str, reason: str) -> UnsupportedFileType:
    return UnsupportedFileType(f"Not an acceptable EPUB: {detail}", reason=reason)


def _check_name(name: str) -> None:
    normal = name.replace("\\", "/")
    if "\x00" in normal:
        raise _refuse("an entry name contains a NUL byte.", "zip_bad_name")
    if normal.startswith("/") or _DRIVE.match(normal):
        raise _refuse(f"entry {name!r} has an absolute path.", "zip_absolute_path")
    if ".." in normal.split("/"):
        raise _refuse(f"entry {name!r} points outside the archive.", "zip_path_traversal")


def check_archive(archive: zipfile.ZipFile) -> None:
    """Refuse archives that are unsafe to open (see the module docstring)."""
    infos = archive.infolist()
    if len(infos) > settings.EPUB_MAX_ENTRIES:
        raise _refuse(f"more than {settings.EPUB_MAX_ENTRIES} entries.", "zip_too_many_entries")
    if not infos or infos[0].filename != "mimetype":
        raise _refuse("the first entry is not `mimetype`.", "epub_mimetype_missing")
    seen: set[str] = set()
    total = compressed = 0
    ratio = settings.EPUB_MAX_COMPRESSION_RATIO
    for info in infos:
        _check_name(info.filename)
        if info.filename in seen:
            raise _refuse(f"entry {info.filename!r} appears twice.", "zip_duplicate_entry")
        seen.add(info.filename)
        if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse(f"entry {info.filename!r} is a symbolic link.", "zip_symlink")
        if info.flag_bits & 0x1:
            raise _refuse(f"entry {info.filename!r} is encrypted.", "zip_encrypted")
        if info.file_size > RATIO_MIN_BYTES and info.file_size > ratio * max(info.compress_size, 1):
            raise _refuse(f"entry {info.filename!r} expands more than {ratio}x.", "zip_bomb")
        total += info.file_size
        compressed += info.compress_size
    if total > settings.EPUB_MAX_UNCOMPRESSED_BYTES:
        raise _refuse("the uncompressed content is too large.", "zip_too_large")
    if total > RATIO_MIN_BYTES and total > ratio * max(compressed, 1):
        raise _refuse(f"the archive expands more than {ratio}x.", "zip_bomb")

    mimetype = infos[0]
    if mimetype.file_size > 64 or _read(archive, mimetype, 64).strip() != MIMETYPE:
        raise _refuse("`mimetype` does not say application/epub+zip.", "epub_mimetype_missing")

    for info in infos:
        if info.filename.lower().endswith(MARKUP_SUFFIXES):
            head = _read(archive, info, PROLOG_SCAN_BYTES)
            # UTF-16 documents interleave NULs: drop them so the marker is still found.
            if b"<!ENTITY" in head or b"<!ENTITY" in head.replace(b"\x00", b""):
                raise _refuse(f"{info.filename!r} declares XML entities.", "xml_entities")


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    # zipfile raises NotImplementedError for a compression method it lacks (and RuntimeError for
    # encryption): the entry is unreadable to us, so the book is refused, not a 500.
    try:
        with archive.open(info) as stream:
            return stream.read(limit)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
        logger.info("EPUB entry %r unreadable: %s: %s", info.filename, type(exc).__name__, exc)
        raise _refuse(
            f"entry {info.filename!r} cannot be read (damaged or unsupported compression).", "zip_corrupt"
        ) from exc


def read_entry(archive: zipfile.ZipFile, name: str, *, max_bytes: int) -> bytes:
    """One entry's bytes (an image inside the book), refused (UnsupportedFileType) when it is
    missing, declares more than `max_bytes`, expands more than EPUB_MAX_COMPRESSION_RATIO times,
    or turns out longer than it declared: the read stops at `max_bytes` + 1 whatever the zip
    says."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _refuse(f"{name!r} is missing.", "epub_structure") from None
    ratio = settings.EPUB_MAX_COMPRESSION_RATIO
    if info.file_size > max_bytes:
        raise _refuse(f"{name!r} is larger than {max_bytes} bytes.", "zip_too_large")
    if info.file_size > RATIO_MIN_BYTES and info.file_size > ratio * max(info.compress_size, 1):
        raise _refuse(f"entry {name!r} expands more than {ratio}x.", "zip_bomb")
    data = _read(archive, info, max_bytes + 1)
    if len(data) > max_bytes:
        raise _refuse(f"{name!r} is larger than it says.", "zip_too_large")
    return data


def read_xml(archive: zipfile.ZipFile, name: str, *, allow_doctype: bool) -> Element:
    """Parse one XML entry with defusedxml; any DTD trick refuses the file."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _refuse(f"{name!r} is missing.", "epub_structure") from None
    if info.file_size > MAX_XML_BYTES:
        raise _refuse(f"{name!r} is implausibly large.", "epub_structure")
    data = _read(archive, info, MAX_XML_BYTES + 1)
    try:
        return SafeET.fromstring(
            data, forbid_dtd=not allow_doctype, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden:
        raise _refuse(f"{name!r} has a DOCTYPE.", "xml_doctype") from None
    except defusedxml.EntitiesForbidden:
        raise _refuse(f"{name!r} declares XML entities.", "xml_entities") from None
    except defusedxml.ExternalReferenceForbidden:
        raise _refuse(f"{name!r} references external XML.", "xml_external_reference") from None
    except (ParseError, ValueError) as exc:
        raise _refuse(f"{name!r} is not well-formed XML ({exc}).", "xml_malformed") from None


def resolve(base_dir: str, href: str) -> str | None:
    """A relative href (percent-encoded, maybe with a fragment) as a path from the archive root,
    fragment kept; None when it leaves the archive or is absolute."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        return None
    path = unquote(parts.path)
    if not path:
        target = base_dir
    else:
        if path.startswith("/"):
            return None
        target = posixpath.normpath(posixpath.join(base_dir, path))
        if target == ".." or target.startswith("../"):
            return None
    return f"{target}#{parts.fragment}" if parts.fragment else target


@dataclass
class ManifestItem:
    path: str
    media_type: str
    properties: set[str] = field(default_factory=set)


@dataclass
class Package:
    path: str
    root: Element
    manifest: dict[str, ManifestItem]
    spine: list[str]
    ncx_id: str | None

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.path)


def read_package(archive: zipfile.ZipFile) -> Package:
    """The container's first rootfile, parsed: manifest (ids → archive paths) and spine."""
    container = read_xml(archive, CONTAINER_PATH, allow_doctype=False)
    rootfile = container.find("container:rootfiles/container:rootfile", NS)
    full_path = rootfile.get("full-path") if rootfile is not None else None
    opf_path = resolve("", full_path) if full_path else None
    if not opf_path or "#" in opf_path:
        raise _refuse("the container names no package document.", "epub_structure")
    root = read_xml(archive, opf_path, allow_doctype=False)
    if root.tag != f"{{{NS['opf']}}}package":
        raise _refuse("the package document is not an OPF package.", "epub_structure")
    base = posixpath.dirname(opf_path)
    manifest: dict[str, ManifestItem] = {}
    for item in root.iterfind("opf:manifest/opf:item", NS):
        item_id, href = item.get("id"), item.get("href")
        path = resolve(base, href) if href else None
        if item_id and path:
            manifest[item_id] = ManifestItem(
                path=path.split("#", 1)[0],
                media_type=item.get("media-type", ""),
                properties=set((item.get("properties") or "").split()),
            )
    spine_element = root.find("opf:spine", NS)
    spine: list[str] = []
    if spine_element is not None:
        for itemref in spine_element.iterfind("opf:itemref", NS):
            target = manifest.get(itemref.get("idref", ""))
            if target is not None:
                spine.append(target.path)
    if not spine:
        raise _refuse("the package has an empty spine.", "epub_structure")
    return Package(
        path=opf_path,
        root=root,
        manifest=manifest,
        spine=spine,
        ncx_id=spine_element.get("toc") if spine_element is not None else None,
    )


def text_of(element: Element | None) -> str:
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())
