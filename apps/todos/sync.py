"""Task lists and tasks in the sync feed. Pushed fields are validated by the REST input
serializers and written by this app's services, so the rules exist once. `after`/`before` are
placement instructions, not stored values: they always apply (they never conflict)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from rest_framework import serializers

from apps.sync.registry import SyncType

from . import services
from .api.serializers import TaskInput, TaskListInput, TaskListOutput, TaskOutput
from .models import Task, TaskList

_PLACEMENT = ("after", "before")


class _NeverEqual:
    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]


def _validated(
    serializer_class: type[serializers.Serializer], fields: Mapping[str, Any], partial: bool
) -> dict[str, Any]:
    data = serializer_class(data=dict(fields), partial=partial)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


class TaskListSync(SyncType):
    name = TaskList.sync_type
    model = TaskList
    output_serializer = TaskListOutput
    fields_serializer = TaskListInput(partial=True)
    output_component = "TaskListOutput"
    fields_component = "PatchedTaskListInputRequest"

    def serialize(self, objs: Sequence[Any]) -> list[dict[str, Any]]:
        return list(TaskListOutput(objs, many=True).data)

    def validate(self, *, fields: Mapping[str, Any], partial: bool) -> dict[str, Any]:
        return _validated(TaskListInput, fields, partial)

    def value(self, obj: Any, name: str) -> Any:
        return _NeverEqual() if name in _PLACEMENT else getattr(obj, name)

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


class TaskSync(SyncType):
    name = Task.sync_type
    model = Task
    output_serializer = TaskOutput
    fields_serializer = TaskInput(partial=True)
    output_component = "TaskOutput"
    fields_component = "PatchedTaskInputRequest"

    def serialize(self, objs: Sequence[Any]) -> list[dict[str, Any]]:
        return list(TaskOutput(objs, many=True).data)

    def validate(self, *, fields: Mapping[str, Any], partial: bool) -> dict[str, Any]:
        return _validated(TaskInput, fields, partial)

    def value(self, obj: Any, name: str) -> Any:
        return _NeverEqual() if name in _PLACEMENT else obj.editable_value(name)

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
