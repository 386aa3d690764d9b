"""Writes of the todos app: task lists, tasks, completions and bulk operations.

Every write runs in one transaction on the primary, locks the rows it changes
(`select_for_update`), checks the caller's If-Match against the locked row, bumps `version` by
one and stamps `field_versions[field] = version` for every client-editable field it changed.
A write that changes nothing leaves the version alone. Deletes are soft (tombstones).

Several rows of one kind are locked in one statement, ordered by id, so concurrent bulk
writers queue behind each other instead of deadlocking.

Callers pass values that input serializers already validated for shape (types, ranges, the
`due` and `recurrence` formats). Rules that need the database (the list and the parent belong
to the caller, one level of sub-tasks, placement anchors) are checked here and reported as
400 `validation_error`, never revealing whether another user's object exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from django.db import IntegrityError, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.common.errors import IdConflict, NotFound, ValidationFailed
from apps.common.versioning import require_version
from apps.sync.feed import objects_record, owner_write

from . import positions, recurrence
from .due import Due
from .models import DUE_COLUMNS, TASK_FIELDS, TASK_RULED_FIELDS, TREE_COLUMNS, Task, TaskCompletion, TaskList
from .placement import Placement, place, subtasks_follow

BULK_MAX_IDS = 200

M = TypeVar("M", TaskList, Task)


def _db() -> str:
    return router.db_for_write(Task)


# Saving a bumped object (apps/common/models.py) also records it in the owner's sync feed.


def _insert_new(obj: M, replay: Callable[[M], M]) -> tuple[M, bool]:
    """Insert a new object and record it; when a concurrent create of the same id committed
    first (IntegrityError), answer as for a retry of that create: `replay(existing)`, not new."""
    try:
        with transaction.atomic(using=_db()):
            obj.save(force_insert=True)
            objects_record([obj])
    except IntegrityError:
        existing = type(obj).objects.filter(id=obj.id).first()
        if existing is None:
            raise
        return replay(existing), False
    return obj, True


def _save(obj: TaskList | Task, columns: Iterable[str]) -> None:
    obj.save(update_fields=sorted({*columns, *obj.bookkeeping}))
    objects_record([obj])


def _save_many(model: type[M], objs: Sequence[M], columns: Iterable[str]) -> None:
    if objs:
        model.objects.bulk_update(objs, sorted({*columns, *objs[0].bookkeeping}))
        objects_record(objs)


# --- task lists --------------------------------------------------------------------------------


def _lists_of(owner_id: uuid.UUID) -> QuerySet[TaskList]:
    return TaskList.objects.filter(owner_id=owner_id, deleted_at__isnull=True)


def tasklist_create(
    *, owner_id: uuid.UUID, fields: dict[str, Any], list_id: uuid.UUID | None = None
) -> tuple[TaskList, bool]:
    """Create a list, or return the existing one when this exact create is repeated with the
    same client-chosen id. Returns (list, created)."""
    fields = dict(fields)
    placement = Placement.pop_from(fields)
    now = timezone.now()
    with owner_write(owner_id=owner_id):
        if (repeated := _repeated(TaskList, list_id, owner_id, fields, placement)) is not None:
            return repeated, False
        tasklist = TaskList(id=list_id or uuid.uuid4(), owner_id=owner_id, **fields)
        tasklist.position = place(
            model=TaskList, siblings=_lists_of(owner_id), placement=placement, current=None, now=now
        )
        tasklist.stamp_new()
        return _insert_new(
            tasklist, lambda existing: _same_or_conflict(existing, owner_id, fields, placement)
        )


def _repeated(
    model: type[M],
    obj_id: uuid.UUID | None,
    owner_id: uuid.UUID,
    fields: dict[str, Any],
    placement: Placement,
) -> M | None:
    """What a create with a client-chosen id that is already taken answers (the same object,
    or IdConflict); None when the id is new."""
    existing = model.objects.select_for_update().filter(id=obj_id).first() if obj_id is not None else None
    return None if existing is None else _same_or_conflict(existing, owner_id, fields, placement)


def _same_or_conflict(existing: M, owner_id: uuid.UUID, fields: dict[str, Any], placement: Placement) -> M:
    """A repeated create with the same client-chosen id: the same object (a retry) is answered
    as it is; anything else holding that id is a conflict."""
    same = (
        existing.owner_id == owner_id
        and existing.deleted_at is None
        and all(existing.editable_value(name) == value for name, value in fields.items())
        and (placement.position is None or placement.position == existing.position)
    )
    if not same:
        raise IdConflict()
    return existing


def tasklist_update(
    *, owner_id: uuid.UUID, list_id: uuid.UUID, fields: dict[str, Any], expected_version: int | None
) -> TaskList:
    fields = dict(fields)
    placement = Placement.pop_from(fields)
    now = timezone.now()
    with owner_write(owner_id=owner_id):
        tasklist = _lists_of(owner_id).select_for_update().filter(id=list_id).first()
        if tasklist is None:
            raise NotFound("No such task list.")
        require_version(tasklist.version, expected_version)
        changed = [name for name, value in fields.items() if getattr(tasklist, name) != value]
        for name in changed:
            setattr(tasklist, name, fields[name])
        if placement.given:
            position = place(
                model=TaskList,
                siblings=_lists_of(owner_id).exclude(id=tasklist.id),
                placement=placement,
                current=tasklist.position,
                now=now,
            )
            if position != tasklist.position:
                tasklist.position = position
                changed.append("position")
        if changed:
            tasklist.bump(changed, now=now)
            _save(tasklist, changed)
    return tasklist


def tasklist_delete(
    *,
    owner_id: uuid.UUID,
    list_id: uuid.UUID,
    expected_version: int | None,
    move_tasks_to: uuid.UUID | None = None,
) -> None:
    """Delete a list. Its tasks become tombstones too, unless `move_tasks_to` names another of
    the caller's lists: then they move there first (appended at its end, in their order, each
    sub-task staying under its parent). Either way no task is left in a deleted list."""
    now = timezone.now()
    with owner_write(owner_id=owner_id):
        locked = {
            tl.id: tl
            for tl in _lists_of(owner_id)
            .select_for_update()
            .filter(id__in=[list_id, *([move_tasks_to] if move_tasks_to else [])])
            .order_by("id")
        }
        tasklist = locked.get(list_id)
        if tasklist is None:
            raise NotFound("No such task list.")
        require_version(tasklist.version, expected_version)
        tasks = list(
            Task.objects.select_for_update().filter(list_id=list_id, deleted_at__isnull=True).order_by("id")
        )
        if move_tasks_to is not None:
            target = locked.get(move_tasks_to)
            if target is None or target.id == list_id:
                raise ValidationFailed.field("move_tasks_to", "Must be another of your task lists.")
            _move_tasks(tasks=tasks, target=target, now=now)
        else:
            _tombstone(tasks, now=now)
        _save(tasklist, tasklist.tombstone(now=now))


def _move_tasks(*, tasks: list[Task], target: TaskList, now: datetime) -> None:
    """Move whole families to `target`: top-level tasks append at its end in their current
    order; sub-tasks keep their parent and key."""
    top_level = sorted((t for t in tasks if t.parent_id is None), key=lambda t: (t.position, str(t.id)))
    last = (
        Task.objects.filter(list_id=target.id, parent__isnull=True, deleted_at__isnull=True)
        .order_by("-position")
        .values_list("position", flat=True)
        .first()
    )
    for task in top_level:
        last = positions.key_between(last, None)
        task.position = last
        task.set_tree()
    for task in tasks:
        task.list_id = target.id
        task.bump(["list", "position"] if task.parent_id is None else ["list"], now=now)
    _save_many(Task, tasks, ["list", "position", *TREE_COLUMNS])
    subtasks_follow([task.id for task in top_level])


def _tombstone(tasks: Sequence[Task], *, now: datetime) -> None:
    for task in tasks:
        task.tombstone(now=now)
    _save_many(Task, tasks, ["deleted_at"])


# --- tasks ---------------------------------------------------------------------------------------


def _tasks_of(owner_id: uuid.UUID) -> QuerySet[Task]:
    return Task.objects.filter(owner_id=owner_id, deleted_at__isnull=True)


def _siblings(task: Task) -> QuerySet[Task]:
    return _tasks_of(task.owner_id).filter(list_id=task.list_id, parent_id=task.parent_id).exclude(id=task.id)


def _lock_list(owner_id: uuid.UUID, list_id: uuid.UUID) -> TaskList:
    found = _lists_of(owner_id).select_for_update().filter(id=list_id).first()
    if found is None:
        raise ValidationFailed.field("list", "No such task list.")
    return found


def _check_parent(
    *, owner_id: uuid.UUID, parent_id: uuid.UUID, list_id: uuid.UUID, task: Task | None
) -> Task:
    """The parent a task may have: the caller's live top-level task in the same list."""
    if task is not None and parent_id == task.id:
        raise ValidationFailed.field("parent", "A task cannot be its own parent.")
    parent = _tasks_of(owner_id).select_for_update().filter(id=parent_id).first()
    if parent is None:
        raise ValidationFailed.field("parent", "No such task.")
    if parent.parent_id is not None:
        raise ValidationFailed.field("parent", "Sub-tasks cannot have sub-tasks: one level only.")
    if parent.list_id != list_id:
        raise ValidationFailed.field("parent", "The parent task is in another list.")
    if task is not None and _tasks_of(owner_id).filter(parent_id=task.id).exists():
        raise ValidationFailed.field("parent", "A task with sub-tasks cannot become a sub-task.")
    return parent


