"""Filters and the filter backend shared by the apps' list endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework.request import Request

from .tags import with_tags

_TAGS_HELP = (
    "Only what carries this tag; repeat the parameter for what carries every one "
    "(case and spacing make no different tag)."
)


@extend_schema_field({"type": "array", "items": {"type": "string"}, "description": _TAGS_HELP})
class TagsFilter(django_filters.CharFilter):
    """`?tag=a&tag=b`: objects carrying every one of these tags, matched as tags are stored
    (case and spacing make no different tag; apps/common/tags.py). Same for tasks, notes, files."""

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        return with_tags(qs, self.parent.data.getlist(self.field_name))


class _InstantField(IsoDateTimeField):
    """An ISO 8601 instant, given to the query in UTC: PostgreSQL refuses offsets beyond ±15:59
    (`-17:26` is valid ISO 8601), and an instant at the edge of the calendar may have no UTC
    form (year 1 at +05:00) — both a 400, not a database error."""

    def to_python(self, value: Any) -> datetime | None:
        instant = super().to_python(value)
        if instant is None:
            return None
        try:
            return instant.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(
                "This instant is outside the supported range.", code="invalid"
            ) from None


class InstantFilter(django_filters.IsoDateTimeFilter):
    field_class = _InstantField


class UpdatedSinceFilter(InstantFilter):
    """`?updated_since=`: objects changed at or after this instant (ISO 8601)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "Changed at or after this instant (ISO 8601).")
        super().__init__(field_name="updated_at", lookup_expr="gte", **kwargs)


_ARCHIVED_HELP = (
    "Archived ones are hidden unless asked for: `true` shows only them, `all` shows both (default `false`)."
)


# A choice of words, not the model's boolean: the schema says so (it would read the model field).
@extend_schema_field({"type": "string", "enum": ["false", "true", "all"], "description": _ARCHIVED_HELP})
class ArchivedFilter(django_filters.ChoiceFilter):
    """`?archived=false|true|all`; applied by `HidesArchived.filter_queryset`, which also sees
    the parameter's absence (archived objects are hidden unless asked for)."""

    def __init__(self, **kwargs: Any) -> None:
        choices = [("false", "not archived"), ("true", "archived"), ("all", "both")]
        super().__init__(choices=choices, **kwargs)

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        return qs


class HidesArchived(django_filters.FilterSet):
    """A FilterSet whose objects have an `archived` flag: hidden unless `archived` asks."""

    archived = ArchivedFilter(help_text=_ARCHIVED_HELP)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = super().filter_queryset(queryset)
        archived = self.form.cleaned_data.get("archived") or "false"
        if archived == "all":
            return queryset
        return queryset.filter(archived=archived == "true")


class OrderingFilter(django_filters.ChoiceFilter):
    """`?ordering=`: validated here (an unknown order is a 400), applied by the keyset paginator
    (apps/common/pagination.py), which must order by what it pages on."""

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        return qs


class OnlyWhenAskedFilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend that skips building and validating the filterset's form when the
    request names none of its filters. Only for filtersets whose filters all act solely when
    their parameter is given (no defaults, no `filter_queryset` override): for those, an
    unfiltered request gets exactly the queryset it would have got, sooner (figures:
    docs/benchmarks.md)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not any(
            name in request.query_params for name in filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)
