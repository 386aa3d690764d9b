"""Task lists, tasks and the record of completed occurrences.

Deletes are soft: `deleted_at` marks a tombstone that the sync feed reports until
`purge_tombstones` removes it. The default managers therefore return every row (the purge
command and the admin rely on that); the selectors hide tombstones.

`field_versions` maps each client-editable field to the object version at which it last
changed (all 1 on create). Services keep it current on every write; sync merges per field
with it.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import timedelta, timezone
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.common.models import SyncedModel

from .due import NO_DUE, Due

LIST_FIELDS = ("name", "color", "position", "archived")
TASK_FIELDS = (
    "list",
    "parent",
    "title",
    "notes",
    "done",
    "due",
    "priority",
    "tags",
    "position",
    "recurrence",
)
# Editable task fields whose change follows rules of its own in services.py (moving between
# lists and parents, completing, placing); every other one is written as it is given, so a new
# plain field needs no code there.
TASK_RULED_FIELDS = ("list", "parent", "done", "position")


class TaskList(SyncedModel):
    sync_type = "tasklist"
    editable_fields = LIST_FIELDS

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="task_lists")
    name = models.CharField(max_length=200)
    color = models.CharField(max_length=7, blank=True, help_text="#rrggbb, or empty")
    position = models.CharField(max_length=255)
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            models.Index(
                fields=["owner", "position", "id"],
                name="tasklist_owner_position",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["owner", "updated_at", "id"],
                name="tasklist_owner_updated",
                condition=Q(deleted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Task(SyncedModel):
    sync_type = "task"
    editable_fields = TASK_FIELDS

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks")
    list = models.ForeignKey(TaskList, on_delete=models.CASCADE, related_name="tasks")
    # One level only: a sub-task's parent is a top-level task of the same list (services enforce).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="subtasks"
    )
    title = models.CharField(max_length=500)
    notes = models.TextField(blank=True)
    done = models.BooleanField(default=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    # `due` (see due.py): a date, or an instant with the offset it was given in.
    due_date = models.DateField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    due_offset = models.SmallIntegerField(null=True, blank=True, help_text="minutes east of UTC")
    due_day = models.DateField(null=True, blank=True, help_text="derived: the due's own calendar day")
    due_sort = models.DateTimeField(default=NO_DUE, help_text="derived: ordering key, NO_DUE when none")
    priority = models.PositiveSmallIntegerField(default=0)
    tags = models.JSONField(default=builtins.list, blank=True)  # `list` is the field above
    position = models.CharField(max_length=255)
    recurrence = models.JSONField(null=True, blank=True)
    completion_count = models.PositiveIntegerField(default=0)
    last_completed_at = models.DateTimeField(null=True, blank=True)
    # The default order of the task collection keeps sub-tasks right under their parent: rows
    # sort by (tree_position, tree_root, sub_position, id), the top-level task's position and id,
    # then "" for that task itself and each sub-task's own position. Derived (set_tree), so
    # the order is one index range scan; when a top-level task moves, the services carry its
    # sub-tasks' tree_position along (placement.subtasks_follow).
    tree_position = models.CharField(max_length=255, help_text="derived: the top-level task's position")
    tree_root = models.UUIDField(help_text="derived: the top-level task's id")
    sub_position = models.CharField(max_length=255, blank=True, help_text="derived: own position, or ''")

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(priority__lte=3), name="task_priority_range"),
            models.CheckConstraint(
                condition=Q(due_date__isnull=True) | Q(due_at__isnull=True), name="task_due_one_kind"
            ),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="task_not_own_parent"),
        ]
        # Keyset pagination walks (owner, <ordering field>, id) for each offered ordering;
        # the sibling index serves placement (neighbours in a list / under a parent).
        indexes = [
            models.Index(
                fields=[*keys, "id"], name=f"task_owner_{name}", condition=Q(deleted_at__isnull=True)
            )
            for name, keys in (
                ("tree", ["owner", "tree_position", "tree_root", "sub_position"]),
                ("due", ["owner", "due_sort"]),
                ("priority", ["owner", "priority"]),
                ("created", ["owner", "created_at"]),
                ("updated", ["owner", "updated_at"]),
            )
        ] + [
            models.Index(
                fields=["list", "parent", "position"],
                name="task_siblings",
                condition=Q(deleted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def due(self) -> Due | None:
        if self.due_date is not None:
            return Due.of_date(self.due_date)
        if self.due_at is not None:
            offset = self.due_offset or 0
            return Due(at=self.due_at.astimezone(timezone(timedelta(minutes=offset))), offset_minutes=offset)
        return None

    def set_due(self, due: Due | None) -> None:
        self.due_date = due.day if due else None
        self.due_at = due.at if due else None
        self.due_offset = due.offset_minutes if due else None
        self.due_day = due.local_day if due else None
        self.due_sort = due.sort_key if due else NO_DUE

    def set_tree(self, *, parent_position: str | None = None) -> None:
        """The default order's keys from `position` and `parent`. A sub-task takes its parent's
        position when it is given (a new parent, or a new sub-task); otherwise it keeps the one
        it has, which the services keep in step with the parent."""
        if self.parent_id is None:
            self.tree_position, self.tree_root, self.sub_position = self.position, self.id, ""
        else:
            self.tree_root, self.sub_position = self.parent_id, self.position
            if parent_position is not None:
                self.tree_position = parent_position

    def editable_value(self, name: str) -> Any:
        """The current value of a client-editable field, in the form services compare."""
        if name == "due":
            return self.due
        if name in ("list", "parent"):
            return getattr(self, f"{name}_id")
        return getattr(self, name)

    def set_editable(self, name: str, value: Any) -> None:
        """Set a plain editable field (not one of TASK_RULED_FIELDS) from its compared form."""
        if name == "due":
            self.set_due(value)
        else:
            setattr(self, name, value)


DUE_COLUMNS = ["due_date", "due_at", "due_offset", "due_day", "due_sort"]
TREE_COLUMNS = ["tree_position", "tree_root", "sub_position"]


class TaskCompletion(models.Model):
    """One completed occurrence: every time a task goes from open to done, and every time a
    recurring task is completed and moves on to its next due date."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="completions")
    completed_at = models.DateTimeField()
    # The due of the occurrence that was completed, as the client would have seen it.
    due = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-completed_at", "-id"]
        indexes = [models.Index(fields=["task", "completed_at", "id"], name="taskcompletion_task")]

    def __str__(self) -> str:
        return f"{self.task_id} at {self.completed_at:%Y-%m-%d %H:%M}"
