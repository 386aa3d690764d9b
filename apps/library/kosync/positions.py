"""KOReader progress → the library's viewer state.

When the document hash of a KOReader push is one of the user's files (KOReader's partial MD5,
computed for every file), the push becomes that device's viewer-state write, so the position
also reaches every other client. Translation:
- EPUB: KOReader's XPointer `/body/DocFragment[n]/...` names the n-th spine item (1-based), so
  the locator's `href` is that item; `locations.totalProgression` is KOReader's percentage;
  `locations.progression` (within the chapter) is estimated from it; the XPointer itself is
  kept in `locations.xpointer` (the Locator model allows extensions) so it can be given back.
- PDF (and other paged formats): `progress` is the page number.
- Images have no reading position in KOReader: nothing to record.
KOReader decides by itself whether to jump, so its writes carry `intent: advance`: a write that
goes backwards is kept as the KOReader device's position without moving the current one, and
a write older than the stored position is ignored here (KOReader's own record keeps it).
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime

from apps.common.errors import ApplicationError

from .. import selectors as library_selectors
from .. import services as library_services
from ..models import FileKind
from ..viewer import resources

logger = logging.getLogger(__name__)

_FRAGMENT = re.compile(r"^/body/DocFragment\[(\d+)\]")


def _epub_locator(metadata: dict, progress: str, percentage: float) -> dict | None:
    spine = resources(metadata)
    match = _FRAGMENT.match(progress)
    if not spine or match is None:
        return None
    index = int(match.group(1)) - 1
    if not 0 <= index < len(spine):
        return None
    within = min(1.0, max(0.0, percentage * len(spine) - index))
    return {
        "href": spine[index],
        "type": "application/xhtml+xml",
        "locations": {"progression": within, "totalProgression": percentage, "xpointer": progress},
    }


def _pdf_position(metadata: dict, progress: str, percentage: float) -> dict | None:
    if not progress.isdigit():
        return None
    page = int(progress)
    pages = metadata.get("page_count")
    if page < 1 or (isinstance(pages, int) and page > pages):
        return None
    return {"page": page, "totalProgression": percentage}


def record_position(
    *,
    owner_id: uuid.UUID,
    document: str,
    progress: str,
    percentage: float,
    device: str,
    device_id: str,
    when: datetime,
) -> bool:
    """Write the KOReader position into the matching file's viewer state; False when no file
    matches or the position cannot be expressed (KOReader's own record is kept either way)."""
    file = library_selectors.file_by_koreader_hash(owner_id=owner_id, document=document)
    if file is None:
        return False
    if file.kind == FileKind.EPUB:
        position, key = _epub_locator(file.metadata, progress, percentage), "locator"
    elif file.kind == FileKind.PDF:
        position, key = _pdf_position(file.metadata, progress, percentage), "pdf"
    else:
        return False
    if position is None:
        return False
    try:
        library_services.viewer_state_put(
            owner_id=owner_id,
            file_id=file.id,
            device_id=f"koreader:{device_id or device}"[:100],
            device_name=device[:100],
            modified=when,
            intent="advance",
            position_key=key,
            position=position,
        )
    except ApplicationError as exc:  # stale or invalid for this book: KOReader's record stands
        logger.info("kosync position not applied to viewer state of %s: %s", file.id, exc.code)
        return False
    return True
