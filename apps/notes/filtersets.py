"""Query filters of the note list: `q`, `tag`, `pinned`, `archived`, `updated_since`.

Archived notes are left out unless `archived` asks for them. When `q` is given the queryset is
annotated with a `rank` and the view orders by it (see NoteViewSet.cursor_ordering).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from apps.common.filters import HidesArchived, TagsFilter, UpdatedSinceFilter

from . import selectors
from .models import Note

SEARCH_MAX_LENGTH = 500


class NoteFilterSet(HidesArchived):
    q = filters.CharFilter(
        method="filter_q",
        max_length=SEARCH_MAX_LENGTH,
        help_text="Full-text search over title and body; results are ordered by relevance.",
    )
    tag = TagsFilter()
    pinned = filters.BooleanFilter(help_text="Only pinned (true) or unpinned (false) notes.")
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = Note
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[Note], name: str, value: str) -> QuerySet[Note]:
        return selectors.note_search(queryset=queryset, query=value)