def _check_recurrence(*, recurrence_value: dict[str, Any] | None, due: Due | None, key: str) -> None:
    if recurrence_value is not None and due is None:
        raise ValidationFailed.field(key, "A recurring task needs a due date.")


def _complete(task: Task, *, now: datetime) -> tuple[list[str], TaskCompletion]:
    """Complete an open task; returns the editable fields that changed and the (unsaved) record
    of the completion.

    A recurring task is not closed: the occurrence is recorded and the due moves on to the next
    one. `done` is still stamped in field_versions (it went true and back), so a second device
    completing the same occurrence offline is seen as a concurrent edit of `done`, not as the
    completion of the next occurrence too.
    """
    due = task.due
    completion = TaskCompletion(task=task, completed_at=now, due=due.to_wire() if due else "")
    task.completion_count += 1
    task.last_completed_at = now
    rule = task.recurrence
    if rule is not None and due is not None:
        task.set_due(_next_due(due, rule))
        return ["done", "due"], completion
    task.done = True
    task.completed_at = now
    return ["done"], completion


def _next_due(due: Due, rule: dict[str, Any]) -> Due:
    freq, interval = rule["freq"], rule["interval"]
    try:
        if due.day is not None:
            following = Due.of_date(recurrence.next_date(due.day, freq=freq, interval=interval))
        else:
            assert due.at is not None
            following = Due.of_datetime(recurrence.next_datetime(due.at, freq=freq, interval=interval))
        Due._check_year(following.local_day.year)
    except (OverflowError, ValueError):
        raise ValidationFailed.field("due", "The next occurrence is out of range.") from None
    return following


