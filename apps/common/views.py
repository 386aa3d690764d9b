"""What every resource's views share: whose request it is, one way to list rows, and one detail
view for every versioned object.

`RowListMixin` is a list endpoint's `list()`: filter, page by the keyset, read the page as rows
(the app's selector) and shape them with the output serializer's `RowShape` (apps/common/rows.py).

`VersionedDetailView` gives `/<resource>/{<resource>_id}` the same meaning everywhere:
- GET answers the object, its version as `ETag`.
- PATCH changes the fields sent; PUT sets every field, an absent one taking the default its input
  serializer declares (the schema shows it): one definition of "replace" for every resource.
- An unknown id, or another user's, is 404 whatever the body: the 404 comes before any 400, so a
  client never learns from a validation error that an id exists.
- `If-Match` on PUT, PATCH and DELETE: a stale version is 412 and changes nothing (the services
  compare it under the row lock, apps/common/versioning.py).
- DELETE answers 204.
A subclass names its serializers, the id's URL parameter and its selector and services (or
overrides `retrieve`, `update`, `destroy`); the OpenAPI operations (request, responses,
If-Match, ETag) come from `VersionedDetailSchema` once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .rows import RowShape
from .schema import PROBLEM_RESPONSES, OwnDocsSchema
from .versioning import ETagMixin, expected_version


def owner_id(request: Request) -> uuid.UUID:
    """The signed-in user's id: whose objects the request may see. Only for views that require
    authentication (the default permission), where there always is one."""
    user_id = getattr(request.user, "id", None)
    assert isinstance(user_id, uuid.UUID)  # authentication is required before any view runs
    return user_id


class AnyAccept(BaseContentNegotiation):
    """For a view that answers in its own media types (KOReader's protocol, the AsyncAPI
    document's YAML): DRF's negotiation would refuse an Accept its renderers do not list (406)
    before the view could answer it."""

    def select_parser(self, request: Any, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


def created_response(data: Any, *, created: bool, route: str, **ids: Any) -> Response:
    """The answer to a create that may be repeated with the same client-chosen id: 201 when this
    request made the object, 200 when it already existed (a retry); both say where it lives
    (`Location`, the path of the route named `route`)."""
    return Response(
        data,
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        headers={"Location": reverse(route, kwargs=ids)},
    )


def create_answer(
    request: Request,
    *,
    input_serializer: type[serializers.Serializer],
    creator: Callable[..., tuple[Any, bool]],
    id_name: str,
    output_serializer: type[serializers.Serializer],
    route: str,
) -> Response:
    """POST to a collection of a resource whose ids a client may choose: the body validated by
    `input_serializer` (its optional `id` goes to `creator` as `id_name`), created by the app's
    service, answered by `created_response` (201, or 200 for a repeated create)."""
    data = input_serializer(data=request.data)
    data.is_valid(raise_exception=True)
    fields = dict(data.validated_data)
    obj_id = fields.pop("id", None)
    obj, created = creator(owner_id=owner_id(request), fields=fields, **{id_name: obj_id})
    return created_response(output_serializer(obj).data, created=created, route=route, **{id_name: obj.id})


class RowListMixin:
    """`list()` for a paginated, filtered list view whose page is read as rows. The view names
    `row_shape` and its app's `row_reader` (`reader(queryset, columns=, extra=, list_page=True)`:
    the queryset as rows of the shape's columns plus `extra`, the ordering's fields);
    `complete()` may add what the rows could not carry (one query per page at most)."""

    row_shape: ClassVar[RowShape]
    row_reader: ClassVar[Callable[..., Any]]

    def complete(self, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return page

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        view: Any = self  # a GenericAPIView with filters and the keyset paginator
        queryset = view.filter_queryset(view.get_queryset())
        ordering = [name.lstrip("-") for name in view.cursor_ordering]
        columns = self.row_shape.model_columns
        rows = type(self).row_reader(queryset, columns=columns, extra=ordering, list_page=True)
        page = view.paginate_queryset(rows)
        assert page is not None  # every list is paginated
        response: Response = view.get_paginated_response(self.row_shape.many(self.complete(page)))
        return response


_SUMMARIES = {
    "GET": "One {noun}",
    "PUT": "Replace a {noun}",
    "PATCH": "Change a {noun}",
    "DELETE": "Delete a {noun}",
}
# What each method means, the same for every resource (the schema says it on every operation).
_SEMANTICS = {
    "GET": "The object, its version in the `ETag` header.",
    "PUT": "Sets every field: an absent one takes its default. An unknown id is 404 before the body "
    "is validated; with If-Match, a stale version is 412 and nothing changes.",
    "PATCH": "Changes the fields sent; equal values are no change (the version stays). An unknown "
    "id is 404 before the body is validated; with If-Match, a stale version is 412 and nothing "
    "changes.",
    "DELETE": "With If-Match, a stale version is 412 and nothing changes.",
}


class VersionedDetailSchema(OwnDocsSchema):
    """The OpenAPI side of VersionedDetailView, from the view's serializers and summaries."""

    def _detail_view(self) -> VersionedDetailView:
        assert isinstance(self.view, VersionedDetailView)
        return self.view

    def get_request_serializer(self) -> Any:
        if self.method in ("PUT", "PATCH"):
            return self._detail_view().input_serializer
        return super().get_request_serializer()

    def get_response_serializers(self) -> Any:
        view = self._detail_view()
        if self.method == "DELETE":
            return {204: OpenApiResponse(description="Deleted."), **PROBLEM_RESPONSES, **view.error_responses}
        return {200: view.output_serializer, **PROBLEM_RESPONSES, **view.error_responses}

    def get_summary(self) -> str | None:
        view = self._detail_view()
        return view.summaries.get(self.method) or _SUMMARIES[self.method].format(noun=view.noun)

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's own ignore
        extra = self._detail_view().descriptions.get(self.method, "")
        return " ".join(part for part in (extra, _SEMANTICS[self.method]) if part)


