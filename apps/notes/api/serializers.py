"""Input serializers only validate (the services normalise and apply); output serializers only
shape responses. Server-owned fields (`owner`, `version`, timestamps, ...) are not declared on
the inputs, so a body that carries them has them ignored."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from ..models import FILES_MAX_COUNT, TAG_MAX_LENGTH, TAGS_MAX_COUNT, TITLE_MAX_LENGTH, Note, NoteRevision


class NoteWriteInput(serializers.Serializer):
    """Every field is optional. PATCH changes the fields given; PUT replaces the note, absent
    fields taking their defaults (empty title, body and tags; not pinned, not archived)."""

    title = serializers.CharField(max_length=TITLE_MAX_LENGTH, allow_blank=True, required=False)
    body = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        required=False,
        help_text="Markdown. At most NOTE_BODY_MAX_BYTES bytes of UTF-8 (1 MiB by default); "
        "a longer body is refused with 413 `note_too_large`.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX_LENGTH),
        max_length=TAGS_MAX_COUNT,
        required=False,
        help_text="Normalised by the server: lower case, single spaces, duplicates merged, sorted.",
    )
    pinned = serializers.BooleanField(required=False)
    archived = serializers.BooleanField(required=False)
    files = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=FILES_MAX_COUNT,
        required=False,
        help_text="Ids of your library files this note links to.",
    )


class NoteCreateInput(NoteWriteInput):
    """Every field is optional; absent ones take their defaults."""

    id = serializers.UUIDField(
        required=False,
        help_text="Optional client-chosen id (offline creation). Repeating a create with the same "
        "id and body returns the existing note (200); a different body or an id used by anything "
        "else is 409 `id_conflict`.",
    )


class NoteOutput(serializers.ModelSerializer):
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    files = serializers.ListField(
        child=serializers.UUIDField(), read_only=True, help_text="Linked library files that still exist."
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
    body_preview = serializers.CharField(read_only=True, help_text="The first 200 characters of the body.")
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
