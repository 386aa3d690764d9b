"""Task lists and tasks in the sync feed. Pushed fields are validated by the REST input
serializers and written by this app's services, so the rules exist once. `after`/`before` are
placement instructions, not stored fields: the merge applies them always (they never conflict)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from apps.sync.registry import FieldMergedType

from . import services
from .api.serializers import TaskInput, TaskListInput, TaskListOutput, TaskOutput
from .models import Task, TaskList


class TaskListSync(FieldMergedType):
    model = TaskList
    output_serializer = TaskListOutput
    input_serializer = TaskListInput

    def create(self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, fields: Mapping[str, Any]) -> Any:
        tasklist, _created = services.tasklist_create(owner_id=owner_id, fields=dict(fields), list_id=obj_id)
        return tasklist

    def update(self, *, owner_id: uuid.UUID, obj: Any, fields: Mapping[str, Any]) -> Any:
        return services.tasklist_update(
            owner_id=owner_id, list_id=obj.id, fields=dict(fields), expected_version=None
        )

    def delete(self, *, owner_id: uuid.UUID, obj: Any) -> Any:
        services.tasklist_delete(owner_id=owner_id, list_id=obj.id, expected_version=None)
        return TaskList.objects.get(id=obj.id)


class TaskSync(FieldMergedType):
    model = Task
    output_serializer = TaskOutput
    input_serializer = TaskInput

    def value(self, obj: Any, name: str) -> Any:
        return obj.editable_value(name)

    def create(self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, fields: Mapping[str, Any]) -> Any:
        task, _created = services.task_create(owner_id=owner_id, fields=dict(fields), task_id=obj_id)
        return task

    def update(self, *, owner_id: uuid.UUID, obj: Any, fields: Mapping[str, Any]) -> Any:
        return services.task_update(
            owner_id=owner_id, task_id=obj.id, fields=dict(fields), expected_version=None
        )

    def delete(self, *, owner_id: uuid.UUID, obj: Any) -> Any:
        services.task_delete(owner_id=owner_id, task_id=obj.id, expected_version=None)
        return Task.objects.get(id=obj.id)
