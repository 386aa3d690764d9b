"""Notes endpoints: thin views over services.py (writes) and selectors.py (reads)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.renderers import ORJSONRenderer
from apps.common.schema import EXAMPLE_IDS, PROBLEM_RESPONSES, Problem
from apps.common.versioning import ETagMixin, expected_version
from apps.common.views import RowListMixin, VersionedDetailView, create_answer, owner_id

from .. import selectors, services
from ..filtersets import NoteFilterSet
from ..models import Note, NoteRevision
from . import serializers as s

TOO_LARGE = {413: OpenApiResponse(response=Problem, description="`note_too_large`: the body is over the cap")}


@extend_schema_view(
    list=extend_schema(
        summary="List notes",
        description="The caller's notes, pinned first and then the most recently updated; with "
        "`q`, the best matches first, each with a `highlight` of what matched. Archived notes only "
        "with `archived=true|all`.",
        responses={200: s.NoteListOutput(many=True), **PROBLEM_RESPONSES},
    )
)
class NoteViewSet(RowListMixin, ETagMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.NoteOutput
    row_shape = s.NOTE_ROW
    row_reader = selectors.note_rows
    filterset_class = NoteFilterSet
    renderer_classes = [ORJSONRenderer]

    queryset = Note.objects.none()  # typed placeholder; get_queryset scopes to the caller
    lookup_url_kwarg = "note_id"

    @property
    def cursor_ordering(self) -> tuple[str, ...]:
        # Same test as the filterset's `q` (a form field strips whitespace): search ranks.
        if self.request.query_params.get("q", "").strip():
            return ("-rank", "-updated_at", "-id")
        return ("-pinned", "-updated_at", "-id")

    def get_queryset(self) -> QuerySet[Note]:
        if getattr(self, "swagger_fake_view", False):
            return Note.objects.none()
        return selectors.note_list(owner_id=owner_id(self.request))

    def complete(self, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return selectors.note_files(page)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        query = request.query_params.get("q", "").strip()
        results = response.data["results"] if query else []
        if results:  # one more query per page of search results, none otherwise
            marks = selectors.note_highlights(
                owner_id=owner_id(request), ids=[row["id"] for row in results], query=query
            )
            for row in results:
                row["highlight"] = marks.get(row["id"], {"title": [row["title"]], "body": [""]})
        return response

    @extend_schema(
        summary="Create a note",
        description="Markdown `body`, `tags`, `pinned`, links to library `files`. Repeating the same "
        "create with the same `id` answers 200 with the note.",
        examples=[
            OpenApiExample(
                "A pinned note",
                request_only=True,
                value={
                    "id": EXAMPLE_IDS["note"],
                    "title": "Reading list",
                    "body": "- *Middlemarch*\n- *The Dispossessed*",
                    "tags": ["books"],
                    "pinned": True,
                },
            )
        ],
        request=s.NoteCreateInput,
        responses={
            201: s.NoteOutput,
            200: OpenApiResponse(s.NoteOutput, description="the same create again: the existing note"),
            **PROBLEM_RESPONSES,
            **TOO_LARGE,
        },
    )
    def create(self, request: Request) -> Response:
        return create_answer(
            request,
            input_serializer=s.NoteCreateInput,
            creator=services.note_create,
            id_name="note_id",
            output_serializer=s.NoteOutput,
            route="notes-detail",
        )


class NoteDetailView(VersionedDetailView):
    input_serializer = s.NoteWriteInput
    output_serializer = s.NoteOutput
    lookup_url_kwarg = "note_id"
    noun = "note"
    summaries = {"PUT": "Replace a note: absent fields take their defaults"}
    descriptions = {
        "DELETE": "Soft delete: the note disappears from the API at once and stays as a tombstone "
        "(for sync) until the retention window has passed.",
    }
    error_responses = TOO_LARGE
    renderer_classes = [ORJSONRenderer]

    def retrieve(self, *, owner: uuid.UUID, obj_id: uuid.UUID) -> Any:
        # The lean read (one query, no model instance), shaped as NoteOutput.
        return s.NOTE_ROW(
            selectors.note_row_get(owner_id=owner, note_id=obj_id, columns=s.NOTE_ROW.model_columns)
        )

    updater = services.note_update
    deleter = services.note_delete


@extend_schema_view(
    list=extend_schema(
        summary="List a note's revisions",
        description="Newest first. Each revision is the title and body as they were before a change; "
        "only the newest NOTE_REVISIONS_KEPT are kept. Bodies are previewed: read one revision "
        "for its whole body.",
        responses={200: s.NoteRevisionSummaryOutput(many=True), **PROBLEM_RESPONSES},
    )
)
class NoteRevisionViewSet(ETagMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.NoteRevisionSummaryOutput
    conditional_methods = frozenset({"POST"})  # restore

    filter_backends: list[Any] = []
    cursor_ordering = ("-number",)
    queryset = NoteRevision.objects.none()

    def get_queryset(self) -> QuerySet[NoteRevision]:
        if getattr(self, "swagger_fake_view", False):
            return NoteRevision.objects.none()
        return selectors.revision_list(owner_id=owner_id(self.request), note_id=self.kwargs["note_id"])

    @extend_schema(summary="Read a revision", responses={200: s.NoteRevisionOutput, **PROBLEM_RESPONSES})
    def retrieve(self, request: Request, note_id: uuid.UUID, number: int) -> Response:
        revision = selectors.revision_get(owner_id=owner_id(request), note_id=note_id, number=number)
        return Response(s.NoteRevisionOutput(revision).data)

    @extend_schema(
        operation_id="notes_revisions_restore",
        summary="Restore a revision",
        description="Sets the note's title and body to the revision's. This is a change like any "
        "other: the current text is kept as a new revision and the note gets a new version.",
        request=None,
        responses={200: s.NoteOutput, **PROBLEM_RESPONSES, **TOO_LARGE},
    )
    def restore(self, request: Request, note_id: uuid.UUID, number: int) -> Response:
        note = services.revision_restore(
            note_id=note_id,
            owner_id=owner_id(request),
            number=number,
            expected_version=expected_version(request),
        )
        return Response(s.NoteOutput(note).data)
