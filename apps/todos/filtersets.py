"""Query filters of the task and task-list collections (django-filter).

Invalid filter values are a 400 `validation_error`, never silently ignored. `ordering` is
validated here; the keyset paginator applies it (apps/common/pagination.py), so each choice maps
to a keyset on its fields and id below. A task's `position` orders it among its siblings only,
so the tasks' `position` ordering is the tree order (models.Task.tree_position): each top-level
task, then its sub-tasks.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import django_filters as filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from apps.common.filters import HidesArchived, OrderingFilter, TagsFilter, UpdatedSinceFilter

from . import selectors
from .due import Due
from .models import Task, TaskList

TASK_ORDERINGS: dict[str, str | tuple[str, ...]] = {
    "position": ("tree_position", "tree_root", "sub_position"),
    "due": "due_sort",
    "priority": "priority",
    "created": "created_at",
    "updated": "updated_at",
}
LIST_ORDERINGS: dict[str, str | tuple[str, ...]] = {
    "position": "position",
    "name": "name",
    "created": "created_at",
    "updated": "updated_at",
}


def _choices(orderings: dict[str, str | tuple[str, ...]]) -> list[tuple[str, str]]:
    out = []
    for name in orderings:
        out += [(name, f"{name}, ascending"), (f"-{name}", f"{name}, descending")]
    return out


def keyset(
    orderings: dict[str, str | tuple[str, ...]], value: str | None, default: str = "position"
) -> tuple[str, ...]:
    """The keyset (its fields, then id) for an `ordering` value: descending orders walk every
    field descending, ids too."""
    name = value if value and value.lstrip("-") in orderings else default
    sign = "-" if name.startswith("-") else ""
    fields = orderings[name.lstrip("-")]
    names = (fields,) if isinstance(fields, str) else fields
    return (*(f"{sign}{field}" for field in names), f"{sign}id")


class StrictBooleanField(forms.Field):
    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        lowered = str(value).lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise forms.ValidationError("Must be true or false.", code="invalid")


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(filters.Filter):
    field_class = StrictBooleanField


class DueBoundField(forms.Field):
    def to_python(self, value: Any) -> Due | None:
        if value in (None, ""):
            return None
        try:
            return Due.parse(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


@extend_schema_field(OpenApiTypes.STR)
class DueBoundFilter(filters.Filter):
    field_class = DueBoundField


class TaskFilterSet(filters.FilterSet):
    list = filters.UUIDFilter(field_name="list", help_text="Tasks of this list.")
    done = StrictBooleanFilter(field_name="done")
    due_before = DueBoundFilter(
        method="filter_due_before",
        help_text="Due on or before: a date compares with each task's own calendar day, a "
        "date-time with an offset compares instants (an all-day task counts as 00:00 UTC).",
    )
    due_after = DueBoundFilter(method="filter_due_after", help_text="Due on or after (see due_before).")
    overdue = StrictBooleanFilter(
        method="filter_overdue",
        help_text="Open tasks whose due date-time has passed or whose due date is before `today`.",
    )
    today = filters.DateFilter(
        method="filter_today",
        help_text="The client's current date for `overdue` (default: today in UTC).",
    )
    tag = TagsFilter()
    parent = filters.UUIDFilter(field_name="parent", help_text="Sub-tasks of this task.")
    has_parent = StrictBooleanFilter(
        method="filter_has_parent", help_text="true: only sub-tasks; false: only top-level tasks."
    )
    q = filters.CharFilter(method="filter_text", max_length=200, help_text="Text in the title or the notes.")
    updated_since = UpdatedSinceFilter()
    ordering = OrderingFilter(
        choices=_choices(TASK_ORDERINGS), help_text="Sort order (default: position); pagination follows it."
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_today(self, queryset: QuerySet[Task], name: str, value: date) -> QuerySet[Task]:
        return queryset  # read by filter_overdue

    def filter_due_before(self, queryset: QuerySet[Task], name: str, value: Due) -> QuerySet[Task]:
        if value.day is not None:
            return queryset.filter(due_day__lte=value.day)
        return queryset.filter(due_sort__lte=value.sort_key)

    def filter_due_after(self, queryset: QuerySet[Task], name: str, value: Due) -> QuerySet[Task]:
        if value.day is not None:
            return queryset.filter(due_day__gte=value.day)
        return queryset.filter(due_sort__gte=value.sort_key, due_day__isnull=False)

    def filter_overdue(self, queryset: QuerySet[Task], name: str, value: bool) -> QuerySet[Task]:
        now = timezone.now()
        today: date = self.form.cleaned_data.get("today") or now.date()
        if value:
            return selectors.tasks_overdue(queryset, now=now, today=today)
        return selectors.tasks_not_overdue(queryset, now=now, today=today)

    def filter_has_parent(self, queryset: QuerySet[Task], name: str, value: bool) -> QuerySet[Task]:
        return queryset.filter(parent__isnull=not value)

    def filter_text(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        return selectors.tasks_matching(queryset, value.strip())


class TaskListFilterSet(HidesArchived):
    ordering = OrderingFilter(
        choices=_choices(LIST_ORDERINGS), help_text="Sort order (default: position); pagination follows it."
    )

    class Meta:
        model = TaskList
        fields: list[str] = []
