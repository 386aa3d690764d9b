"""Input serializers only validate the shape of a request; output serializers only shape
responses. Business rules that need the database live in services.py.

Fields a client may not set (`owner`, `user`, `version`, timestamps, `completed_at`,
`deleted_at`, ...) are simply not declared on the inputs, so they are ignored.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from datetime import timedelta, timezone
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common.fields import StrictBooleanField, StrictCharField, StrictUUIDField
from apps.common.plain import Rule, integer_rule, plain_fields, tags_rule, text_rule
from apps.common.rows import Computed, RowShape
from apps.common.tags import TagsField

from .. import positions
from ..due import FORMAT_HELP, Due
from ..models import Task, TaskCompletion, TaskList
from ..recurrence import MAX_INTERVAL, Freq
from ..services import BULK_MAX_IDS, BulkAction, BulkStatus

# --- field types -----------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "string",
        "description": "An all-day date (YYYY-MM-DD) or a date-time with a UTC offset "
        "(2025-03-01T09:00:00+01:00); answered in the offset it was given in.",
        "example": "2025-03-01",
    }
)
class DueField(serializers.Field):
    default_error_messages = {"invalid": FORMAT_HELP}

    def to_internal_value(self, data: Any) -> Due:
        try:
            return Due.parse(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from None

    def to_representation(self, value: Due) -> str:
        return value.to_wire()


def _enum(values: builtins.list[str]) -> dict[str, Any]:
    # Inline enums: no shared component name another app's `status`/`action` could collide with.
    return {"type": "string", "enum": values}


@extend_schema_field(_enum([f.value for f in Freq]))
class FreqField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[f.value for f in Freq], **kwargs)


@extend_schema_field(_enum([a.value for a in BulkAction]))
class BulkActionField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[a.value for a in BulkAction], **kwargs)


@extend_schema_field(_enum([s.value for s in BulkStatus]))
class BulkStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[s.value for s in BulkStatus], **kwargs)


class PositionField(StrictCharField):
    """An explicit ordering key (see positions.py): `[0-9a-z]`, not ending in `0`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=positions.FIELD_LENGTH, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not positions.is_valid(value):
            raise serializers.ValidationError("Use lowercase letters and digits, not ending in 0.")
        return value


class TaskRecurrenceSerializer(serializers.Serializer):
    freq = FreqField()
    interval = serializers.IntegerField(min_value=1, max_value=MAX_INTERVAL, default=1)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                ['Expected an object such as {"freq": "weekly", "interval": 1}.']
            )
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A PATCH validates nested objects partially too; a recurrence is always whole.
        if "freq" not in attrs:
            raise serializers.ValidationError({"freq": ["This field is required."]})
        return {"freq": attrs["freq"], "interval": attrs.get("interval", 1)}


