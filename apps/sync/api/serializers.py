"""Shapes of the sync messages (also the JSON Schemas of docs/asyncapi.yaml)."""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from apps.common.fields import StrictBooleanField, StrictCharField, StrictUUIDField

from .. import registry
from ..selectors import Cursor
from ..services import PushAction

PUSH_ACTIONS = [action.value for action in PushAction]
OP_STATUSES = [status.value for status in registry.OpStatus]


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="SyncFields",
        serializers=registry.fields_serializers,
        resource_type_field_name=None,
    )
)
class SyncFieldsField(serializers.DictField):
    """`fields` of a push op: the PATCH body of the op's type (checked by that type)."""


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="SyncObject",
        serializers=registry.output_serializers,
        resource_type_field_name=None,
    )
)
class SyncObjectField(serializers.DictField):
    """`data` in the feed and in push results: the REST representation of the op's type."""


class PushOpInput(serializers.Serializer):
    op_id = serializers.RegexField(
        r"^[A-Za-z0-9._:-]{1,64}$", help_text="Client-chosen, unique per operation"
    )
    type = StrictCharField(max_length=32)
    action = serializers.ChoiceField(choices=PUSH_ACTIONS)
    id = StrictUUIDField()
    base_version = serializers.IntegerField(min_value=0, default=0)
    fields = SyncFieldsField(required=False, default=dict)  # type: ignore[assignment]

    def validate_type(self, value: str) -> str:
        if value not in registry.names():
            raise serializers.ValidationError(f"Unknown type; one of: {', '.join(registry.names())}.")
        return value


class PushInput(serializers.Serializer):
    """The envelope only: each op is validated on its own (a bad op is rejected alone)."""

    ops = serializers.ListField(allow_empty=False)  # each element is judged alone (PushView)


class Push(serializers.Serializer):
    """A batch of operations, each answered on its own."""

    ops = PushOpInput(many=True)


class ConflictOutput(serializers.Serializer):
    field = StrictCharField(allow_null=True)
    server = serializers.JSONField(required=False)
    client = serializers.JSONField(required=False)
    reason = StrictCharField(required=False)
    revision = serializers.IntegerField(
        required=False,
        help_text="A note's title or body conflict: the number of the note revision that keeps "
        "the client's losing text (`GET /v1/notes/{note_id}/revisions/{number}`).",
    )


class PushResultOutput(serializers.Serializer):
    op_id = StrictCharField(allow_null=True)
    status = serializers.ChoiceField(choices=OP_STATUSES)
    type = StrictCharField(allow_null=True)
    id = StrictCharField(allow_null=True)
    version = serializers.IntegerField(allow_null=True, required=False)
    data = SyncObjectField(allow_null=True, required=False)  # type: ignore[assignment]
    conflicts = ConflictOutput(many=True, required=False)
    code = StrictCharField(required=False)
    detail = StrictCharField(required=False)
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=StrictCharField()), required=False
    )


class PushOutput(serializers.Serializer):
    results = PushResultOutput(many=True)


class ChangeOutput(serializers.Serializer):
    seq = serializers.IntegerField()
    type = StrictCharField()
    op = serializers.ChoiceField(choices=["upsert", "delete"])
    id = StrictUUIDField()
    version = serializers.IntegerField()
    data = SyncObjectField(allow_null=True)  # type: ignore[assignment]


class ChangesOutput(serializers.Serializer):
    changes = ChangeOutput(many=True)
    cursor = StrictCharField()
    has_more = StrictBooleanField()


class ChangesQuery(serializers.Serializer):
    cursor = StrictCharField(required=False, allow_blank=True, default="")
    limit = serializers.IntegerField(required=False, min_value=1, default=100)
    types = StrictCharField(required=False, allow_blank=True, default="")

    def validate_cursor(self, value: str) -> Cursor:
        try:
            return Cursor.parse(value)
        except ValueError:
            raise serializers.ValidationError("Use the cursor of a previous answer, or none.") from None

    def validate_types(self, value: str) -> list[str]:
        wanted = [item.strip() for item in value.split(",") if item.strip()]
        unknown = sorted(set(wanted) - set(registry.names()))
        if unknown:
            raise serializers.ValidationError(f"Unknown types {unknown}; use {registry.names()}.")
        return wanted