class VersionedDetailView(ETagMixin, APIView):
    """One versioned object: GET, PUT, PATCH and DELETE with one meaning for every resource (see
    the module's docstring)."""

    input_serializer: ClassVar[type[serializers.Serializer]]
    output_serializer: ClassVar[type[serializers.Serializer]]
    # The URL parameter holding the object's id, named after the resource (`task_id`).
    lookup_url_kwarg: ClassVar[str]
    # For the schema: the resource's name ("task list"), per method a summary where the plain one
    # ("Change a task list") says too little, and what the resource adds to the shared meaning;
    # errors beyond PROBLEM_RESPONSES (e.g. 413).
    noun: ClassVar[str]
    summaries: ClassVar[dict[str, str]] = {}
    descriptions: ClassVar[dict[str, str]] = {}
    error_responses: ClassVar[dict[int, Any]] = {}
    schema = VersionedDetailSchema()

    # --- what a resource provides ----------------------------------------------------------------
    # Its selector and services, called keyword-only with `owner_id` and the id under the URL
    # parameter's name (`task_id=...`), as the apps' selectors and services take them; a resource
    # whose reads or writes differ overrides retrieve/update/destroy instead.
    selector: ClassVar[Callable[..., Any]]
    updater: ClassVar[Callable[..., Any]]
    deleter: ClassVar[Callable[..., Any]]

    def _ids(self, owner: uuid.UUID, obj_id: uuid.UUID) -> dict[str, uuid.UUID]:
        return {"owner_id": owner, self.lookup_url_kwarg: obj_id}

    def represent(self, obj: Any) -> Any:
        return self.output_serializer(obj).data

    def retrieve(self, *, owner: uuid.UUID, obj_id: uuid.UUID) -> Any:
        """The object as GET answers it; NotFound when the caller has no such object."""
        return self.represent(type(self).selector(**self._ids(owner, obj_id)))

    def update(
        self, *, owner: uuid.UUID, obj_id: uuid.UUID, fields: dict[str, Any], expected_version: int | None
    ) -> Any:
        """Apply validated fields through the service; the object as the answer shows it."""
        changed = type(self).updater(
            **self._ids(owner, obj_id), fields=fields, expected_version=expected_version
        )
        return self.represent(changed)

    def destroy(self, *, owner: uuid.UUID, obj_id: uuid.UUID, expected_version: int | None) -> None:
        type(self).deleter(**self._ids(owner, obj_id), expected_version=expected_version)

    def check_exists(self, *, owner: uuid.UUID, obj_id: uuid.UUID) -> None:
        """NotFound unless the caller has this object (404 before 400); override when reading the
        whole object is dear."""
        self.retrieve(owner=owner, obj_id=obj_id)

    # --- the shared semantics -------------------------------------------------------------------

    def _obj_id(self, kwargs: dict[str, Any]) -> uuid.UUID:
        value = kwargs[self.lookup_url_kwarg]
        assert isinstance(value, uuid.UUID)  # the URL converter is <uuid:...>
        return value

    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(self.retrieve(owner=owner_id(request), obj_id=self._obj_id(kwargs)))

    def put(self, request: Request, **kwargs: Any) -> Response:
        return self._write(request, self._obj_id(kwargs), partial=False)

    def patch(self, request: Request, **kwargs: Any) -> Response:
        return self._write(request, self._obj_id(kwargs), partial=True)

    def delete(self, request: Request, **kwargs: Any) -> Response:
        self.destroy(
            owner=owner_id(request), obj_id=self._obj_id(kwargs), expected_version=expected_version(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _write(self, request: Request, obj_id: uuid.UUID, *, partial: bool) -> Response:
        owner = owner_id(request)
        data = self.input_serializer(data=request.data, partial=partial)
        if not data.is_valid():
            self.check_exists(owner=owner, obj_id=obj_id)
            raise serializers.ValidationError(data.errors)
        answer = self.update(
            owner=owner,
            obj_id=obj_id,
            fields=dict(data.validated_data),
            expected_version=expected_version(request),
        )
        return Response(answer)
