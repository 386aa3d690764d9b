"""Serializer fields that take JSON as it is. DRF's CharField turns numbers and booleans into
strings and its UUIDField accepts integers (`false` becomes the nil UUID): for a JSON API a
wrong type is a client bug to report, not to guess at (schemathesis flags the difference)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """`true`/`false` only: DRF also takes 0, 1, "yes", "on" and friends."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data
