"""JSON request bodies: parsed once, safely, and refused cleanly when hostile.

Every JSON body of the API (and KOReader's, through `loads`) goes through here, so no view,
serializer or service meets:
- a body nested deeper than JSON_MAX_DEPTH (400 `json_too_deep`). The parser itself never
  recurses in Python: orjson stops at its own limit (1024) without recursion, and the fallback
  below turns RecursionError into the same answer; the limit is then checked by a loop. Code
  that walks values recursively (JSON Schema validation, `json.dumps`) is thereby safe too.
- malformed JSON, numbers that overflow a double (`1e400`, a 5,000-digit integer) and the
  NaN/Infinity tokens (400 `parse_error`, with a message that names no Python internals);
- text PostgreSQL cannot store (apps/common/text.py): 400 `invalid_text` with the field's path.
  The sync push checks text op by op instead (`ItemwiseTextJSONParser`), so one poisoned op is
  rejected alone and the rest of the batch applies.

orjson refuses `"\\ud800"` (a lone surrogate escape) as malformed. It is well-formed JSON that
a JavaScript client produces from a string it got from, say, an EPUB title, so such bodies are
decoded again by the json module, which keeps the surrogate and lets the text check name it.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.parsers import BaseParser

from .errors import ApplicationError, ErrorCode
from .text import UNSTORABLE_MESSAGE, find_unstorable


class InvalidJSON(ApplicationError):
    code = ErrorCode.PARSE_ERROR  # DRF's code for a malformed body, documented since the first release


class JSONTooDeep(ApplicationError):
    code = ErrorCode.JSON_TOO_DEEP


class UnstorableText(ApplicationError):
    code = ErrorCode.INVALID_TEXT


def _too_deep() -> JSONTooDeep:
    limit = settings.JSON_MAX_DEPTH
    return JSONTooDeep(
        f"The body nests arrays and objects more than {limit} levels deep.", extra={"max_depth": limit}
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _decode(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)  # refuses NaN/Infinity and numbers that overflow a double
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
        if "depth limit" in reason:
            raise _too_deep() from None
        if "surrogate" not in reason:
            if "infinity" in reason:
                raise InvalidJSON("The body has a number too large to represent.") from None
            raise InvalidJSON(f"The body is not valid JSON: {reason}.") from None
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise _too_deep() from None
    except json.JSONDecodeError as exc:
        raise InvalidJSON(f"The body is not valid JSON: {exc.msg} at line {exc.lineno}.") from None
    except ValueError:  # an integer with more digits than Python converts, a NaN token
        raise InvalidJSON("The body has a number too large to represent.") from None
    if _has_infinity(value):  # the json module reads `1e400` as infinity, which nothing stores
        raise InvalidJSON("The body has a number too large to represent.")
    return value


def _has_infinity(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            return True
    return False


def _check_depth(value: Any, max_depth: int) -> None:
    """Arrays and objects at most `max_depth` deep; a loop over the containers only."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is not dict and kind is not list:
            continue
        if depth > max_depth:
            raise _too_deep()
        for child in item.values() if kind is dict else item:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))


def loads(raw: bytes, *, check_text: bool = True) -> Any:
    """Decode a JSON document with the rules above; raises an ApplicationError (400)."""
    value = _decode(raw)
    _check_depth(value, settings.JSON_MAX_DEPTH)
    if check_text:
        path = find_unstorable(value)
        if path is not None:
            raise UnstorableText(
                "The request has text that cannot be stored.", errors={path: [UNSTORABLE_MESSAGE]}
            )
    return value


def read_body(stream: Any) -> bytes:
    """The whole body, refusing more than DATA_UPLOAD_MAX_MEMORY_SIZE (413) without reading
    further than one byte past it."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = stream.read(limit + 1) if limit is not None else stream.read()
    if limit is not None and len(raw) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return bytes(raw)


class JSONParser(BaseParser):
    """The API's JSON parser (DEFAULT_PARSER_CLASSES)."""

    media_type = "application/json"
    check_text = True

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        if stream is None:
            return None
        return loads(read_body(stream), check_text=self.check_text)


class ItemwiseTextJSONParser(JSONParser):
    """For bodies whose items are applied one by one (the sync push): the view checks each
    item's text and refuses only the item."""

    check_text = False
