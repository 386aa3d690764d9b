"""Viewer-state positions: what a valid position is for each kind of file, and how far through
the file it is (the number the regression guard compares).

- EPUB: a Readium Locator, validated against the Readium JSON Schema (a copy of
  specs/readium/locator.schema.strict.json ships in schemas/), plus: `locations.progression`
  is required (Readium's best practice for a reading position), and `href` (fragment dropped,
  percent-decoded) must be a resource of the book (its spine or table of contents).
- PDF: `page` (1..page_count) and optional `zoom`, `scroll_x`, `scroll_y`, `rotation`,
  `totalProgression`.
- Image: optional `zoom`, `pan_x`, `pan_y`, `rotation`.
Unknown keys are kept in a Locator (the Readium model allows extensions) and refused in the
PDF and image positions (ours, so a typo should be reported, not silently stored).

Progress (docs/api.md, "Progress"): one meaning per kind, whichever protocol wrote the position.
- PDF: pages reached, `page / page_count` (the last page is 1.0), from the page alone when the
  page count is known. That is KOReader's own percentage for a paged document
  (`current_page / number_of_pages`), so a REST write and a KOReader push of the same page agree.
- EPUB: the Readium `totalProgression` (how much of the book lies before the position); without
  one, `(spine index + progression) / spine length`.
Stored and answered truncated to PROGRESS_DECIMALS, as KOReader truncates what it sends.
"""

from __future__ import annotations

import json
import math
import posixpath
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jsonschema import Draft7Validator

from apps.common.errors import ValidationFailed

from ..models import FileKind

POSITION_MAX_BYTES = 16 * 1024
ROTATIONS = [0, 90, 180, 270]
# Progress keeps this many decimals, truncated: KOReader's precision (it sends
# floor(p * 10000) / 10000), so its percentages are stored as they came.
PROGRESS_DECIMALS = 4
_PROGRESS_STEPS = 10**PROGRESS_DECIMALS
# A value this close below a step is float noise (1.2 / 3 == 0.39999999999999997), not a
# position before it.
_STEP_NOISE = 1e-6

POSITION_KEYS: dict[str, str] = {FileKind.EPUB: "locator", FileKind.PDF: "pdf", FileKind.IMAGE: "image"}

_ZOOM = {"type": "number", "minimum": 0.01, "maximum": 100, "description": "Scale factor, 1 = 100 %."}
_ROTATION = {"type": "integer", "enum": ROTATIONS, "description": "Clockwise, in degrees."}

PDF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["page"],
    "additionalProperties": False,
    "properties": {
        "page": {"type": "integer", "minimum": 1, "description": "1-based page number."},
        "zoom": _ZOOM,
        "scroll_x": {"type": "number", "description": "Horizontal scroll offset within the page."},
        "scroll_y": {"type": "number", "description": "Vertical scroll offset within the page."},
        "rotation": _ROTATION,
        "totalProgression": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "description": "Pages reached, page / page_count; the server computes progress from "
            "the page and uses this only for a PDF whose page count it does not know.",
        },
    },
}
IMAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "zoom": _ZOOM,
        "pan_x": {"type": "number"},
        "pan_y": {"type": "number"},
        "rotation": _ROTATION,
    },
}


@cache
def locator_schema() -> dict[str, Any]:
    path = Path(__file__).resolve().parents[1] / "schemas" / "locator.schema.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def locator_openapi() -> dict[str, Any]:
    """The Locator schema as an OpenAPI 3.0 schema object (drops the JSON Schema headers)."""
    return {k: v for k, v in locator_schema().items() if k not in ("$schema", "$id")}


@cache
def _validators() -> dict[str, Draft7Validator]:
    return {
        FileKind.EPUB: Draft7Validator(locator_schema()),
        FileKind.PDF: Draft7Validator(PDF_SCHEMA),
        FileKind.IMAGE: Draft7Validator(IMAGE_SCHEMA),
    }


def invalid(errors: dict[str, list[str]]) -> ValidationFailed:
    return ValidationFailed(errors)


