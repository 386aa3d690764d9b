"""KOReader progress ↔ the library's viewer state.

When the document hash of a KOReader push is one of the user's files (KOReader's partial MD5,
computed for every file), the push becomes that device's viewer-state write, so the position
also reaches every other client. Translation:
- EPUB: KOReader's XPointer `/body/DocFragment[n]/...` names the n-th spine item (1-based), so
  the locator's `href` is that item; `locations.totalProgression` is KOReader's percentage;
  `locations.progression` (within the chapter) is estimated from it (both rounded as progress
  is); the XPointer itself is kept in `locations.xpointer` (the Locator model allows
  extensions) so it can be given back.
- PDF (and other paged formats): `progress` is the page number, and the page alone gives the
  progress (page / page_count: KOReader's percentage means the same, with its float noise);
  the percentage is kept as `totalProgression` only for a PDF whose page count is unknown.
- Images have no reading position in KOReader: nothing to record.
KOReader decides by itself whether to jump, so its writes carry `intent: advance`: a write that
goes backwards is kept as the KOReader device's position without moving the current one, and
a write older than the stored position is ignored here (KOReader's own record keeps it).

The other way (`library_progress`, used by GET): when another client (the web reader, an app)
moved the file's current position after KOReader's last push, KOReader is answered with that
position instead of its own stale record, so it offers to jump there:
- EPUB: `/body/DocFragment[n].0`, n being the 1-based spine index of the locator's `href` (the
  start of that chapter, the form Komga's KOReader endpoint answers with), or the XPointer the
  locator carries.
- PDF: the page number.
`percentage` is the viewer state's progress, which means what KOReader's does and has its
precision (4 decimals, truncated).
The record names the other client as `device`/`device_id` (so KOReader never takes it for its
own). Which is newer is decided on the server's clock, as KOReader's own records are: the time
the current position was recorded against the time of KOReader's last push (same second:
KOReader's record); that time is also the answer's `timestamp`, which KOReader compares with its
last page turn to tell forward from backward.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime

from apps.common.errors import ApplicationError

from .. import selectors as library_selectors
from ..models import FileKind
from . import selectors as viewer_selectors
from . import services
from .validation import progress_of, progress_round, resources, spine_index

logger = logging.getLogger(__name__)

_FRAGMENT = re.compile(r"^/body/DocFragment\[(\d+)\]")
# Viewer-state device ids of KOReader's own writes (record_position).
KOREADER_DEVICE = "koreader:"


def _epub_locator(metadata: dict, progress: str, percentage: float) -> dict | None:
    spine = resources(metadata)
    match = _FRAGMENT.match(progress)
    if not spine or match is None:
        return None
    index = int(match.group(1)) - 1
    if not 0 <= index < len(spine):
        return None
    total = progress_round(percentage)
    # Assumes chapters of equal length: all an XPointer tells without the rendered book.
    within = progress_round(total * len(spine) - index)
    return {
        "href": spine[index],
        "type": "application/xhtml+xml",
        "locations": {"progression": within, "totalProgression": total, "xpointer": progress},
    }


def _pdf_position(metadata: dict, progress: str, percentage: float) -> dict | None:
    if not progress.isdigit():
        return None
    page = int(progress)
    pages = metadata.get("page_count")
    if page < 1 or (isinstance(pages, int) and page > pages):
        return None
    if isinstance(pages, int) and pages > 0:
        return {"page": page}
    return {"page": page, "totalProgression": progress_round(percentage)}


def record_position(
    *,
    owner_id: uuid.UUID,
    document: str,
    progress: str,
    percentage: float,
    device: str,
    device_id: str,
    when: datetime,
) -> float | None:
    """Write the KOReader position into the matching file's viewer state. Answers the
    progress the library gives that position (KOReader's record keeps it as its percentage),
    also when the viewer state refused the write; None when no file matches or the position
    cannot be expressed (KOReader's own record is kept either way)."""
    file = library_selectors.file_by_koreader_hash(owner_id=owner_id, document=document)
    if file is None:
        return None
    if file.kind == FileKind.EPUB:
        position, key = _epub_locator(file.metadata, progress, percentage), "locator"
    elif file.kind == FileKind.PDF:
        position, key = _pdf_position(file.metadata, progress, percentage), "pdf"
    else:
        return None
    if position is None:
        return None
    library = progress_of(file.kind, position, file.metadata)
    try:
        services.viewer_state_put(
            owner_id=owner_id,
            file_id=file.id,
            device_id=f"{KOREADER_DEVICE}{device_id or device}"[:100],
            device_name=device[:100],
            modified=when,
            intent="advance",
            position_key=key,
            position=position,
        )
    except ApplicationError as exc:  # stale or invalid for this book: KOReader's record stands
        logger.info("kosync position not applied to viewer state of %s: %s", file.id, exc.code)
    return library


def _kosync_progress(kind: str, metadata: dict, position: dict) -> str | None:
    if kind == FileKind.PDF:
        page = position.get("page")
        return str(page) if isinstance(page, int) and page >= 1 else None
    locations = position.get("locations")
    xpointer = locations.get("xpointer") if isinstance(locations, dict) else None
    if isinstance(xpointer, str) and _FRAGMENT.match(xpointer):
        return xpointer
    href = position.get("href")
    index = spine_index(href, metadata) if isinstance(href, str) else None
    return None if index is None else f"/body/DocFragment[{index + 1}].0"


def library_progress(*, owner_id: uuid.UUID, document: str, after: int | None) -> dict | None:
    """The matching file's current position as a KOReader progress record (see the module
    docstring), when a client other than KOReader set it later than `after` (the Unix second of
    KOReader's last push; None: KOReader never pushed). None otherwise: KOReader's own record
    stands."""
    file = library_selectors.file_by_koreader_hash(owner_id=owner_id, document=document)
    if file is None or file.kind not in (FileKind.EPUB, FileKind.PDF):
        return None
    found = viewer_selectors.current_viewer_state(file=file)
    if found is None:
        return None
    state, recorded_at = found
    if state.device_id.startswith(KOREADER_DEVICE) or state.progress is None:
        return None
    # Server clock on both sides (KOReader's record has the server's Unix second of its push).
    set_at = int(recorded_at.timestamp())
    if after is not None and set_at <= after:
        return None
    progress = _kosync_progress(file.kind, file.metadata, state.position)
    if progress is None:
        return None
    return {
        "percentage": progress_round(state.progress),
        "progress": progress,
        "device": state.device_name or state.device_id,
        "device_id": state.device_id,
        "timestamp": set_at,
    }
