"""Restoring an archive into an account, run by the worker: all of it or nothing.

1. The archive (uploaded to storage by POST /v1/users/me/import) is opened where it lies: on S3
   through ranged reads, never copied whole. Its structure and manifest are checked
   (archive.ArchiveReader; the request did so too, before queueing the job).
2. Every record of every entry is read and validated — the API's own rules for each type, the
   references between records (a task's list, a note's files, a revision's note) — and given a
   new id. Nothing is written yet: a malformed archive fails here, having cost reading only.
3. Each file's bytes are checked against their record (size, SHA-256) and stored as an upload
   would be (inspected from the bytes: 415 for what the library refuses), under new keys.
4. One transaction, holding the user's feed lock, writes every row in batches (records read
   and validated again: the archive stays on storage, nothing large is kept in memory) with its
   feed entry, checks that the account is still empty and within its storage quota, and
   commits. Devices of the account then see everything in their next pull.
Any failure after step 3 began deletes the objects it stored; the transaction leaves no row.
A worker that dies in between leaves objects no row owns, which `cleanup_uploads` deletes
after UPLOAD_STALE_HOURS (and the job is retried).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings

from apps.common import quota
from apps.common.errors import ApplicationError, ErrorCode
from apps.library import objects, storage
from apps.library import portability as library
from apps.notes import portability as notes
from apps.sync.feed import owner_write
from apps.todos import portability as todos

from . import archive as layout
from .errors import InvalidArchive
from .models import Job
from .services import import_check_target

Checkpoint = Callable[[], None]
BATCH = 200
# Names of what an import counts, by entry.
COUNTED = {
    layout.FILES: "files",
    layout.VIEWER_STATES: "viewer_states",
    layout.KOSYNC: "kosync_progress",
    layout.NOTES: "notes",
    layout.REVISIONS: "note_revisions",
    layout.LISTS: "task_lists",
    layout.TASKS: "tasks",
    layout.COMPLETIONS: "task_completions",
}


@contextlib.contextmanager
def located(where: str) -> Iterator[None]:
    """Errors raised inside name `where` (an entry, a line): a record that breaks the API's rules
    is an invalid archive (`invalid_record`); other errors (a file the library refuses, a note
    over its size) keep their code and say where."""
    try:
        yield
    except InvalidArchive as exc:
        exc.errors = exc.errors or {where: [exc.detail]}
        raise
    except ApplicationError as exc:
        errors = {f"{where}.{field}": messages for field, messages in (exc.errors or {}).items()}
        errors = errors or {where: [exc.detail]}
        if exc.code == ErrorCode.VALIDATION_ERROR:
            raise InvalidArchive(
                f"{where}: a record is not valid.", reason="invalid_record", errors=errors
            ) from None
        exc.errors = errors
        exc.detail = f"{where}: {exc.detail}"
        raise


def counted(counts: dict[str, int]) -> dict[str, int]:
    return {COUNTED[name]: counts.get(name, 0) for name in layout.RECORD_ENTRIES}


def open_archive(job: Job) -> contextlib.AbstractContextManager[Any]:
    return objects.open_object(job.archive_key)


def check_upload(key: str, *, size: int) -> None:
    """Open an uploaded archive far enough to refuse what is not an account archive at once:
    its structure and its manifest (the request's part; the worker reads the rest)."""
    with objects.open_object(key) as stream:
        layout.ArchiveReader(stream, size=size)


def import_archive(job: Job, *, checkpoint: Checkpoint) -> dict[str, int]:
    owner_id = job.owner_id
    with open_archive(job) as stream:
        size = job.archive_size if job.archive_size is not None else objects.stored_size(job.archive_key) or 0
        reader = layout.ArchiveReader(stream, size=size)
        import_check_target(owner_id=owner_id)
        ids: dict[str, dict[uuid.UUID, uuid.UUID]] = {}
        files = library.FileImport(ids)
        kinds: dict[str, Any] = {
            layout.FILES: files,
            layout.VIEWER_STATES: library.ViewerStateImport(ids),
            layout.KOSYNC: library.KosyncImport(ids),
            layout.NOTES: (note_import := notes.NoteImport(ids)),
            layout.REVISIONS: notes.RevisionImport(ids),
            layout.LISTS: todos.TaskListImport(ids),
            layout.TASKS: todos.TaskImport(ids),
            layout.COMPLETIONS: todos.CompletionImport(ids),
        }
        paths: dict[uuid.UUID, Any] = {}
        for name, kind in kinds.items():
            for where, record in reader.records(name):
                with located(where):
                    found = kind.check(record)
                if name == layout.FILES:
                    paths[found] = (where, record.get("path"))
                checkpoint()
            with located(name):
                kind.finish()
        # Early, from what the records say (the transaction checks the real figure again).
        quota.check(user_id=owner_id, adding=files.bytes + note_import.bytes, what="import")
        try:
            for file_id, (where, path) in paths.items():
                with located(where), reader.open_file(path) as content:
                    files.store(owner_id=owner_id, file_id=file_id, stream=content)
                checkpoint()
            return counted(_write(reader, kinds, owner_id=owner_id, checkpoint=checkpoint))
        except BaseException:
            storage.delete_quietly(files.stored_keys())
            raise


def _write(
    reader: layout.ArchiveReader, kinds: dict[str, Any], *, owner_id: uuid.UUID, checkpoint: Checkpoint
) -> dict[str, int]:
    counts: dict[str, int] = {}
    with owner_write(owner_id=owner_id):
        import_check_target(owner_id=owner_id)
        for name, kind in kinds.items():
            batch: list[Any] = []
            first = ""
            for where, record in reader.records(name):
                batch.append(record)
                first = first or where
                if len(batch) == BATCH:
                    with located(first):
                        counts[name] = counts.get(name, 0) + kind.write(owner_id=owner_id, batch=batch)
                    batch, first = [], ""
                    checkpoint()
            if batch:
                with located(first):
                    counts[name] = counts.get(name, 0) + kind.write(owner_id=owner_id, batch=batch)
        used = quota.used(user_id=owner_id)
        if used > settings.USER_STORAGE_QUOTA_BYTES:
            raise quota.exceeded(used_bytes=used, what="import")
    return counts
