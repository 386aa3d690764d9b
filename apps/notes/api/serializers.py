"""Input serializers only validate (the services normalise and apply); output serializers only
shape responses. Server-owned fields (`owner`, `version`, timestamps, ...) are not declared on
the inputs, so a body that carries them has them ignored."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from apps.common.fields import StrictBooleanField, StrictCharField, StrictUUIDField
from apps.common.plain import (
    NOT_PLAIN,
    Rule,
    boolean_rule,
    plain_fields,
    plain_text,
    tags_rule,
    text_rule,
)
from apps.common.rows import RowShape
from apps.common.tags import TagsField

from ..models import DEFAULTS, FILES_MAX_COUNT, TITLE_MAX_LENGTH, Note, NoteRevision


class NoteWriteInput(serializers.Serializer):
    """Every field is optional. PATCH changes the fields given; PUT replaces the note, absent
    fields taking their defaults (empty title, body, tags and file links; not pinned, not
    archived)."""

    title = StrictCharField(max_length=TITLE_MAX_LENGTH, allow_blank=True, default=DEFAULTS["title"])
    body = StrictCharField(
        allow_blank=True,
        trim_whitespace=False,
        default=DEFAULTS["body"],
        help_text="Markdown. At most NOTE_BODY_MAX_BYTES bytes of UTF-8 (1 MiB by default); "
        "a longer body is refused with 413 `note_too_large`.",
    )
    tags = TagsField(
        default=list,
        help_text="Normalised by the server: lower case, single spaces, duplicates merged, sorted.",
    )
    pinned = StrictBooleanField(default=DEFAULTS["pinned"])
    archived = StrictBooleanField(default=DEFAULTS["archived"])
    files = serializers.ListField(
        child=StrictUUIDField(),
        max_length=FILES_MAX_COUNT,
        default=list,
        help_text="Ids of your library files this note links to.",
    )


def _plain_body(body: Any) -> Any:
    if not plain_text(body, trim=False, max_length=None) or len(body) * 4 > settings.NOTE_BODY_MAX_BYTES:
        return NOT_PLAIN
    return body


_NOTE_RULES: dict[str, Rule] = {
    "title": text_rule(trim=True, max_length=TITLE_MAX_LENGTH),
    "body": _plain_body,
    "tags": tags_rule,
    "pinned": boolean_rule,
    "archived": boolean_rule,
    "files": lambda files: [] if type(files) is list and not files else NOT_PLAIN,
}


def plain_note_fields(fields: Any) -> dict[str, Any] | None:
    """What NoteWriteInput + services.clean_fields make of `fields`, for the plain case only: the
    editable fields as JSON gives them (strings needing no trimming, real booleans, a list of
    tags, no file links), nothing unknown. Anything else is None, and the caller validates the
    long way (which also reports the errors): this only skips the serializer's overhead for the
    common case of a sync push (a hundredth of the serializer's cost per op; figures:
    docs/benchmarks.md), it never accepts more."""
    return plain_fields(fields, _NOTE_RULES)


class NoteCreateInput(NoteWriteInput):
    """Every field is optional; absent ones take their defaults."""

    id = StrictUUIDField(
        required=False,
        help_text="Optional client-chosen id (offline creation). Repeating a create with the same "
        "id and body returns the existing note (200); a different body or an id used by anything "
        "else is 409 `id_conflict`.",
    )


class NoteOutput(serializers.ModelSerializer):
    tags = serializers.ListField(child=StrictCharField(), read_only=True)
    files = serializers.ListField(
        child=StrictUUIDField(), read_only=True, help_text="Linked library files that still exist."
    )

    class Meta:
        model = Note
        fields = [
            "id",
            "title",
            "body",
            "tags",
            "pinned",
            "archived",
            "files",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# NoteOutput from a row of selectors.note_rows (lean lists, details and pulls; apps/common/rows.py):
# `files` is the reader's `file_ids` (the live linked files, sorted; see selectors.LIVE_LINKS).
NOTE_ROW = RowShape(NoteOutput, columns={"files": "file_ids"})


class NoteHighlightOutput(serializers.Serializer):
    title = serializers.ListField(child=serializers.CharField(), help_text="The whole title.")
    body = serializers.ListField(child=serializers.CharField(), help_text="An excerpt around the matches.")


class NoteListOutput(NoteOutput):
    """A note in a list; with `q`, also what the search matched."""

    highlight = NoteHighlightOutput(
        required=False,
        help_text="Only with `q`: what the search matched, as text segments whose odd ones "
        "(1, 3, ...) are the matches (stemmed: `run` matches `running`). A client shows the "
        "segments as text and marks the odd ones; no markup to sanitise.",
    )

    class Meta(NoteOutput.Meta):
        fields = [*NoteOutput.Meta.fields, "highlight"]


class RevisionReasonField(serializers.CharField):
    """Why a revision's text was replaced (NoteRevision.Reason)."""


class RevisionReasonFieldExtension(OpenApiSerializerFieldExtension):
    """Documents RevisionReasonField as one named enum component of its own. drf-spectacular
    names enums by field name, and other apps have fields called `reason` too: a name of its own
    keeps the schema free of naming collisions without a project-wide override."""

    target_class = RevisionReasonField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        component = ResolvedComponent(
            name="NoteRevisionReasonEnum",
            type=ResolvedComponent.SCHEMA,
            object="NoteRevisionReasonEnum",
            schema={
                "type": "string",
                "enum": list(NoteRevision.Reason.values),
                "description": "Why this text was replaced: `edit`, `restore` (by restoring another "
                "revision) or `conflict` (the losing side of a sync conflict; never the note's text).",
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class NoteRevisionSummaryOutput(serializers.ModelSerializer):
    body_preview = StrictCharField(read_only=True, help_text="The first 200 characters of the body.")
    reason = RevisionReasonField(read_only=True)

    class Meta:
        model = NoteRevision
        fields = ["number", "title", "body_preview", "note_version", "reason", "created_at"]
        read_only_fields = fields


class NoteRevisionOutput(serializers.ModelSerializer):
    reason = RevisionReasonField(read_only=True)

    class Meta:
        model = NoteRevision
        fields = ["number", "title", "body", "note_version", "reason", "created_at"]
        read_only_fields = fields
