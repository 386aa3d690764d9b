"""Tags: labels on tasks, notes and files, with one set of rules for all three.

A tag list is a set of labels: case and spacing make no different tag. Each tag is lower-cased,
stripped, with inner runs of whitespace made one space; duplicates merge and the list is
sorted, so equal sets compare (and merge, in sync) equal. A blank tag is refused, as are more
than TAGS_MAX_COUNT tags or a tag longer than TAG_MAX_LENGTH characters — counted after
normalising ("İ" lower-cases to two characters).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connections
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from rest_framework import serializers

from .fields import StrictCharField

TAG_MAX_LENGTH = 64
TAGS_MAX_COUNT = 50


def normalize_tag(value: str) -> str:
    return " ".join(value.split()).lower()


def normalize_tags(values: Iterable[str]) -> list[str]:
    return sorted({normalize_tag(value) for value in values} - {""})


def tag_problems(tags: list[str]) -> list[str]:
    """What is wrong with normalised tags, in words (empty when nothing)."""
    problems = []
    if len(tags) > TAGS_MAX_COUNT:
        problems.append(f"At most {TAGS_MAX_COUNT} tags.")
    if any(len(tag) > TAG_MAX_LENGTH for tag in tags):
        problems.append(f"A tag has at most {TAG_MAX_LENGTH} characters.")
    return problems


class TagsField(serializers.ListField):
    """A list of tags in a request: JSON strings, none blank, normalised (see above)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", StrictCharField(max_length=TAG_MAX_LENGTH))
        kwargs.setdefault("max_length", TAGS_MAX_COUNT)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        tags = normalize_tags(super().to_internal_value(data))
        problems = tag_problems(tags)
        if problems:
            raise serializers.ValidationError(problems)
        return tags


def with_tags(queryset: QuerySet[Any], tags: Iterable[str]) -> QuerySet[Any]:
    """The rows whose `tags` (a JSON array) hold every one of `tags`, compared normalised.
    PostgreSQL answers with jsonb containment (an index can serve it); SQLite (`make run`) has
    no containment operator for JSON and asks json_each, once per tag."""
    wanted = normalize_tags(tags)
    if not wanted:
        return queryset
    if connections[queryset.db].vendor == "postgresql":
        return queryset.filter(tags__contains=wanted)
    table = queryset.model._meta.db_table
    for tag in wanted:
        # The table name is the model's own constant; the tag is a bound parameter.
        has_tag = RawSQL(  # noqa: S611
            f'EXISTS (SELECT 1 FROM json_each("{table}"."tags") WHERE json_each.value = %s)',  # noqa: S608
            (tag,),
            output_field=BooleanField(),
        )
        queryset = queryset.filter(has_tag)
    return queryset