def _reopen(task: Task) -> list[str]:
    task.done = False
    task.completed_at = None
    return ["done"]


_COMPLETION_COLUMNS = ["done", "completed_at", "completion_count", "last_completed_at", *DUE_COLUMNS]


def _columns(changed: Iterable[str]) -> set[str]:
    """Database columns behind a set of changed editable fields."""
    out: set[str] = set()
    for name in changed:
        if name == "due":
            out.update(DUE_COLUMNS)
        elif name == "done":
            out.update(_COMPLETION_COLUMNS)
        elif name in ("position", "parent"):
            out.update([name, *TREE_COLUMNS])
        else:
            out.add(name)
    return out


_PLAIN_FIELDS = tuple(name for name in TASK_FIELDS if name not in TASK_RULED_FIELDS)


def task_create(
    *, owner_id: uuid.UUID, fields: dict[str, Any], task_id: uuid.UUID | None = None
) -> tuple[Task, bool]:
    """Create a task, or return the existing one when this exact create is repeated with the
    same client-chosen id. `fields` holds every editable field (defaults filled in) plus the
    optional placement (`position` or `after`/`before`). Returns (task, created)."""
    fields = dict(fields)
    placement = Placement.pop_from(fields)
    now = timezone.now()
    with owner_write(owner_id=owner_id):
        if (repeated := _repeated(Task, task_id, owner_id, fields, placement)) is not None:
            return repeated, False
        tasklist = _lock_list(owner_id, fields["list"])
        parent_id = fields["parent"]
        parent = None
        if parent_id is not None:
            parent = _check_parent(owner_id=owner_id, parent_id=parent_id, list_id=tasklist.id, task=None)
        _check_recurrence(recurrence_value=fields["recurrence"], due=fields["due"], key="recurrence")
        task = Task(
            id=task_id or uuid.uuid4(),
            owner_id=owner_id,
            list_id=tasklist.id,
            parent_id=parent_id,
            done=fields["done"],
            completed_at=now if fields["done"] else None,
            completion_count=1 if fields["done"] else 0,
            last_completed_at=now if fields["done"] else None,
        )
        for name in _PLAIN_FIELDS:
            task.set_editable(name, fields[name])
        task.position = place(
            model=Task, siblings=_siblings(task), placement=placement, current=None, now=now
        )
        task.set_tree(parent_position=parent.position if parent is not None else None)
        task.stamp_new()
        task, created = _insert_new(
            task, lambda existing: _same_or_conflict(existing, owner_id, fields, placement)
        )
        if not created:
            return task, False
        if task.done:
            due = task.due
            TaskCompletion.objects.create(task=task, completed_at=now, due=due.to_wire() if due else "")
    return task, True


