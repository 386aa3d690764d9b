"""Todos endpoints: thin views over services.py and selectors.py.

Collections are keyset-paginated in the order `?ordering=` asks for; one list or task is a
VersionedDetailView (apps/common/views.py): ETag, If-Match, PUT and 404-before-400 as for every
resource.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.filters import OnlyWhenAskedFilterBackend
from apps.common.renderers import ORJSONRenderer
from apps.common.schema import EXAMPLE_IDS, PROBLEM_RESPONSES
from apps.common.versioning import ETagMixin
from apps.common.views import RowListMixin, VersionedDetailView, create_answer, owner_id

from .. import selectors, services
from ..filtersets import LIST_ORDERINGS, TASK_ORDERINGS, TaskFilterSet, TaskListFilterSet, keyset
from ..models import Task, TaskCompletion, TaskList
from . import serializers as s


def _faking_schema(view: APIView) -> bool:
    return getattr(view, "swagger_fake_view", False)


class _Collection(generics.ListAPIView):
    orderings: dict[str, str | tuple[str, ...]] = {}

    @property
    def cursor_ordering(self) -> tuple[str, ...]:
        request = getattr(self, "request", None)
        return keyset(self.orderings, request.query_params.get("ordering") if request is not None else None)


# --- task lists ------------------------------------------------------------------------------


class TaskListCollectionView(ETagMixin, _Collection):
    serializer_class = s.TaskListOutput
    filterset_class = TaskListFilterSet
    orderings = LIST_ORDERINGS

    def get_queryset(self) -> Any:
        if _faking_schema(self):
            return TaskList.objects.none()
        return selectors.tasklist_list(owner_id=owner_id(self.request))

    @extend_schema(summary="Your task lists (archived ones only when asked for)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.TaskListCreateInput,
        responses={
            201: s.TaskListOutput,
            200: OpenApiResponse(
                s.TaskListOutput, description="The same create, repeated: the existing list"
            ),
            **PROBLEM_RESPONSES,
        },
        summary="Create a task list (optionally with your own id)",
        description="A new list goes last unless placed with `after`/`before` (or an explicit "
        "`position`, not together with them). Repeating the same create with the same `id` answers "
        "200 with the list; another object under that id is 409 `id_conflict`.",
        examples=[
            OpenApiExample(
                "A list with its own id",
                request_only=True,
                value={"id": EXAMPLE_IDS["list"], "name": "Groceries", "color": "#2e7d32"},
            )
        ],
    )
    def post(self, request: Request) -> Response:
        return create_answer(
            request,
            input_serializer=s.TaskListCreateInput,
            creator=services.tasklist_create,
            id_name="list_id",
            output_serializer=s.TaskListOutput,
            route="todos-list-detail",
        )


class TaskListDeleteQuery(serializers.Serializer):
    move_tasks_to = serializers.UUIDField(
        required=False,
        help_text="Move the list's tasks to this list instead of deleting them with it.",
    )


class TaskListDetailView(VersionedDetailView):
    input_serializer = s.TaskListInput
    output_serializer = s.TaskListOutput
    lookup_url_kwarg = "list_id"
    noun = "task list"
    summaries = {"DELETE": "Delete a task list with its tasks, or move its tasks elsewhere first"}

    selector = selectors.tasklist_get
    updater = services.tasklist_update

    def destroy(self, *, owner: uuid.UUID, obj_id: uuid.UUID, expected_version: int | None) -> None:
        query = TaskListDeleteQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        services.tasklist_delete(
            owner_id=owner,
            list_id=obj_id,
            expected_version=expected_version,
            move_tasks_to=query.validated_data.get("move_tasks_to"),
        )

    @extend_schema(parameters=[TaskListDeleteQuery])
    def delete(self, request: Request, **kwargs: Any) -> Response:
        return super().delete(request, **kwargs)


# --- tasks -----------------------------------------------------------------------------------


class TaskCollectionView(RowListMixin, ETagMixin, _Collection):
    serializer_class = s.TaskOutput
    row_shape = s.TASK_ROW
    row_reader = selectors.task_rows
    filterset_class = TaskFilterSet
    orderings = TASK_ORDERINGS
    renderer_classes = [ORJSONRenderer]
    # Every TaskFilterSet filter acts only when given (see OnlyWhenAskedFilterBackend).
    filter_backends = [OnlyWhenAskedFilterBackend]

    def get_queryset(self) -> Any:
        if _faking_schema(self):
            return Task.objects.none()
        return selectors.task_list(owner_id=owner_id(self.request))

    @extend_schema(summary="Your tasks, filtered and ordered")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.TaskCreateInput,
        responses={
            201: s.TaskOutput,
            200: OpenApiResponse(s.TaskOutput, description="The same create, repeated: the existing task"),
            **PROBLEM_RESPONSES,
        },
        summary="Create a task (optionally with your own id)",
        description="A new task goes last in its list (or under its `parent`) unless placed with "
        "`after`/`before` (or an explicit `position`, not together with them). `due` is a date "
        "(all day) or a date-time with its offset. Repeating the same create with the same `id` "
        "answers 200 with the task.",
        examples=[
            OpenApiExample(
                "A task due on a day",
                request_only=True,
                value={
                    "id": EXAMPLE_IDS["task"],
                    "list": EXAMPLE_IDS["list"],
                    "title": "Buy milk",
                    "notes": "Oat, two cartons",
                    "due": "2026-12-24",
                    "priority": 2,
                    "tags": ["shopping"],
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        return create_answer(
            request,
            input_serializer=s.TaskCreateInput,
            creator=services.task_create,
            id_name="task_id",
            output_serializer=s.TaskOutput,
            route="todos-task-detail",
        )


class TaskDetailView(VersionedDetailView):
    input_serializer = s.TaskInput
    output_serializer = s.TaskOutput
    lookup_url_kwarg = "task_id"
    noun = "task"
    summaries = {
        "PUT": "Replace a task: omitted fields take their defaults, except its position",
        "DELETE": "Delete a task and its sub-tasks",
    }

    selector = selectors.task_get
    updater = services.task_update
    deleter = services.task_delete


class TaskCompletionListView(generics.ListAPIView):
    serializer_class = s.TaskCompletionOutput

    cursor_ordering = ("-completed_at", "-id")

    def get_queryset(self) -> Any:
        if _faking_schema(self):
            return TaskCompletion.objects.none()
        return selectors.task_completions(owner_id=owner_id(self.request), task_id=self.kwargs["task_id"])

    @extend_schema(summary="Completed occurrences of a task, newest first")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class TaskBulkView(APIView):
    @extend_schema(
        request=s.TaskBulkInput,
        responses={200: s.TaskBulkOutput, **PROBLEM_RESPONSES},
        summary="Complete, reopen, move or delete many tasks at once (all or nothing)",
        description="Either every item is applied (200, one result per id, in order) or none is "
        "(400 `validation_error` whose `errors` are keyed `ids.<index>` or `list`).",
    )
    def post(self, request: Request) -> Response:
        data = s.TaskBulkInput(data=request.data)
        data.is_valid(raise_exception=True)
        action = services.BulkAction(data.validated_data["action"])
        results = services.tasks_bulk(
            owner_id=owner_id(request),
            action=action,
            task_ids=data.validated_data["ids"],
            list_id=data.validated_data.get("list"),
        )
        body = {
            "action": action.value,
            "results": [{"id": r.id, "status": r.status.value, "task": r.task} for r in results],
        }
        return Response(s.TaskBulkOutput(body).data)
