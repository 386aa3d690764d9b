"""OpenAPI pieces shared by every app: the problem+json error shape."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

Problem = inline_serializer(
    name="Problem",
    fields={
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        ),
    },
)

_problem = OpenApiResponse(response=Problem, description="problem+json error")

PROBLEM_RESPONSES = {
    400: _problem,
    401: _problem,
    403: _problem,
    404: _problem,
    409: _problem,
    412: _problem,
    429: _problem,
}


def drop_trailing_slash_aliases(endpoints: list[tuple]) -> list[tuple]:
    """drf-spectacular preprocessing hook: canonical paths have no trailing slash; routes that
    also accept one (KOReader's protocol does) are documented once, without it."""
    return [endpoint for endpoint in endpoints if not endpoint[0].endswith("/")]