def task_update(
    *, owner_id: uuid.UUID, task_id: uuid.UUID, fields: dict[str, Any], expected_version: int | None
) -> Task:
    """Apply validated `fields` (a PATCH's subset, or a PUT's full set) to a task (task_apply
    says how), under the owner's feed lock and the task's row lock."""
    with owner_write(owner_id=owner_id):
        task = _tasks_of(owner_id).select_for_update().filter(id=task_id).first()
        if task is None:
            raise NotFound("No such task.")
        require_version(task.version, expected_version)
        return task_apply(owner_id=owner_id, task=task, fields=fields)


def task_apply(*, owner_id: uuid.UUID, task: Task, fields: Mapping[str, Any]) -> Task:
    """Apply validated `fields` to a live task the caller has row-locked inside `owner_write`
    (task_update, or a sync push, which locks and merges first).

    `done: true` completes (see _complete), `done: false` reopens. Moving a task to another list
    takes its sub-tasks along; a sub-task moves only together with a new `parent` (or `null`).
    A task that changes list or parent is appended to its new sibling group unless the request
    places it.
    """
    fields = dict(fields)
    placement = Placement.pop_from(fields)
    now = timezone.now()
    list_id = fields.get("list", task.list_id)
    parent_id = fields.get("parent", task.parent_id)
    moved_list = list_id != task.list_id
    moved_parent = parent_id != task.parent_id
    if moved_list:
        if task.parent_id is not None and "parent" not in fields:
            raise ValidationFailed.field(
                "list", "A sub-task lives in its parent's list: set `parent` too (or null) to move it."
            )
        _lock_list(owner_id, list_id)
    parent = None
    if parent_id is not None and (moved_list or moved_parent):
        parent = _check_parent(owner_id=owner_id, parent_id=parent_id, list_id=list_id, task=task)
    due = fields.get("due", task.due)
    rule = fields.get("recurrence", task.recurrence)
    _check_recurrence(
        recurrence_value=rule, due=due, key="due" if "recurrence" not in fields else "recurrence"
    )

    changed: list[str] = []
    for name in _PLAIN_FIELDS:
        if name in fields and task.editable_value(name) != fields[name]:
            changed.append(name)
            task.set_editable(name, fields[name])
    if moved_list:
        task.list_id = list_id
        changed.append("list")
    if moved_parent:
        task.parent_id = parent_id
        changed.append("parent")
    if placement.given or moved_list or moved_parent:
        position = place(
            model=Task,
            siblings=_siblings(task),
            placement=placement,
            current=None if (moved_list or moved_parent) else task.position,
            now=now,
        )
        if position != task.position:
            task.position = position
            changed.append("position")
    if "position" in changed or moved_parent:
        task.set_tree(parent_position=parent.position if parent is not None else None)
    completion = None
    if "done" in fields and fields["done"] != task.done:
        if fields["done"]:
            done_changes, completion = _complete(task, now=now)
            changed += done_changes
        else:
            changed += _reopen(task)

    if not changed:
        return task
    changed = list(dict.fromkeys(changed))
    task.bump(changed, now=now)
    _save(task, _columns(changed))
    if completion is not None:
        completion.save()
    if moved_list and task.parent_id is None:
        children = list(
            _tasks_of(owner_id)
            .select_for_update()
            .filter(parent_id=task.id)
            .exclude(list_id=list_id)
            .order_by("id")
        )
        for child in children:
            child.list_id = list_id
            child.bump(["list"], now=now)
        _save_many(Task, children, ["list"])
    if "position" in changed and task.parent_id is None:
        subtasks_follow([task.id])
    return task