def validate_position(kind: str, position: Any, *, metadata: dict[str, Any]) -> dict[str, Any]:
    """The position, checked for a file of `kind` with `metadata`; raises validation_error."""
    key = POSITION_KEYS[kind]
    if not isinstance(position, dict):
        raise invalid({key: ["Must be a JSON object."]})
    if len(json.dumps(position)) > POSITION_MAX_BYTES:
        raise invalid({key: [f"At most {POSITION_MAX_BYTES} bytes of JSON."]})
    errors: dict[str, list[str]] = {}
    for error in sorted(_validators()[kind].iter_errors(position), key=lambda e: list(map(str, e.path))):
        field = ".".join([key, *map(str, error.absolute_path)])
        errors.setdefault(field, []).append(error.message)
    if errors:
        raise invalid(errors)
    if kind == FileKind.EPUB:
        _check_locator(position, metadata)
    elif kind == FileKind.PDF:
        pages = metadata.get("page_count")
        if isinstance(pages, int) and position["page"] > pages:
            raise invalid({"pdf.page": [f"This PDF has {pages} pages."]})
    return position


def _check_locator(locator: dict[str, Any], metadata: dict[str, Any]) -> None:
    locations = locator.get("locations")
    if not isinstance(locations, dict) or "progression" not in locations:
        raise invalid({"locator.locations.progression": ["A reading position needs locations.progression."]})
    if (
        resources(metadata)
        and spine_index(locator["href"], metadata) is None
        and not _in_toc(locator["href"], metadata)
    ):
        raise invalid({"locator.href": ["Not a resource of this book."]})


def _href_path(href: str) -> str | None:
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        return None
    path = posixpath.normpath(unquote(parts.path).lstrip("/")) if parts.path else ""
    return None if not path or path.startswith("..") else path


def _matches(path: str, resource: str) -> bool:
    # Readium toolkits send hrefs from the archive root; some send them relative to the
    # package document's folder: accept both.
    return resource == path or resource.endswith("/" + path)


def resources(metadata: dict[str, Any]) -> list[str]:
    spine = metadata.get("spine")
    return [str(item) for item in spine] if isinstance(spine, list) else []


def spine_index(href: str, metadata: dict[str, Any]) -> int | None:
    path = _href_path(href)
    if path is None:
        return None
    return next((i for i, item in enumerate(resources(metadata)) if _matches(path, item)), None)


def _toc_paths(entries: Any) -> set[str]:
    paths: set[str] = set()
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            if isinstance(entry.get("href"), str):
                paths.add(entry["href"].split("#", 1)[0])
            paths |= _toc_paths(entry.get("children"))
    return paths


def _in_toc(href: str, metadata: dict[str, Any]) -> bool:
    path = _href_path(href)
    return path is not None and any(_matches(path, item) for item in _toc_paths(metadata.get("toc")))


def progress_round(value: float) -> float:
    """`value` truncated to PROGRESS_DECIMALS, within 0..1 (a float whose repr has at most that
    many decimals: 0.29, never 0.2899999999999999)."""
    steps = math.floor(value * _PROGRESS_STEPS + _STEP_NOISE)
    return min(1.0, max(0.0, steps / _PROGRESS_STEPS))


def progress_of(kind: str, position: dict[str, Any], metadata: dict[str, Any]) -> float | None:
    """How far through the file the position is (the module docstring), rounded; None for
    images, or when there is too little information."""
    if kind == FileKind.EPUB:
        locations = position.get("locations") or {}
        total = locations.get("totalProgression")
        if isinstance(total, (int, float)):
            return progress_round(total)
        index = spine_index(position["href"], metadata)
        spine = resources(metadata)
        if index is None or not spine:
            return None
        return progress_round((index + float(locations.get("progression") or 0)) / len(spine))
    if kind == FileKind.PDF:
        pages = metadata.get("page_count")
        if isinstance(pages, int) and pages > 0:
            return progress_round(position["page"] / pages)
        # Only a client that knows the page count can say; it means the same (pages reached).
        total = position.get("totalProgression")
        return progress_round(total) if isinstance(total, (int, float)) else None
    return None


def is_regression(new: float | None, current: float | None) -> bool:
    """Whether `new` is before `current` (both rounded by progress_round, so equal places are
    equal numbers)."""
    return new is not None and current is not None and new < current
