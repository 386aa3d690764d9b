"""Plain input: values a request serializer would take unchanged, recognised without running it.

A sync push of a hundred edits would spend most of its time in DRF's field machinery for input
that needs none of it. The batched paths of a push ask these checks first; anything they do not
recognise as plain goes through the serializer, which also explains what is wrong. So each
check must never accept more than its serializer field, nor shape the value otherwise
(tests/sync/test_fast_paths.py compares them on corpora and generated input).
"""

from __future__ import annotations

import re
from typing import Any

from .tags import TAG_MAX_LENGTH, TAGS_MAX_COUNT, normalize_tags

# What DRF's CharField refuses in any string: NUL and lone surrogates.
_REFUSED_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def plain_text(value: Any, *, trim: bool, max_length: int | None, allow_blank: bool = True) -> bool:
    """A string a StrictCharField takes unchanged: nothing refused, nothing to trim, not too long."""
    return (
        type(value) is str
        and _REFUSED_CHARACTERS.search(value) is None
        and (not trim or value == value.strip())
        and (allow_blank or value != "")
        and (max_length is None or len(value) <= max_length)
    )


def plain_tags(value: Any) -> list[str] | None:
    """What a TagsField makes of a plain list of tags (normalised), else None."""
    if type(value) is not list or len(value) > TAGS_MAX_COUNT:
        return None
    if not all(plain_text(tag, trim=True, max_length=TAG_MAX_LENGTH, allow_blank=False) for tag in value):
        return None
    return normalize_tags(value)