def task_delete(*, owner_id: uuid.UUID, task_id: uuid.UUID, expected_version: int | None) -> None:
    """Delete a task and its sub-tasks (tombstones)."""
    now = timezone.now()
    with owner_write(owner_id=owner_id):
        family = _lock_family(owner_id, [task_id])
        task = next((t for t in family if t.id == task_id), None)
        if task is None:
            raise NotFound("No such task.")
        require_version(task.version, expected_version)
        _tombstone(family, now=now)


def _lock_family(owner_id: uuid.UUID, task_ids: Sequence[uuid.UUID]) -> list[Task]:
    """The caller's live tasks among `task_ids` and all their sub-tasks, locked in id order."""
    return list(
        _tasks_of(owner_id)
        .select_for_update()
        .filter(Q(id__in=task_ids) | Q(parent_id__in=task_ids))
        .order_by("id")
    )


# --- bulk ----------------------------------------------------------------------------------------


class BulkAction(StrEnum):
    COMPLETE = "complete"
    REOPEN = "reopen"
    MOVE = "move"
    DELETE = "delete"


class BulkStatus(StrEnum):
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"


@dataclass(frozen=True)
class BulkResult:
    id: uuid.UUID
    status: BulkStatus
    task: Task | None


def tasks_bulk(
    *,
    owner_id: uuid.UUID,
    action: BulkAction,
    task_ids: Sequence[uuid.UUID],
    list_id: uuid.UUID | None = None,
) -> list[BulkResult]:
    """Apply one action to many tasks, all or nothing: an unknown id (or target list) fails the
    whole request with an error per item and changes nothing.

    complete/reopen act on exactly the listed tasks (a parent's sub-tasks are left as they
    are). delete and move take each listed task's sub-tasks along; those are not listed in the
    results but get new versions like any other change.
    """
    if not task_ids:
        raise ValidationFailed.field("ids", "Give at least one id.")
    if len(task_ids) > BULK_MAX_IDS:
        raise ValidationFailed.field("ids", f"At most {BULK_MAX_IDS} ids per request.")
    if len(set(task_ids)) != len(task_ids):
        raise ValidationFailed.field("ids", "Each id may appear only once.")
    now = timezone.now()
    with owner_write(owner_id=owner_id):
        errors: dict[str, list[str]] = {}
        target = None
        if action == BulkAction.MOVE:
            target = _lists_of(owner_id).select_for_update().filter(id=list_id).first() if list_id else None
            if target is None:
                errors["list"] = ["No such task list." if list_id else "Moving needs a target `list`."]
        if action in (BulkAction.MOVE, BulkAction.DELETE):
            family = _lock_family(owner_id, task_ids)
        else:
            family = list(_tasks_of(owner_id).select_for_update().filter(id__in=task_ids).order_by("id"))
        by_id = {task.id: task for task in family}
        for index, task_id in enumerate(task_ids):
            if task_id not in by_id:
                errors[f"ids.{index}"] = ["No such task."]
        if errors:
            raise ValidationFailed(errors, detail="Nothing was changed: some items are invalid.")
        tasks = [by_id[task_id] for task_id in task_ids]

        if action == BulkAction.DELETE:
            _tombstone(family, now=now)
            return [BulkResult(task.id, BulkStatus.DELETED, None) for task in tasks]

        completions: list[TaskCompletion] = []
        changes: dict[uuid.UUID, list[str]] = {}
        if action == BulkAction.MOVE:
            assert target is not None
            changes = _bulk_move(tasks=tasks, family=family, target=target)
        for index, task in enumerate(tasks):
            if action == BulkAction.COMPLETE and not task.done:
                try:
                    changed, completion = _complete(task, now=now)
                except ValidationFailed as exc:  # e.g. a next occurrence out of range
                    errors[f"ids.{index}"] = [m for messages in (exc.errors or {}).values() for m in messages]
                    continue
                changes[task.id] = changed
                completions.append(completion)
            elif action == BulkAction.REOPEN and task.done:
                changes[task.id] = _reopen(task)
        if errors:  # nothing has been written yet
            raise ValidationFailed(errors, detail="Nothing was changed: some items are invalid.")

        rows = [task for task in family if changes.get(task.id)]
        columns: set[str] = set()
        for row in rows:
            row.bump(changes[row.id], now=now)
            columns |= _columns(changes[row.id])
        _save_many(Task, rows, columns)
        subtasks_follow([row.id for row in rows if "position" in changes[row.id] and row.parent_id is None])
        TaskCompletion.objects.bulk_create(completions)
        return [
            BulkResult(task.id, BulkStatus.UPDATED if changes.get(task.id) else BulkStatus.UNCHANGED, task)
            for task in tasks
        ]


