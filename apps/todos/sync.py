"""Task lists and tasks in the sync feed. Pushed fields are validated by the REST input
serializers and written by this app's services, so the rules exist once. `after`/`before` are
placement instructions, not stored fields: the merge applies them always (they never conflict)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from apps.sync.registry import FieldMergedType

from . import services
from .api.serializers import TaskInput, TaskListInput, TaskListOutput, TaskOutput, plain_task_fields
from .models import Task, TaskList


class TaskListSync(FieldMergedType):
    model = TaskList
    output_serializer = TaskListOutput
    input_serializer = TaskListInput
    id_name = "list_id"
    creator = services.tasklist_create
    updater = services.tasklist_update
    deleter = services.tasklist_delete


class TaskSync(FieldMergedType):
    model = Task
    output_serializer = TaskOutput
    input_serializer = TaskInput
    creator = services.task_create
    deleter = services.task_delete

    def value(self, obj: Any, name: str) -> Any:
        return obj.editable_value(name)

    def plain_update_fields(self, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        return plain_task_fields(fields)

    def update(self, *, owner_id: uuid.UUID, obj: Any, fields: Mapping[str, Any]) -> Any:
        return services.task_apply(owner_id=owner_id, task=obj, fields=fields)  # locked by upsert
