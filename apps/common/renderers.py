"""orjson for the hot read paths (lists, details, sync pulls).

The same JSON as DRF's JSONRenderer gives for what these views return: compact, UTF-8, aware
datetimes as ISO 8601 with `Z` for UTC (DRF's format), UUIDs in their canonical form. Anything
orjson does not know (lazy translations, Decimal, ...) goes through DRF's own encoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder()
OPTIONS = orjson.OPT_UTC_Z


class ORJSONRenderer(JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=_fallback.default, option=OPTIONS)
