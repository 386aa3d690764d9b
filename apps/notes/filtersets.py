"""Query filters of the note list: `q`, `tag`, `pinned`, `archived`, `updated_since`.

Archived notes are left out unless `archived` asks for them. When `q` is given the queryset is
annotated with a `rank` and the view orders by it (see NoteViewSet.cursor_ordering).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from apps.common.tags import with_tags

from . import selectors
from .models import Note

SEARCH_MAX_LENGTH = 500

ARCHIVED_CHOICES = [
    ("false", "only notes that are not archived (the default)"),
    ("true", "only archived notes"),
    ("all", "both"),
]


class NoteFilterSet(filters.FilterSet):
    q = filters.CharFilter(
        method="filter_q",
        max_length=SEARCH_MAX_LENGTH,
        help_text="Full-text search over title and body; results are ordered by relevance.",
    )
    tag = filters.CharFilter(
        method="filter_tag",
        help_text="Notes carrying this tag (case-insensitive). Repeat for notes carrying every one.",
    )
    pinned = filters.BooleanFilter(help_text="Only pinned (true) or unpinned (false) notes.")
    archived = filters.ChoiceFilter(
        choices=ARCHIVED_CHOICES,
        method="filter_archived",
        empty_label=None,
        help_text="Archived notes are hidden unless this is `true` (only them) or `all`.",
    )
    updated_since = filters.IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Notes changed at or after this instant (ISO 8601).",
    )

    class Meta:
        model = Note
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[Note], name: str, value: str) -> QuerySet[Note]:
        return selectors.note_search(queryset=queryset, query=value)

    @extend_schema_field({"type": "array", "items": {"type": "string"}})
    def filter_tag(self, queryset: QuerySet[Note], name: str, value: str) -> QuerySet[Note]:
        return with_tags(queryset, self.data.getlist(name))

    def filter_archived(self, queryset: QuerySet[Note], name: str, value: str) -> QuerySet[Note]:
        return queryset  # applied in filter_queryset, which also sees the absent case

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = super().filter_queryset(queryset)
        archived = self.form.cleaned_data.get("archived") or "false"
        if archived != "all":
            queryset = queryset.filter(archived=archived == "true")
        return queryset
