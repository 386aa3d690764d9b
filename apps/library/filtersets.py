"""Filters of `GET /v1/files`."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from apps.common.filters import InstantFilter, OrderingFilter, TagsFilter, UpdatedSinceFilter

from .models import File, FileKind

# ?ordering= → the cursor pagination's keyset (unique, indexed tail `id`).
ORDERINGS: dict[str, tuple[str, ...]] = {
    "-created_at": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
    "-updated_at": ("-updated_at", "-id"),
    "name": ("name", "id"),
    # "Continue reading": most recent viewer activity first (files never opened are left out).
    "-last_opened": ("-last_opened", "-id"),
}
DEFAULT_ORDERING = "-created_at"


class FileFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=FileKind.choices)
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    tag = TagsFilter()
    sha256 = django_filters.CharFilter(method="filter_sha256", label="Content SHA-256 (hex)")
    created_since = InstantFilter(field_name="created_at", lookup_expr="gte")
    updated_since = UpdatedSinceFilter()
    ordering = OrderingFilter(
        choices=[(key, key) for key in ORDERINGS],
        method="filter_ordering",
        label="Sort order (default -created_at); -last_opened lists opened files, latest first",
    )

    class Meta:
        model = File
        fields: list[str] = []

    def filter_sha256(self, queryset: QuerySet[File], name: str, value: str) -> QuerySet[File]:
        return queryset.filter(sha256=value.strip().lower())

    def filter_ordering(self, queryset: QuerySet[File], name: str, value: str) -> QuerySet[File]:
        if value == "-last_opened":  # `last_opened` is annotated by selectors.file_list
            return queryset.filter(**{"last_opened__isnull": False})
        return queryset
