"""Keyset pagination on (field, id) for collections that offer several orderings.

The shared CursorPagination (DRF's) keys its cursor on the first ordering field alone and skips
ties with an offset: fine for nearly unique timestamps, slow and fragile for `priority` (four
values) or `due` (many tasks have none). Here the cursor carries the last row's (field, id) and
the next page starts strictly after it, so every page costs one indexed range scan however deep
the client is, and rows are neither repeated nor skipped when others are inserted.

Same wire shape as the shared paginator: `{"results": [...], "next": url|null}`, `?limit=`
(default 50, clamped at 200), `?cursor=` opaque. A cursor is bound to the ordering it was made
for; a malformed or mismatched cursor is answered like DRF's: 404 "Invalid cursor".
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field, Model, Q, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from apps.common.pagination import CursorPagination


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


class KeysetPagination(CursorPagination):
    """Forward-only keyset pagination. Views set `cursor_ordering` to ("[-]field", "[-]id")."""

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        assert isinstance(queryset, QuerySet)
        self.request = request
        self.page_size = self.get_page_size(request)
        self._url = request.build_absolute_uri()
        self.ordering = tuple(self.get_ordering(request, queryset, view))
        queryset = queryset.order_by(*self.ordering)
        after = self._decode(request, queryset.model)
        if after is not None:
            queryset = queryset.filter(self._after(after))
        rows = list(queryset[: self.page_size + 1])
        self._rows = rows[: self.page_size]
        self.has_next = len(rows) > self.page_size
        return self._rows

    def _after(self, values: list[Any]) -> Q:
        """Rows strictly after `values` in the keyset order: (a, b) > (x, y) spelled out as
        a >= x AND (a > x OR b > y) so the leading range can use the index."""
        condition = Q()
        equal = Q()
        for name, value in zip(self.ordering, values, strict=True):
            field = name.lstrip("-")
            op = "lt" if name.startswith("-") else "gt"
            condition |= equal & Q(**{f"{field}__{op}": value})
            equal &= Q(**{field: value})
        first = self.ordering[0]
        lead = Q(**{f"{first.lstrip('-')}__{'lte' if first.startswith('-') else 'gte'}": values[0]})
        return lead & condition

    def _token(self) -> str:
        return ",".join(self.ordering)

    def _decode(self, request: Request, model: type[Model]) -> list[Any] | None:
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(raw.encode("ascii") + b"=" * (-len(raw) % 4)))
            if payload.get("o") != self._token() or len(payload.get("k", [])) != len(self.ordering):
                raise ValueError("cursor of another ordering")
            return [
                cast(Field, model._meta.get_field(name.lstrip("-"))).to_python(value)
                for name, value in zip(self.ordering, payload["k"], strict=True)
            ]
        except (ValueError, TypeError, AttributeError, UnicodeError, binascii.Error, DjangoValidationError):
            raise NotFound(self.invalid_cursor_message) from None

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        last = self._rows[-1]
        values = [_plain(getattr(last, name.lstrip("-"))) for name in self.ordering]
        payload = json.dumps({"o": self._token(), "k": values}, separators=(",", ":"))
        encoded = base64.urlsafe_b64encode(payload.encode()).decode("ascii").rstrip("=")
        return replace_query_param(self._url, self.cursor_query_param, encoded)
