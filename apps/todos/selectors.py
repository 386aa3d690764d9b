"""Reads of the todos app. Every query is scoped to its owner and hides tombstones; another
user's object and a deleted one look exactly like one that never existed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.db.models import Q, QuerySet

from apps.common.errors import NotFound
from apps.common.pagination import IF_SMALL, ROW_BYTES, text_budget

from .models import Task, TaskCompletion, TaskList


def tasklist_list(*, owner_id: uuid.UUID) -> QuerySet[TaskList]:
    return TaskList.objects.filter(owner_id=owner_id, deleted_at__isnull=True)


def tasklist_get(*, owner_id: uuid.UUID, list_id: uuid.UUID) -> TaskList:
    found = tasklist_list(owner_id=owner_id).filter(id=list_id).first()
    if found is None:
        raise NotFound("No such task list.")
    return found


def task_list(*, owner_id: uuid.UUID) -> QuerySet[Task]:
    return Task.objects.filter(owner_id=owner_id, deleted_at__isnull=True)


def task_rows(
    queryset: QuerySet[Task], *, columns: Sequence[str], extra: Sequence[str] = (), list_page: bool = False
) -> QuerySet[Any]:
    """`queryset` as dicts of `columns` (the output's, see api/serializers.TASK_ROW) plus `extra`
    (e.g. the ordering's fields): the lean read path of the task list, no model instances. For a
    `list_page`, task notes are bounded by the page's byte budget
    (apps/common/pagination.text_budget)."""
    columns = list(dict.fromkeys([*columns, *extra]))
    if list_page:
        queryset = text_budget(queryset, counted=("title", "notes"), large="notes")
        columns = [name for name in columns if name != "notes"] + [ROW_BYTES, "notes" + IF_SMALL]
    return queryset.values(*columns)


def task_get(*, owner_id: uuid.UUID, task_id: uuid.UUID) -> Task:
    found = task_list(owner_id=owner_id).filter(id=task_id).first()
    if found is None:
        raise NotFound("No such task.")
    return found


def task_completions(*, owner_id: uuid.UUID, task_id: uuid.UUID) -> QuerySet[TaskCompletion]:
    task_get(owner_id=owner_id, task_id=task_id)
    return TaskCompletion.objects.filter(task_id=task_id)


# --- filters used by filtersets.py -------------------------------------------------------------


def tasks_overdue(queryset: QuerySet[Task], *, now: datetime, today: date) -> QuerySet[Task]:
    """Open tasks whose due has passed: a date-time before now, or a date before `today` (an
    all-day task is due until its day is over)."""
    return queryset.filter(_overdue(now=now, today=today))


def tasks_not_overdue(queryset: QuerySet[Task], *, now: datetime, today: date) -> QuerySet[Task]:
    return queryset.exclude(_overdue(now=now, today=today))


def _overdue(*, now: datetime, today: date) -> Q:
    return Q(done=False) & (Q(due_at__lt=now) | Q(due_date__lt=today))


def tasks_matching(queryset: QuerySet[Task], text: str) -> QuerySet[Task]:
    return queryset.filter(Q(title__icontains=text) | Q(notes__icontains=text))
