"""Cursor pagination: `{"results": [...], "next": url|null}`, `?limit=` default 50, capped at 200.

Over-large limits are clamped, not refused (DESIGN wire details). Cursor pagination keeps page
cost independent of how deep a client has paged and never repeats or skips rows on inserts.
"""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.response import Response

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


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
        """A view may name its own keyset with `cursor_ordering` (unique, indexed fields)."""
        return getattr(view, "cursor_ordering", None) or super().get_ordering(request, queryset, view)

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
            },
        }
