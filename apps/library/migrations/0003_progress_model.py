"""Stored progress in the progress model (docs/api.md, "Progress").

A PDF's progress was `(page - 1) / page_count` through the REST API and KOReader's
`page / page_count` through kosync; it is now `page / page_count` whichever wrote it. Every
progress is truncated to 4 decimals. So: viewer states, device positions and history entries of
PDFs whose page count is known get their progress again from the page; every other progress,
and KOReader's own records' percentage, is truncated. Positions are left as the clients sent
them. Versions do not move: where a reader is did not change, only how it is counted.

The rounding is a copy of viewer.validation.progress_round as it was written (a migration must
not change with the code it once ran).
"""

import math

from django.db import migrations

BATCH = 1000


def _round(value):
    steps = math.floor(value * 10_000 + 1e-6)
    return min(1.0, max(0.0, steps / 10_000))


def _progress(kind, position, pages, stored):
    page = position.get("page") if isinstance(position, dict) else None
    if kind == "pdf" and isinstance(pages, int) and pages > 0 and isinstance(page, int) and page >= 1:
        return _round(page / pages)
    return None if stored is None else _round(stored)


def _rewrite(model, db, rows, field, value_of):
    """Save `field` = value_of(row) for the rows where it changes, in batches."""
    changed = []
    for row in rows:
        value = value_of(row)
        if value != getattr(row, field):
            setattr(row, field, value)
            changed.append(row)
        if len(changed) >= BATCH:
            model.objects.using(db).bulk_update(changed, [field])
            changed = []
    if changed:
        model.objects.using(db).bulk_update(changed, [field])


def _page_count(metadata):
    return metadata.get("page_count") if isinstance(metadata, dict) else None


def forwards(apps, schema_editor):
    db = schema_editor.connection.alias
    ViewerState = apps.get_model("library", "ViewerState")
    states = ViewerState.objects.using(db).select_related("file")
    _rewrite(
        ViewerState,
        db,
        states.only("id", "kind", "position", "progress", "file__metadata").iterator(chunk_size=BATCH),
        "progress",
        lambda s: _progress(s.kind, s.position, _page_count(s.file.metadata), s.progress),
    )
    for name in ("ViewerDevicePosition", "ViewerStateEntry"):
        model = apps.get_model("library", name)
        rows = model.objects.using(db).select_related("viewer_state__file")
        fields = ("id", "position", "progress", "viewer_state__kind", "viewer_state__file__metadata")
        _rewrite(
            model,
            db,
            rows.only(*fields).iterator(chunk_size=BATCH),
            "progress",
            lambda r: _progress(
                r.viewer_state.kind, r.position, _page_count(r.viewer_state.file.metadata), r.progress
            ),
        )
    KosyncProgress = apps.get_model("library", "KosyncProgress")
    _rewrite(
        KosyncProgress,
        db,
        KosyncProgress.objects.using(db).only("id", "percentage").iterator(chunk_size=BATCH),
        "percentage",
        lambda r: _round(r.percentage),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("library", "0002_kosync_progress"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True),
    ]
