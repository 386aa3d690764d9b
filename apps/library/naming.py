"""User file names are metadata only: sanitised for display and for Content-Disposition, never
used as a storage key or a path."""

from __future__ import annotations

import posixpath
import unicodedata

from .models import NAME_MAX_LENGTH

FALLBACK_STEM = "untitled"


def _clean(raw: str | None) -> str:
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Whitespace of any kind becomes a space; other control and format characters go.
    name = "".join(
        " " if ch.isspace() else ch for ch in name if ch.isspace() or unicodedata.category(ch)[0] != "C"
    )
    return " ".join(name.split()).strip(" .")


def is_blank(raw: str | None) -> bool:
    """True when nothing displayable is left after sanitising."""
    return not _clean(raw)


def sanitize_name(raw: str | None, *, default_extension: str = "") -> str:
    """A display name made safe: the last path component only, NFC, no control or format
    characters (so no bidi overrides that disguise an extension), single spaces, no leading or
    trailing dots and spaces, at most NAME_MAX_LENGTH characters with the extension kept.
    Empty results become `untitled<ext>`."""
    name = _clean(raw)
    if not name:
        return FALLBACK_STEM + default_extension
    if len(name) > NAME_MAX_LENGTH:
        stem, ext = posixpath.splitext(name)
        if len(ext) > 16:  # not a real extension: cut plainly
            stem, ext = name, ""
        name = stem[: NAME_MAX_LENGTH - len(ext)].rstrip(" .") + ext
    return name


EXTENSIONS = {
    "application/pdf": ".pdf",
    "application/epub+zip": ".epub",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
}

# Other spellings of an extension that name the same type.
_SAME_TYPE = {".jpg": (".jpg", ".jpeg", ".jpe"), ".epub": (".epub",), ".pdf": (".pdf",)}


def download_name(name: str, content_type: str) -> str:
    """The name a download is saved under: the file's own name, ending in the extension of the
    type its bytes were detected as. A PDF named `invoice.html` downloads as
    `invoice.html.pdf`: the saved file must never open as something it is not (a browser or a
    desktop picks the handler by the extension)."""
    extension = EXTENSIONS.get(content_type)
    if extension is None:
        return name
    accepted = _SAME_TYPE.get(extension, (extension,))
    if posixpath.splitext(name)[1].lower() in accepted:
        return name
    return name + extension
