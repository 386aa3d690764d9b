"""Writing an account's archive (format: archive.py, docs/export.md), run by the worker.

The archive is streamed: zipfile writes into `objects.object_writer`, which sends it to S3 in
parts as it grows (one part in memory), and every record is read in pages and written at once.
Nothing holds the whole archive, a whole file or a whole table.

What goes in is one consistent view of the account: on PostgreSQL every read runs in one
REPEATABLE READ, READ ONLY transaction on the primary (a replica could cancel a long query that
conflicts with replay). Only the files' bytes are outside it — objects are immutable, but a file
deleted meanwhile has lost its object: such a file is left out, with its viewer state and the
links to it, as if it had been deleted just before the export. On SQLite (`make run`) there is
no snapshot: a long read transaction there would block every writer.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone

from apps.common import records
from apps.identity import selectors as identity_selectors
from apps.library import objects
from apps.library import portability as library
from apps.notes import portability as notes
from apps.todos import portability as todos

from . import archive as layout
from .models import Job

Checkpoint = Callable[[], None]
# Between two checkpoints: this many records.
RECORDS_PER_CHECKPOINT = 200


@contextlib.contextmanager
def snapshot(using: str) -> Iterator[None]:
    """One consistent view of the database for everything read inside (see the module docstring)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        # SQLite; or already inside a transaction (a test's), whose view is the one there is.
        yield
        return
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _checked(items: Iterator[Any], checkpoint: Checkpoint) -> Iterator[Any]:
    for index, item in enumerate(items, 1):
        if index % RECORDS_PER_CHECKPOINT == 0:
            checkpoint()
        yield item


def export_archive(job: Job, *, checkpoint: Checkpoint) -> tuple[int, dict[str, int]]:
    """Write the archive of `job`'s owner to `job.archive_key`; returns its size and what it
    holds (records per entry)."""
    now = timezone.now()
    with (
        objects.object_writer(
            job.archive_key, content_type=layout.MEDIA_TYPE, part_bytes=settings.EXPORT_PART_BYTES
        ) as sink,
        zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive,
    ):
        writer = layout.ArchiveWriter(archive, now=now)
        with snapshot(router.db_for_write(Job)):
            _write(writer, owner_id=job.owner_id, now=now, checkpoint=checkpoint)
    return sink.size, writer.counts


def _write(
    writer: layout.ArchiveWriter, *, owner_id: uuid.UUID, now: datetime, checkpoint: Checkpoint
) -> None:
    # The bytes first: a file whose object is gone is then left out of everything else.
    gone: set[uuid.UUID] = set()
    for exported in library.file_records(owner_id=owner_id):
        record = exported.record
        chunks = library.file_bytes(exported.storage_key)
        try:
            # Before the entry is opened: once it is, zipfile keeps it, whatever follows.
            first = next(chunks, b"")
        except library.FileGone:
            gone.add(record["id"])
            continue
        writer.binary(
            layout.file_entry(record["id"], record["name"]),
            _checked_chunks(itertools.chain([first], chunks), checkpoint),
            size=record["size"],
            modified=record["created_at"],
        )
    writer.records(layout.FILES, _checked(_files(owner_id, gone), checkpoint))
    writer.records(
        layout.VIEWER_STATES, _checked(library.viewer_state_records(owner_id=owner_id, skip=gone), checkpoint)
    )
    writer.records(layout.KOSYNC, _checked(library.kosync_records(owner_id=owner_id), checkpoint))
    writer.records(layout.NOTES, _checked(_notes(owner_id, gone), checkpoint))
    for note in _checked(_notes(owner_id, gone), checkpoint):
        writer.text(
            layout.markdown_entry(note["id"], note["title"]), markdown(note), modified=note["updated_at"]
        )
    writer.records(layout.REVISIONS, _checked(notes.revision_records(owner_id=owner_id), checkpoint))
    writer.records(layout.LISTS, _checked(todos.tasklist_records(owner_id=owner_id), checkpoint))
    writer.records(layout.TASKS, _checked(todos.task_records(owner_id=owner_id), checkpoint))
    writer.records(layout.COMPLETIONS, _checked(todos.completion_records(owner_id=owner_id), checkpoint))
    writer.text(layout.README, README)
    writer.text(layout.MANIFEST, manifest(owner_id=owner_id, now=now, counts=writer.counts, gone=len(gone)))