def _bulk_move(*, tasks: list[Task], family: list[Task], target: TaskList) -> dict[uuid.UUID, list[str]]:
    """Listed tasks go to the end of the target list, in the order given, with their sub-tasks
    (which keep their parent and key). A listed sub-task whose parent stays behind leaves it and
    becomes a top-level task there. Returns the changed fields per task id."""
    moving = {task.id for task in tasks if task.list_id != target.id}
    last = (
        Task.objects.filter(list_id=target.id, parent__isnull=True, deleted_at__isnull=True)
        .order_by("-position")
        .values_list("position", flat=True)
        .first()
    )
    changes: dict[uuid.UUID, list[str]] = {}
    for task in tasks:
        if task.id not in moving:
            continue
        changed = ["list"]
        if task.parent_id is not None and task.parent_id not in moving:
            task.parent_id = None
            changed.append("parent")
        if task.parent_id is None:
            last = positions.key_between(last, None)
            task.position = last
            changed.append("position")
            task.set_tree()
        task.list_id = target.id
        changes[task.id] = changed
    for child in family:
        if child.id not in changes and child.parent_id in moving:
            child.list_id = target.id
            changes[child.id] = ["list"]
    return changes


# --- staff (admin) -------------------------------------------------------------------------------


def admin_save(*, obj: TaskList | Task, changed: Sequence[str]) -> None:
    """Save the simple fields staff edited in the admin, with the usual version bookkeeping."""
    if not changed:
        return
    with owner_write(owner_id=obj.owner_id):
        row = type(obj).objects.select_for_update().get(id=obj.id)
        for name in changed:
            setattr(row, name, getattr(obj, name))
        row.bump(changed, now=timezone.now())
        _save(row, changed)
    obj.version, obj.field_versions, obj.updated_at = row.version, row.field_versions, row.updated_at


def admin_delete(*, objs: Sequence[TaskList | Task]) -> None:
    """Staff deletes make tombstones exactly as the owner's deletes do."""
    for obj in objs:
        try:
            if isinstance(obj, TaskList):
                tasklist_delete(owner_id=obj.owner_id, list_id=obj.id, expected_version=None)
            else:
                task_delete(owner_id=obj.owner_id, task_id=obj.id, expected_version=None)
        except NotFound:
            continue  # already a tombstone (e.g. a sub-task deleted with its parent above)
