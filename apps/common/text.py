"""Text PostgreSQL cannot store, found before it gets anywhere near the database.

Two kinds of characters reach Python strings but not a PostgreSQL row: NUL (text and jsonb
refuse it) and lone surrogates (U+D800-U+DFFF without a partner: JSON's `"\\ud800"` decodes to
one, but it has no UTF-8 form, so neither the driver nor orjson can send it). Anything a client
sends is checked with `find_unstorable` and refused with a field path; text that comes out of a
file the user uploaded (a PDF title, an EPUB's table of contents) is repaired with `clean_text`
instead, because the file itself is fine.
"""

from __future__ import annotations

import re
from typing import Any

# NUL, and any surrogate code point (a valid pair never survives JSON decoding as two halves).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Contains a NUL character or an unpaired surrogate, which cannot be stored."


def is_storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


def clean_text(text: str) -> str:
    """Drop NULs and replace unpaired surrogates with U+FFFD (for text taken from files)."""
    if is_storable(text):
        return text
    return _UNSTORABLE.sub(lambda match: "" if match.group() == "\x00" else "\ufffd", text)


def _has_unstorable(value: Any) -> bool:
    """Whether any string (or key) in a decoded JSON value is unstorable. The hot path of every
    request body and of every op of a push: no paths built, ASCII strings checked with a plain
    `in` (str.isascii is a flag lookup), a loop rather than recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if ("\x00" in item) if item.isascii() else not is_storable(item):
                return True
        elif kind is dict:
            if any(("\x00" in key) if key.isascii() else not is_storable(key) for key in item):
                return True
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
    return False


def find_unstorable(value: Any, path: str = "") -> str | None:
    """The dotted path (`ops.3.fields.title`, keys included) of the first string in a decoded
    JSON value that PostgreSQL cannot store, or None. Walks without recursion: the value may
    be as deep as the parser allowed."""
    if not _has_unstorable(value):
        return None
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if not is_storable(item):
                return where or "non_field_errors"
        elif isinstance(item, dict):
            for key, child in item.items():
                if not is_storable(str(key)):
                    # The key itself cannot be echoed in a path either.
                    return f"{where}.<key>" if where else "<key>"
                stack.append((f"{where}.{key}" if where else str(key), child))
        elif isinstance(item, list):
            stack.extend(
                (f"{where}.{index}" if where else str(index), child) for index, child in enumerate(item)
            )
    return None
