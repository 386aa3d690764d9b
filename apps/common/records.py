"""Records of an account archive (docs/export.md): what every synced object carries beside its
own fields, written and read back the same way for every type.

An exported object is its API representation plus its bookkeeping: `id`, `version`,
`field_versions`, `created_at`, `updated_at`. On import each app validates its records with a
serializer built on `SyncedRecord` (the app's own input fields, so the rules of a create hold
for an import too) and writes them with the bookkeeping kept: a restored note is at the version
it was, with the dates it had. Ids are not kept: `new_ids` gives every object of the archive a
fresh one (the reasons are in docs/export.md).

Record serializers report errors like any request's (`ValidationFailed` with `errors`), so the
importer can say which line of which entry is wrong and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import orjson
from rest_framework import serializers
from rest_framework.utils.encoders import JSONEncoder

from .errors import ValidationFailed, flatten_errors
from .fields import StrictUUIDField
from .renderers import OPTIONS

# Versions above this are no version this server ever issued (and JavaScript clients could not
# hold them exactly).
MAX_VERSION = 2**53
_fallback = JSONEncoder()


def dumps(record: Any) -> bytes:
    """One record as a JSON line's text (without the newline): the API's JSON (UUIDs, ISO 8601
    times with `Z`), UTF-8, no ASCII escapes."""
    return orjson.dumps(record, default=_fallback.default, option=OPTIONS)


class StampedRecord(serializers.Serializer):
    """The bookkeeping of a synced object's record; a subclass adds the type's own fields and
    names its `editable_fields` (the keys `field_versions` may have)."""

    editable_fields: ClassVar[tuple[str, ...]] = ()

    version = serializers.IntegerField(min_value=1, max_value=MAX_VERSION)
    field_versions = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_VERSION), required=False
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        # Keys this server does not know (a field another version has) are left out.
        given = {
            name: value
            for name, value in (attrs.get("field_versions") or {}).items()
            if name in self.editable_fields
        }
        if any(value > attrs["version"] for value in given.values()):
            raise serializers.ValidationError({"field_versions": ["A field is newer than the object."]})
        # A record without them (written by hand) changed every field at its creation.
        attrs["field_versions"] = {name: given.get(name, 1) for name in self.editable_fields}
        return attrs


class SyncedRecord(StampedRecord):
    """... of an object known by its own id (every type but the viewer state, which is its
    file's)."""

    id = StrictUUIDField()


def validated(serializer: type[serializers.Serializer], record: Any, **context: Any) -> dict[str, Any]:
    """`record` as `serializer` validates it; ValidationFailed (400, field errors) otherwise."""
    if not isinstance(record, Mapping):
        raise ValidationFailed.field("non_field_errors", "A record is a JSON object.")
    checked = serializer(data=record, context=context)
    if not checked.is_valid():
        raise ValidationFailed(flatten_errors(checked.errors))
    return dict(checked.validated_data)


def stamp(obj: Any, values: Mapping[str, Any]) -> Any:
    """Put a record's bookkeeping on a new model instance (before it is inserted as given)."""
    obj.version = values["version"]
    obj.field_versions = values["field_versions"]
    obj.created_at = values["created_at"]
    obj.updated_at = values["updated_at"]
    return obj


def new_ids(seen: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """A fresh id for each id of an archive."""
    return {old: uuid.uuid4() for old in seen}
