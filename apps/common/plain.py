"""Plain input: values a request serializer would take unchanged, recognised without running it.

A sync push of a hundred edits would spend most of its time in DRF's field machinery for input
that needs none of it. The batched paths of a push ask these checks first; anything they do not
recognise as plain goes through the serializer, which also explains what is wrong. So each
check must never accept more than its serializer field, nor shape the value otherwise
(tests/sync/test_fast_paths.py compares them on corpora and generated input).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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


class _NotPlain:
    """What a rule answers for a value it does not take as it is."""


NOT_PLAIN = _NotPlain()
Rule = Callable[[Any], Any]


def plain_fields(fields: Any, rules: Mapping[str, Rule]) -> dict[str, Any] | None:
    """`fields` as each one's rule cleans it, when `fields` is a JSON object whose every field
    has a rule and every rule takes its value; else None (the serializer decides)."""
    if type(fields) is not dict or not fields.keys() <= rules.keys():
        return None
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        cleaned[name] = rules[name](value)
        if cleaned[name] is NOT_PLAIN:
            return None
    return cleaned


def text_rule(*, trim: bool, max_length: int | None, allow_blank: bool = True) -> Rule:
    def rule(value: Any) -> Any:
        return (
            value
            if plain_text(value, trim=trim, max_length=max_length, allow_blank=allow_blank)
            else NOT_PLAIN
        )

    return rule


def tags_rule(value: Any) -> Any:
    tags = plain_tags(value)
    return NOT_PLAIN if tags is None else tags


def boolean_rule(value: Any) -> Any:
    return value if type(value) is bool else NOT_PLAIN


def integer_rule(lowest: int, highest: int) -> Rule:
    def rule(value: Any) -> Any:
        return value if type(value) is int and lowest <= value <= highest else NOT_PLAIN

    return rule
