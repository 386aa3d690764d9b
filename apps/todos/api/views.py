"""Todos endpoints: thin views over services.py and selectors.py.

Collections are keyset-paginated in the order `?ordering=` asks for; single objects carry
their version as ETag, and If-Match on PUT/PATCH/DELETE is checked by the services under the
row lock.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.filters import OnlyWhenAskedFilterBackend
from apps.common.renderers import ORJSONRenderer
from apps.common.schema import PROBLEM_RESPONSES
from apps.common.versioning import ETagMixin, expected_version
from apps.common.views import owner_id

from .. import selectors, services
from ..filtersets import LIST_ORDERINGS, TASK_ORDERINGS, TaskFilterSet, TaskListFilterSet, keyset
from ..models import Task, TaskCompletion, TaskList
from . import serializers as s


def _faking_schema(view: APIView) -> bool:
    return getattr(view, "swagger_fake_view", False)


class _Collection(generics.ListAPIView):
    orderings: dict[str, str] = {}

    @property
    def cursor_ordering(self) -> tuple[str, str]:
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
    )
    def post(self, request: Request) -> Response:
        data = s.TaskListCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        tasklist, created = services.tasklist_create(
            owner_id=owner_id(request), list_id=fields.pop("id", None), fields=fields
        )
        return Response(
            s.TaskListOutput(tasklist).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class TaskListDeleteQuery(serializers.Serializer):
    move_tasks_to = serializers.UUIDField(
        required=False,
        help_text="Move the list's tasks to this list instead of deleting them with it.",
    )


class TaskListDetailView(ETagMixin, APIView):
    @extend_schema(responses={200: s.TaskListOutput, **PROBLEM_RESPONSES}, summary="One task list")
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        return Response(s.TaskListOutput(selectors.tasklist_get(owner_id=owner_id(request), list_id=pk)).data)

    def _update(self, request: Request, pk: uuid.UUID, *, partial: bool) -> Response:
        data = s.TaskListInput(data=request.data, partial=partial)
        if not data.is_valid():
            selectors.tasklist_get(owner_id=owner_id(request), list_id=pk)  # an unknown list is 404, not 400
            raise serializers.ValidationError(data.errors)
        tasklist = services.tasklist_update(
            owner_id=owner_id(request),
            list_id=pk,
            fields=dict(data.validated_data),
            expected_version=expected_version(request),
        )
        return Response(s.TaskListOutput(tasklist).data)

    @extend_schema(
        request=s.TaskListInput,
        responses={200: s.TaskListOutput, **PROBLEM_RESPONSES},
        summary="Replace a task list (If-Match honoured)",
    )
    def put(self, request: Request, pk: uuid.UUID) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(
        request=s.TaskListInput,
        responses={200: s.TaskListOutput, **PROBLEM_RESPONSES},
        summary="Change a task list (If-Match honoured)",
    )
    def patch(self, request: Request, pk: uuid.UUID) -> Response:
        return self._update(request, pk, partial=True)

    @extend_schema(
        parameters=[TaskListDeleteQuery],
        responses={204: None, **PROBLEM_RESPONSES},
        summary="Delete a task list with its tasks, or move its tasks elsewhere first",
    )
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        query = TaskListDeleteQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        services.tasklist_delete(
            owner_id=owner_id(request),
            list_id=pk,
            expected_version=expected_version(request),
            move_tasks_to=query.validated_data.get("move_tasks_to"),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- tasks -----------------------------------------------------------------------------------


class TaskCollectionView(ETagMixin, _Collection):
    serializer_class = s.TaskOutput
    filterset_class = TaskFilterSet
    orderings = TASK_ORDERINGS
    renderer_classes = [ORJSONRenderer]
    # Every TaskFilterSet filter acts only when given (see OnlyWhenAskedFilterBackend).
    filter_backends = [OnlyWhenAskedFilterBackend]

    def get_queryset(self) -> Any:
        if _faking_schema(self):
            return Task.objects.none()
        return selectors.task_list(owner_id=owner_id(self.request))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The hot path reads rows, not model instances (see selectors.task_rows).
        queryset = self.filter_queryset(self.get_queryset())
        ordering = [name.lstrip("-") for name in self.cursor_ordering]
        rows = selectors.task_rows(queryset, extra=ordering, list_page=True)
        page = self.paginate_queryset(rows)
        assert page is not None  # every list is paginated
        return self.get_paginated_response([s.task_output(row) for row in page])

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
    )
    def post(self, request: Request) -> Response:
        data = s.TaskCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        task, created = services.task_create(
            owner_id=owner_id(request), task_id=fields.pop("id", None), fields=fields
        )
        return Response(
            s.TaskOutput(task).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class TaskDetailView(ETagMixin, APIView):
    @extend_schema(responses={200: s.TaskOutput, **PROBLEM_RESPONSES}, summary="One task")
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        return Response(s.TaskOutput(selectors.task_get(owner_id=owner_id(request), task_id=pk)).data)

    def _update(self, request: Request, pk: uuid.UUID, *, partial: bool) -> Response:
        data = s.TaskInput(data=request.data, partial=partial)
        if not data.is_valid():
            selectors.task_get(owner_id=owner_id(request), task_id=pk)  # an unknown task is 404, not 400
            raise serializers.ValidationError(data.errors)
        task = services.task_update(
            owner_id=owner_id(request),
            task_id=pk,
            fields=dict(data.validated_data),
            expected_version=expected_version(request),
        )
        return Response(s.TaskOutput(task).data)

    @extend_schema(
        request=s.TaskInput,
        responses={200: s.TaskOutput, **PROBLEM_RESPONSES},
        summary="Replace a task: omitted fields take their defaults, except its position (If-Match honoured)",
    )
    def put(self, request: Request, pk: uuid.UUID) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(
        request=s.TaskInput,
        responses={200: s.TaskOutput, **PROBLEM_RESPONSES},
        summary="Change a task (If-Match honoured)",
    )
    def patch(self, request: Request, pk: uuid.UUID) -> Response:
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None, **PROBLEM_RESPONSES}, summary="Delete a task and its sub-tasks")
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        services.task_delete(
            owner_id=owner_id(request), task_id=pk, expected_version=expected_version(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskCompletionListView(generics.ListAPIView):
    serializer_class = s.TaskCompletionOutput

    cursor_ordering = ("-completed_at", "-id")

    def get_queryset(self) -> Any:
        if _faking_schema(self):
            return TaskCompletion.objects.none()
        return selectors.task_completions(owner_id=owner_id(self.request), task_id=self.kwargs["pk"])

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
