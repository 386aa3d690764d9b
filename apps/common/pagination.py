"""Keyset ("cursor") pagination for every list:
`{"results": [...], "next": url|null, "next_cursor": str|null}`.

`?limit=` defaults to 50 and is clamped to 200 (DESIGN wire details: too large is clamped, not
refused). A view names its ordering with `cursor_ordering` (a tuple ending with a unique field,
normally `id`; it may also be a property). The cursor carries the last row's value of every
ordering field and the next page is the rows strictly after it, so:
- each page costs one range scan on an index however deep the client is (DRF's own cursor keys
  on the first field and skips ties with a growing offset: wrong for "pinned first" or
  "priority", slow for deep pages);
- rows inserted meanwhile are neither repeated nor skipped.
Cursors are opaque (URL-safe base64 of JSON) and bound to the ordering that made them: a
tampered cursor, or one from a differently ordered list, is 404 "Invalid cursor", never a 500.
Ordering fields must not be NULL (order by a non-null sort key instead). Only `next` links
exist: the list shape has no `previous`.

Pages are bounded by bytes too (LIST_MAX_BYTES): a lean list whose rows carry large text (a
note's body, a task's notes) asks `text_budget` for each row's size and for its large text only
when it is small; the page ends at the budget (one row at least; `next` goes on from it) and
only its own large values are fetched. Lists of bounded rows need nothing: their cap times
`limit` is small.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BigIntegerField, Field, Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from .text import find_unstorable

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Annotation names of text_budget: the running byte count, and the suffix of a withheld column.
# Annotation names of text_budget: a row's bytes of text, and the suffix of a withheld column.
ROW_BYTES = "row_bytes"
IF_SMALL = "__if_small"


def byte_length(connection: BaseDatabaseWrapper, column: str) -> str:
    """SQL for the UTF-8 bytes of a text column, read from its header on PostgreSQL (a TOASTed
    value is not decompressed for it)."""
    if connection.vendor == "postgresql":
        return f"octet_length({column})"
    return f"length(CAST({column} AS BLOB))"


def text_budget(queryset: QuerySet[Any], *, counted: Sequence[str], large: str) -> QuerySet[Any]:
    """Bound a lean (`.values()`) list page by LIST_MAX_BYTES: each row also carries ROW_BYTES
    (the UTF-8 bytes of its `counted` text columns) and `<large>__if_small`, the `large` column
    only when it is small enough that a whole page of such values fits the budget (NULL, never
    read, otherwise). Select those instead of `large` (a NOT NULL text column); the paginator
    ends the page at the budget, fetches the withheld values of the rows it keeps (one more
    query, only when a page holds large ones) and gives the column its name back. Raw SQL on
    purpose: built as ORM expressions their compilation cost more than the query (figures:
    docs/benchmarks.md)."""
    connection = connections[queryset.db]
    table = connection.ops.quote_name(queryset.model._meta.db_table)

    def column(name: str) -> str:
        return f"{table}.{connection.ops.quote_name(queryset.model._meta.get_field(name).column)}"

    size = " + ".join(byte_length(connection, column(name)) for name in counted)
    small = settings.LIST_MAX_BYTES // (MAX_LIMIT + 1)
    # Only quoted model column names go into the SQL; the one value is a parameter.
    return queryset.annotate(
        **{
            ROW_BYTES: RawSQL(size, (), output_field=BigIntegerField()),  # noqa: S611
            large + IF_SMALL: RawSQL(  # noqa: S611
                f"CASE WHEN {byte_length(connection, column(large))} <= %s THEN {column(large)} END",
                (small,),
                output_field=TextField(),
            ),
        }
    )


def _within_budget(rows: list[Any], page_size: int, queryset: QuerySet[Any]) -> tuple[list[Any], bool]:
    """The page's rows, ended at LIST_MAX_BYTES (one row at least) when they carry ROW_BYTES
    (see text_budget), with their withheld values filled in; and whether rows were left over."""
    if not rows or not isinstance(rows[0], dict) or ROW_BYTES not in rows[0]:
        return rows[:page_size], len(rows) > page_size
    page: list[Any] = []
    used = 0
    for row in rows[:page_size]:
        if page and used + row[ROW_BYTES] > settings.LIST_MAX_BYTES:
            break
        used += row.pop(ROW_BYTES)
        page.append(row)
    for key in [key for key in page[0] if key.endswith(IF_SMALL)]:
        name = key.removesuffix(IF_SMALL)
        for row in page:
            row[name] = row.pop(key)
        withheld = [row["id"] for row in page if row[name] is None]
        if withheld:
            found = queryset.model._default_manager.using(queryset.db).filter(pk__in=withheld)
            values = dict(found.values_list("pk", name))
            for row in page:
                if row[name] is None:
                    row[name] = values[row["id"]]
    return page, len(rows) > len(page)


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _value(row: Any, name: str) -> Any:
    """A field of a page's last row: a model instance, or a dict from `.values()` (lean paths)."""
    return row[name] if isinstance(row, dict) else getattr(row, name)


