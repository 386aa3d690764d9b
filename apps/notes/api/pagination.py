"""Keyset pagination over several ordering fields.

The common CursorPagination (DRF's) keys on the first ordering field and counts an offset
among equal values: fine for a unique timestamp, wrong for "pinned first, then newest", whose
first field has two values (the offset would grow with the list and stop at DRF's cutoff). Here
the cursor carries the last row's value of every ordering field and the next page is the rows
strictly after it in that order, so each page costs the same however deep the client is. The
ordering must end with a unique field (`id`).

Cursors are opaque to clients (URL-safe base64 of JSON) and bound to the ordering that made
them: a tampered cursor, or one from a differently ordered list, is 404 "Invalid cursor",
never a server error. Only `next` links are produced (the API's list shape has no `previous`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Field, Q, QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from apps.common.pagination import CursorPagination


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


class KeysetPagination(CursorPagination):
    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        self.ordering = tuple(self.get_ordering(request, queryset, view))
        self.has_previous = False
        self.next_values: list[Any] | None = None
        queryset = queryset.order_by(*self.ordering)
        after = self._decode(request, queryset)
        if after is not None:
            queryset = queryset.filter(self._after(after))
        rows = list(queryset[: self.page_size + 1])
        self.page = rows[: self.page_size]
        self.has_next = len(rows) > self.page_size
        if self.has_next:
            last = self.page[-1]
            self.next_values = [_encode_value(getattr(last, f.lstrip("-"))) for f in self.ordering]
        return self.page

    def get_next_link(self) -> str | None:
        if self.next_values is None or self.base_url is None:
            return None
        raw = json.dumps({"o": list(self.ordering), "p": self.next_values}, separators=(",", ":"))
        token = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def get_previous_link(self) -> str | None:
        return None

    def _after(self, values: list[Any]) -> Q:
        """Rows strictly after `values` in the ordering: a lexicographic comparison spelled out as
        (a < x) OR (a = x AND b < y) OR (a = x AND b = y AND c < z) for descending fields."""
        branches = []
        equal = Q()
        for field, value in zip(self.ordering, values, strict=True):
            name = field.lstrip("-")
            operator = "lt" if field.startswith("-") else "gt"
            branches.append(equal & Q(**{f"{name}__{operator}": value}))
            equal &= Q(**{name: value})
        return reduce(or_, branches)

    def _field(self, queryset: QuerySet[Any], name: str) -> Field:
        annotation = queryset.query.annotations.get(name)
        if annotation is not None:
            return annotation.output_field
        try:
            field = queryset.model._meta.get_field(name)
        except FieldDoesNotExist:
            raise NotFound(self.invalid_cursor_message) from None
        assert isinstance(field, Field)
        return field

    def _decode(self, request: Request, queryset: QuerySet[Any]) -> list[Any] | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            if not isinstance(data, dict) or data.get("o") != list(self.ordering):
                raise ValueError("cursor from another ordering")
            raw_values = data["p"]
            if not isinstance(raw_values, list) or len(raw_values) != len(self.ordering):
                raise ValueError("wrong number of values")
            values = []
            for field_name, raw in zip(self.ordering, raw_values, strict=True):
                value = self._field(queryset, field_name.lstrip("-")).to_python(raw)
                if value is None:
                    raise ValueError("null position")
                if isinstance(value, datetime) and timezone.is_naive(value):
                    raise ValueError("naive datetime")
                if isinstance(value, float) and not math.isfinite(value):
                    raise ValueError("not a finite number")
                values.append(value)
        except (ValueError, TypeError, KeyError, binascii.Error, ValidationError, UnicodeDecodeError):
            raise NotFound(self.invalid_cursor_message) from None
        return values
