"""Filter backends shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request


class OnlyWhenAskedFilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend that skips building and validating the filterset's form when the
    request names none of its filters. Only for filtersets whose filters all act solely when
    their parameter is given (no defaults, no `filter_queryset` override): for those, an
    unfiltered request gets exactly the queryset it would have got, sooner (figures:
    docs/benchmarks.md)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not any(
            name in request.query_params for name in filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)