def _checked_chunks(chunks: Iterator[bytes], checkpoint: Checkpoint) -> Iterator[bytes]:
    for chunk in chunks:
        checkpoint()
        yield chunk


def _files(owner_id: uuid.UUID, gone: set[uuid.UUID]) -> Iterator[dict[str, Any]]:
    for exported in library.file_records(owner_id=owner_id):
        record = exported.record
        if record["id"] not in gone:
            yield {**record, "path": layout.file_entry(record["id"], record["name"])}


def _notes(owner_id: uuid.UUID, gone: set[uuid.UUID]) -> Iterator[dict[str, Any]]:
    for record in notes.note_records(owner_id=owner_id):
        if gone and any(file_id in gone for file_id in record["files"]):
            record = {**record, "files": [file_id for file_id in record["files"] if file_id not in gone]}
        yield record


def _yaml(value: Any) -> str:
    # JSON is YAML: strings, lists and booleans written as JSON need no YAML quoting rules.
    return json.dumps(value, ensure_ascii=False, default=str)


def markdown(note: dict[str, Any]) -> str:
    """A note as a Markdown file: its fields as YAML front matter, its title as the heading, its
    body as it is (already Markdown)."""
    front = {
        "id": str(note["id"]),
        "title": note["title"],
        "tags": note["tags"],
        "pinned": note["pinned"],
        "archived": note["archived"],
        "created": note["created_at"].isoformat(),
        "updated": note["updated_at"].isoformat(),
    }
    head = "\n".join(f"{key}: {_yaml(value)}" for key, value in front.items())
    title = f"# {note['title']}\n\n" if note["title"] else ""
    return f"---\n{head}\n---\n\n{title}{note['body']}\n"


def manifest(*, owner_id: uuid.UUID, now: datetime, counts: dict[str, int], gone: int) -> str:
    user = identity_selectors.user_get(user_id=owner_id)
    document = {
        "format": layout.FORMAT,
        "version": layout.VERSION,
        "created_at": now,
        "account": {
            "id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "date_joined": user.date_joined,
        },
        "entries": {name: counts[name] for name in layout.RECORD_ENTRIES},
        "files_deleted_during_export": gone,
    }
    return records.dumps(document).decode() + "\n"


README = """# Your ExampleApp account export

This archive holds everything your account keeps: task lists and tasks, notes with their
earlier versions, your library files (the original bytes, as you uploaded them) with their
metadata, and where each device stopped reading or viewing each file. Nothing in it needs
ExampleApp to be read.

- `notes/markdown/` — each note as a Markdown file (title, tags and dates at the top).
- `files/<id>/<name>` — each library file, byte for byte.
- `*.jsonl` — the data itself as JSON Lines (one JSON object per line), the same fields the
  API shows: `tasks/lists.jsonl`, `tasks/tasks.jsonl`, `tasks/completions.jsonl`,
  `notes/notes.jsonl`, `notes/revisions.jsonl`, `files/files.jsonl` (its `path` names the
  file's bytes in this archive), `files/viewer_states.jsonl`, `kosync/progress.jsonl`.
- `manifest.json` — the format (`exampleapp-account-export`, version 1), when it was made, whose
  account it is and how many records each file holds.

Times are UTC (ISO 8601). To move your data into another ExampleApp account, send this file
unchanged to `POST /v1/users/me/import` of that account. The format is described in full in
docs/export.md of the ExampleApp source.
"""