class _Placement(serializers.Serializer):
    position = PositionField(
        required=False,
        help_text="An explicit ordering key. Usually left to the server: use `after`/`before`.",
    )
    after = StrictUUIDField(required=False, write_only=True, help_text="Place right after this sibling.")
    before = StrictUUIDField(required=False, write_only=True, help_text="Place right before this sibling.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "position" in attrs and ("after" in attrs or "before" in attrs):
            raise serializers.ValidationError(
                {"position": ["Give `position` or `after`/`before`, not both."]}
            )
        return attrs


# --- task lists ------------------------------------------------------------------------------


# A task's text and priority, as TaskInput takes them (plain_task_fields follows them).
TITLE_MAX_LENGTH = 500
NOTES_MAX_LENGTH = 100_000
PRIORITY_MIN, PRIORITY_MAX = 0, 3

COLOR = re.compile(r"(#[0-9a-fA-F]{6})?")


@extend_schema_field({"type": "string", "pattern": f"^{COLOR.pattern}$", "maxLength": 7})
class ColorField(serializers.Field):
    """`#rrggbb` (stored in lower case), or empty for none. Declared as one string schema: a DRF
    CharField that allows blanks is described by drf-spectacular as `oneOf` its pattern or an
    empty string, and `""` matching both branches breaks strict validators."""

    default_error_messages = {"invalid": "Use #rrggbb, or an empty string for none."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or not COLOR.fullmatch(data):
            self.fail("invalid")
        return data.lower()

    def to_representation(self, value: Any) -> str:
        return str(value)


class TaskListInput(_Placement):
    name = StrictCharField(max_length=200)
    color = ColorField(default="", help_text="#rrggbb or empty")
    archived = StrictBooleanField(default=False)


class TaskListCreateInput(TaskListInput):
    id = StrictUUIDField(required=False, help_text="A client-chosen id (offline creation).")


class TaskListOutput(serializers.ModelSerializer):
    field_versions = serializers.DictField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = TaskList
        fields = [
            "id",
            "name",
            "color",
            "position",
            "archived",
            "field_versions",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# --- tasks -----------------------------------------------------------------------------------


class TaskInput(_Placement):
    list = StrictUUIDField(help_text="The task list (required: every task is in a list).")
    parent = StrictUUIDField(  # type: ignore[assignment]  # DRF's Field.parent is the serializer
        allow_null=True, default=None, help_text="A top-level task of the same list (one level)."
    )
    title = StrictCharField(max_length=TITLE_MAX_LENGTH)
    notes = StrictCharField(max_length=NOTES_MAX_LENGTH, allow_blank=True, trim_whitespace=False, default="")
    done = StrictBooleanField(
        default=False, help_text="true completes (a recurring task moves to its next due instead)."
    )
    due = DueField(allow_null=True, default=None)
    priority = serializers.IntegerField(
        min_value=PRIORITY_MIN, max_value=PRIORITY_MAX, default=0, help_text="0 none … 3 high"
    )
    tags = TagsField(default=builtins.list)
    recurrence = TaskRecurrenceSerializer(allow_null=True, default=None)


_TASK_RULES: dict[str, Rule] = {
    "title": text_rule(trim=True, max_length=TITLE_MAX_LENGTH, allow_blank=False),
    "notes": text_rule(trim=False, max_length=NOTES_MAX_LENGTH),
    "priority": integer_rule(PRIORITY_MIN, PRIORITY_MAX),
    "tags": tags_rule,
}


def plain_task_fields(fields: Any) -> dict[str, Any] | None:
    """What TaskInput(partial=True) makes of an edit of a task's text, priority or tags, for the
    plain case only (see apps/common/plain.py): the batched path of a sync push takes these
    edits; anything else about a task (completion, due, recurrence, moves) goes one by one."""
    return plain_fields(fields, _TASK_RULES)


class TaskCreateInput(TaskInput):
    id = StrictUUIDField(required=False, help_text="A client-chosen id (offline creation).")


class TaskOutput(serializers.ModelSerializer):
    list = StrictUUIDField(source="list_id", read_only=True)
    parent = StrictUUIDField(source="parent_id", read_only=True, allow_null=True)  # type: ignore[assignment]
    due = DueField(read_only=True, allow_null=True)
    tags = serializers.ListField(child=StrictCharField(), read_only=True)
    recurrence = TaskRecurrenceSerializer(read_only=True, allow_null=True)
    field_versions = serializers.DictField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "list",
            "parent",
            "title",
            "notes",
            "done",
            "completed_at",
            "due",
            "priority",
            "tags",
            "position",
            "recurrence",
            "completion_count",
            "last_completed_at",
            "field_versions",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


def _due_wire(row: Mapping[str, Any]) -> str | None:
    if row["due_date"] is not None:
        return Due.of_date(row["due_date"]).to_wire()
    if row["due_at"] is not None:
        offset = row["due_offset"] or 0
        return Due(
            at=row["due_at"].astimezone(timezone(timedelta(minutes=offset))), offset_minutes=offset
        ).to_wire()
    return None


def _recurrence_wire(row: Mapping[str, Any]) -> dict[str, Any] | None:
    recurrence = row["recurrence"]
    if recurrence is None:
        return None
    return {key: recurrence[key] for key in ("freq", "interval") if key in recurrence}


# TaskOutput from a row of selectors.task_rows (the list's lean read path; apps/common/rows.py).
TASK_ROW = RowShape(
    TaskOutput,
    computed={
        "due": Computed(("due_date", "due_at", "due_offset"), _due_wire),
        "recurrence": Computed(("recurrence",), _recurrence_wire),
    },
)


class TaskCompletionOutput(serializers.ModelSerializer):
    due = serializers.SerializerMethodField(help_text="The due of the occurrence that was completed.")

    class Meta:
        model = TaskCompletion
        fields = ["id", "completed_at", "due"]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_due(self, obj: TaskCompletion) -> str | None:
        return obj.due or None


# --- bulk ------------------------------------------------------------------------------------


class TaskBulkInput(serializers.Serializer):
    action = BulkActionField()
    ids = serializers.ListField(child=StrictUUIDField(), min_length=1, max_length=BULK_MAX_IDS)
    list = StrictUUIDField(required=False, allow_null=True, help_text="The target list of `move`.")

    def validate_ids(self, value: builtins.list[Any]) -> builtins.list[Any]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each id may appear only once.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] == BulkAction.MOVE and not attrs.get("list"):
            raise serializers.ValidationError({"list": ["Moving needs a target list."]})
        return attrs


class TaskBulkResultOutput(serializers.Serializer):
    id = StrictUUIDField()
    status = BulkStatusField()
    task = TaskOutput(allow_null=True, help_text="The task after the change; null once deleted.")


class TaskBulkOutput(serializers.Serializer):
    action = BulkActionField()
    results = TaskBulkResultOutput(many=True)
