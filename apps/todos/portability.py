"""The todos' part of an account archive (docs/export.md): task lists, tasks and the record of
completed occurrences, out (records) and back in (an import into another account).

Export: `*_records(owner_id=…)` read the owner's live objects in id order, in pages, and yield
each as its record: the API representation (TaskListOutput, TaskOutput) with its bookkeeping.
They are called inside the exporter's snapshot transaction.

Import, in two passes over the same records (apps/portability/importer.py): `check` validates a
record (the create rules of the API, plus the bookkeeping) and notes the ids and relations it
names; `finish` checks what only all records together can say (a parent is a top-level task of
the same list); `write` validates a batch again and inserts it with fresh ids, inside the
import's transaction, recording the feed entries.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from django.db import router
from rest_framework import serializers

from apps.common import db, records
from apps.common.errors import ValidationFailed
from apps.common.fields import StrictBooleanField, StrictCharField, StrictUUIDField
from apps.sync.feed import objects_record

from .api.serializers import (
    TASK_ROW,
    ColorField,
    PositionField,
    TaskInput,
    TaskListOutput,
)
from .models import LIST_FIELDS, TASK_FIELDS, Task, TaskCompletion, TaskList

PAGE = 500
LIST_RECORD = tuple(TaskListOutput.Meta.fields)


def _pages(queryset: Any, *, columns: tuple[str, ...] | list[str]) -> Iterator[dict[str, Any]]:
    """Rows of `queryset` (ordered by id) as dicts, a page at a time by keyset: bounded memory
    without server-side cursors (which PgBouncer's transaction pooling does not allow)."""
    after: uuid.UUID | None = None
    while True:
        page = queryset.order_by("id")
        if after is not None:
            page = page.filter(id__gt=after)
        rows = list(page.values(*columns)[:PAGE])
        yield from rows
        if len(rows) < PAGE:
            return
        after = rows[-1]["id"]


# --- export ------------------------------------------------------------------------------------


def holds_data(*, owner_id: uuid.UUID) -> bool:
    """Whether the owner has any live task list or task (an import goes into an empty account)."""
    return (
        TaskList.objects.using(_write_db()).filter(owner_id=owner_id, deleted_at__isnull=True).exists()
        or Task.objects.using(_write_db()).filter(owner_id=owner_id, deleted_at__isnull=True).exists()
    )


def tasklist_records(*, owner_id: uuid.UUID) -> Iterator[dict[str, Any]]:
    lists = TaskList.objects.filter(owner_id=owner_id, deleted_at__isnull=True)
    for row in _pages(lists, columns=LIST_RECORD):
        yield {key: row[key] for key in LIST_RECORD}


def task_records(*, owner_id: uuid.UUID) -> Iterator[dict[str, Any]]:
    tasks = Task.objects.filter(owner_id=owner_id, deleted_at__isnull=True)
    for row in _pages(tasks, columns=TASK_ROW.model_columns):
        yield TASK_ROW(row)


def completion_records(*, owner_id: uuid.UUID) -> Iterator[dict[str, Any]]:
    completions = TaskCompletion.objects.filter(task__owner_id=owner_id, task__deleted_at__isnull=True)
    for row in _pages(completions, columns=("id", "task_id", "completed_at", "due")):
        yield {
            "id": row["id"],
            "task": row["task_id"],
            "completed_at": row["completed_at"],
            "due": row["due"],
        }


# --- import ------------------------------------------------------------------------------------


class TaskListRecord(records.SyncedRecord):
    editable_fields = LIST_FIELDS

    name = StrictCharField(max_length=200)
    color = ColorField()
    position = PositionField()
    archived = StrictBooleanField()


class TaskRecord(records.SyncedRecord, TaskInput):
    editable_fields = TASK_FIELDS

    # Placement is the position as it was: no anchors.
    position = PositionField()
    after = None  # type: ignore[assignment]
    before = None  # type: ignore[assignment]
    completed_at = serializers.DateTimeField(allow_null=True)
    completion_count = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    last_completed_at = serializers.DateTimeField(allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("recurrence") is not None and attrs.get("due") is None:
            raise serializers.ValidationError({"recurrence": ["A recurring task needs a due date."]})
        if attrs.get("parent") == attrs["id"]:
            raise serializers.ValidationError({"parent": ["A task cannot be its own parent."]})
        return attrs


class CompletionRecord(serializers.Serializer):
    id = StrictUUIDField()
    task = StrictUUIDField()
    completed_at = serializers.DateTimeField()
    due = StrictCharField(max_length=40, allow_blank=True, trim_whitespace=False)


def _write_db() -> str:
    return router.db_for_write(Task)


def _seen(ids: dict[uuid.UUID, uuid.UUID], old: uuid.UUID) -> None:
    if old in ids:
        raise ValidationFailed.field("id", "Another record has this id.")
    ids[old] = uuid.uuid4()


class TaskListImport:
    """Task lists of an archive: `ids["list"]` maps each archive id to its new one."""

    def __init__(self, ids: dict[str, dict[uuid.UUID, uuid.UUID]]) -> None:
        self.ids = ids.setdefault("list", {})

    def check(self, record: Any) -> None:
        _seen(self.ids, records.validated(TaskListRecord, record)["id"])

    def finish(self) -> None:
        pass

    def write(self, *, owner_id: uuid.UUID, batch: list[Any]) -> int:
        lists = []
        for record in batch:
            values = records.validated(TaskListRecord, record)
            tasklist = TaskList(
                id=self.ids[values["id"]],
                owner_id=owner_id,
                name=values["name"],
                color=values["color"],
                position=values["position"],
                archived=values["archived"],
            )
            lists.append(records.stamp(tasklist, values))
        db.insert_rows(TaskList, lists, using=_write_db(), as_given=True)
        objects_record(lists)
        return len(lists)


class TaskImport:
    """Tasks: each in a list of the archive; a sub-task's parent a top-level task of the same
    list (one level, as the API allows). `ids["task"]` maps archive ids to new ones."""

    def __init__(self, ids: dict[str, dict[uuid.UUID, uuid.UUID]]) -> None:
        self.lists = ids.setdefault("list", {})
        self.ids = ids.setdefault("task", {})
        # Per task: (list, parent, position) as the archive has them, for the rules between
        # records and for a sub-task's place in the default order (its parent's position).
        self.tasks: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID | None, str]] = {}

    def check(self, record: Any) -> None:
        values = records.validated(TaskRecord, record)
        if values["list"] not in self.lists:
            raise ValidationFailed.field("list", "No task list of the archive has this id.")
        _seen(self.ids, values["id"])
        self.tasks[values["id"]] = (values["list"], values["parent"], values["position"])

    def finish(self) -> None:
        for task_id, (list_id, parent_id, _) in self.tasks.items():
            if parent_id is None:
                continue
            parent = self.tasks.get(parent_id)
            where = f"task {task_id}"
            if parent is None:
                raise ValidationFailed({f"{where}.parent": ["No task of the archive has this id."]})
            if parent[1] is not None:
                raise ValidationFailed({f"{where}.parent": ["Sub-tasks cannot have sub-tasks."]})
            if parent[0] != list_id:
                raise ValidationFailed({f"{where}.parent": ["The parent task is in another list."]})

    def write(self, *, owner_id: uuid.UUID, batch: list[Any]) -> int:
        tasks = []
        for record in batch:
            values = records.validated(TaskRecord, record)
            parent = values["parent"]
            task = Task(
                id=self.ids[values["id"]],
                owner_id=owner_id,
                list_id=self.lists[values["list"]],
                parent_id=self.ids[parent] if parent is not None else None,
                title=values["title"],
                notes=values["notes"],
                done=values["done"],
                completed_at=values["completed_at"],
                priority=values["priority"],
                tags=values["tags"],
                position=values["position"],
                recurrence=values["recurrence"],
                completion_count=values["completion_count"],
                last_completed_at=values["last_completed_at"],
            )
            task.set_due(values["due"])
            task.set_tree(parent_position=self.tasks[parent][2] if parent is not None else None)
            tasks.append(records.stamp(task, values))
        db.insert_rows(Task, tasks, using=_write_db(), as_given=True)
        objects_record(tasks)
        return len(tasks)


class CompletionImport:
    """Completed occurrences of the archive's tasks (not synced: no feed entries)."""

    def __init__(self, ids: dict[str, dict[uuid.UUID, uuid.UUID]]) -> None:
        self.tasks = ids.setdefault("task", {})
        self.ids = ids.setdefault("completion", {})

    def check(self, record: Any) -> None:
        values = records.validated(CompletionRecord, record)
        if values["task"] not in self.tasks:
            raise ValidationFailed.field("task", "No task of the archive has this id.")
        _seen(self.ids, values["id"])

    def finish(self) -> None:
        pass

    def write(self, *, owner_id: uuid.UUID, batch: list[Any]) -> int:
        completions = []
        for record in batch:
            values = records.validated(CompletionRecord, record)
            completions.append(
                TaskCompletion(
                    id=self.ids[values["id"]],
                    task_id=self.tasks[values["task"]],
                    completed_at=values["completed_at"],
                    due=values["due"],
                )
            )
        db.insert_rows(TaskCompletion, completions, using=_write_db(), as_given=True)
        return len(completions)