class CursorPagination(pagination.CursorPagination):
    page_size = DEFAULT_LIMIT
    max_page_size = MAX_LIMIT
    page_size_query_param = "limit"
    ordering = ("-created_at", "-id")

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        try:
            value = int(raw) if raw is not None else self.page_size
        except ValueError:
            value = self.page_size
        return max(1, min(value, self.max_page_size))

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> Any:
        return getattr(view, "cursor_ordering", None) or self.ordering

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
        self.page, self.has_next = _within_budget(rows, self.page_size, queryset)
        if self.has_next:
            last = self.page[-1]
            self.next_values = [_plain(_value(last, name.lstrip("-"))) for name in self.ordering]
        return self.page

    def next_cursor(self) -> str | None:
        if self.next_values is None:
            return None
        raw = json.dumps({"o": list(self.ordering), "p": self.next_values}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def get_next_link(self) -> str | None:
        token = self.next_cursor()
        if token is None or self.base_url is None:
            return None
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def get_previous_link(self) -> str | None:
        return None

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"results": data, "next": self.get_next_link(), "next_cursor": self.next_cursor()})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results", "next", "next_cursor"],
            "properties": {
                "results": schema,
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The next page (the same query with `cursor` set); null on the last page.",
                },
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "The `cursor` parameter of the next page, for clients that build "
                    "the request themselves; null on the last page. Keep the other parameters.",
                },
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: the previous page's `next_cursor` (absent for "
                "the first page). Opaque; valid only with the same filters and `ordering`.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Page size (default {DEFAULT_LIMIT}, clamped to {MAX_LIMIT}).",
                "schema": {"type": "integer"},
            },
        ]

    def _after(self, values: list[Any]) -> Q:
        """Rows strictly after `values` in the ordering, spelled out as
        (a < x) OR (a = x AND b < y) OR ... (for descending fields), led by a range on the first
        field so the index can serve it."""
        branches = []
        equal = Q()
        for name, value in zip(self.ordering, values, strict=True):
            field = name.lstrip("-")
            operator = "lt" if name.startswith("-") else "gt"
            branches.append(equal & Q(**{f"{field}__{operator}": value}))
            equal &= Q(**{field: value})
        first = self.ordering[0]
        lead = Q(**{f"{first.lstrip('-')}__{'lte' if first.startswith('-') else 'gte'}": values[0]})
        return lead & reduce(or_, branches)

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
            if find_unstorable(data) is not None:
                raise ValueError("text no query can carry")
            if not isinstance(data, dict) or data.get("o") != list(self.ordering):
                raise ValueError("cursor from another ordering")
            raw_values = data["p"]
            if not isinstance(raw_values, list) or len(raw_values) != len(self.ordering):
                raise ValueError("wrong number of values")
            values = []
            for name, raw in zip(self.ordering, raw_values, strict=True):
                value = self._field(queryset, name.lstrip("-")).to_python(raw)
                if value is None:
                    raise ValueError("null position")
                if isinstance(value, datetime) and timezone.is_naive(value):
                    raise ValueError("naive datetime")
                if isinstance(value, float) and not math.isfinite(value):
                    raise ValueError("not a finite number")
                values.append(value)
        except (
            ValueError,
            TypeError,
            KeyError,
            OverflowError,  # 1e400 is infinity, which no integer field takes
            RecursionError,
            binascii.Error,
            ValidationError,
            UnicodeError,
        ):
            raise NotFound(self.invalid_cursor_message) from None
        return values
