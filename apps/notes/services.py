"""Writes of the notes app: create (with client-chosen ids), update, soft delete, revisions.

Every change runs in one transaction on the primary, holding the note's row lock: the If-Match
check (`expected_version`) is made under that lock, so two racing writers cannot both pass it.
Each change bumps `version` by one and stamps the changed fields in `field_versions` with the
new version. A change to the title or body first keeps the previous text as a revision.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, router, transaction
from django.db.models import Max, Q
from django.utils import timezone

from apps.common import db, quota
from apps.common.errors import ApplicationError, ErrorCode, IdConflict, NotFound, ValidationFailed
from apps.common.tags import normalize_tags, tag_problems
from apps.common.versioning import require_version
from apps.library import selectors as library_selectors
from apps.sync.feed import ChangeSpec, changes_record, objects_record, owner_write

from .models import (
    DEFAULTS,
    EDITABLE_FIELDS,
    FILES_MAX_COUNT,
    REVISED_FIELDS,
    Note,
    NoteRevision,
)


class NoteTooLarge(ApplicationError):
    status = 413
    code = ErrorCode.NOTE_TOO_LARGE
    title = "Note too large"


def _db() -> str:
    return router.db_for_write(Note)


# --- validation shared by every write path (the API and the sync push) -------------------------


def body_size(body: str) -> int:
    return len(body.encode("utf-8"))


def text_bytes(title: str, body: str) -> int:
    """What a note's (or a revision's) text counts against the storage quota."""
    return body_size(title) + body_size(body)


def _check_quota(owner_id: uuid.UUID, growth: int) -> None:
    """Note text counts towards the one storage quota (apps/common/quota.py; NoteStorage keeps
    the notes' part). Called under the owner's feed lock, before the write."""
    quota.check(user_id=owner_id, adding=growth, what="note")


def check_body_size(body: str) -> None:
    limit = settings.NOTE_BODY_MAX_BYTES
    # A character is 1 to 4 UTF-8 bytes: most bodies are decided without encoding them.
    if len(body) * 4 <= limit:
        return
    size = body_size(body)
    if size > limit:
        message = f"The body is {size} bytes of UTF-8; a note body may have at most {limit}."
        raise NoteTooLarge(message, errors={"body": [message]}, extra={"max_bytes": limit})


@contextmanager
def _indexable() -> Iterator[None]:
    """PostgreSQL refuses a search vector above 1 MB (SQLSTATE 54000). Migration 0002 indexes a
    bounded prefix of the body so this cannot happen; should a pathological text still get
    there, the client gets a 400, not a 500."""
    try:
        yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "54000":
            raise
        message = "The text has too many distinct words to be indexed for search."
        raise ApplicationError(
            message, code=ErrorCode.NOTE_NOT_INDEXABLE, errors={"body": [message]}
        ) from None


def clean_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed({name: ["This field cannot be set."] for name in unknown})
    cleaned = dict(fields)
    if "tags" in cleaned:
        tags = normalize_tags(cleaned["tags"])
        problems = tag_problems(tags)
        if problems:
            raise ValidationFailed({"tags": problems})
        cleaned["tags"] = tags
    if "body" in cleaned:
        check_body_size(cleaned["body"])
    if "files" in cleaned:
        files = sorted({uuid.UUID(str(value)) for value in cleaned["files"]})
        if len(files) > FILES_MAX_COUNT:
            raise ValidationFailed.field("files", f"A note may link at most {FILES_MAX_COUNT} files.")
        cleaned["files"] = files
    return cleaned


def _check_files(owner_id: uuid.UUID, files: list[uuid.UUID]) -> None:
    """Links go to the caller's own live files only; any other id is refused without saying
    whether it exists for someone else."""
    unknown = sorted(set(files) - library_selectors.live_file_ids(owner_id=owner_id, ids=files))
    if unknown:
        raise ValidationFailed({"files": [f"No such file: {file_id}." for file_id in unknown]})


# --- notes -------------------------------------------------------------------------------------


def note_lock(*, note_id: uuid.UUID, owner_id: uuid.UUID) -> Note:
    """The caller's live note, row-locked until the surrounding transaction ends; 404 otherwise
    (also for another user's note: its existence is not revealed)."""
    note = (
        Note.objects.using(_db())
        .select_for_update()
        .filter(id=note_id, owner_id=owner_id, deleted_at__isnull=True)
        .first()
    )
    if note is None:
        raise NotFound("No such note.")
    return note


def _note_with_id(note_id: uuid.UUID) -> Note | None:
    """Whoever owns it, tombstone or not: ids are unique across all notes."""
    return Note.objects.using(_db()).filter(id=note_id).first()


def _replay(existing: Note, *, owner_id: uuid.UUID, values: Mapping[str, Any]) -> Note:
    """A create naming an existing id is a retry only when it is the caller's live note and
    the body would create exactly what is there."""
    if existing.owner_id != owner_id or existing.deleted_at is not None:
        raise IdConflict()
    if any(getattr(existing, name) != value for name, value in values.items()):
        raise IdConflict()
    return existing


def note_create(
    *, owner_id: uuid.UUID, fields: Mapping[str, Any], note_id: uuid.UUID | None = None
) -> tuple[Note, bool]:
    """Create a note, optionally with the client's own id. Returns (note, created): creating the
    same id again with the same fields returns the existing note and False."""
    values = clean_fields({**DEFAULTS, **fields})
    with owner_write(owner_id=owner_id):
        if note_id is not None:
            existing = _note_with_id(note_id)
            if existing is not None:
                return _replay(existing, owner_id=owner_id, values=values), False
        columns = {name: value for name, value in values.items() if name != "files"}
        _check_files(owner_id, values["files"])
        _check_quota(owner_id, text_bytes(values["title"], values["body"]))
        note = Note(
            id=note_id or uuid.uuid4(),
            owner_id=owner_id,
            **columns,
        )
        note.stamp_new()
        try:
            with transaction.atomic(using=_db()), _indexable():
                note.save(using=_db(), force_insert=True)
                if values["files"]:  # a new note has no links yet
                    note.linked_files.set(values["files"])
        except IntegrityError:
            # A concurrent create with the same id committed first: decide as for a retry.
            existing = _note_with_id(note.id)
            if existing is None:
                raise
            return _replay(existing, owner_id=owner_id, values=values), False
        objects_record([note])
    return note, True


def notes_create_new(
    *, owner_id: uuid.UUID, items: Sequence[tuple[uuid.UUID, Mapping[str, Any]]]
) -> list[Note]:
    """Create many new notes with client-chosen ids at once (sync push): one INSERT, one feed
    update. Each item's fields must already be cleaned (`clean_fields`) and link no files, and
    no id may exist yet — the caller checked that under the user's feed lock; a concurrent
    create of the same id raises IntegrityError (the caller then goes one by one). Runs inside
    the caller's `owner_write`. Returns the new notes.

    The columns come from the model (apps/common/db.insert_rows: on PostgreSQL typed arrays to
    one INSERT ... SELECT FROM unnest on a server-binding cursor)."""
    field_versions = dict.fromkeys(EDITABLE_FIELDS, 1)
    notes = [
        Note(
            id=note_id,
            owner_id=owner_id,
            field_versions=dict(field_versions),  # each its own: a later bump changes one note's
            **{name: value for name, value in {**DEFAULTS, **fields}.items() if name != "files"},
        )
        for note_id, fields in items
    ]
    using = _db()
    _check_quota(owner_id, sum(text_bytes(note.title, note.body) for note in notes))
    with transaction.atomic(using=using, savepoint=False), _indexable():
        db.insert_rows(Note, notes, using=using)
    changes_record(owner_id=owner_id, changes=[ChangeSpec(Note.sync_type, note.id, 1) for note in notes])
    return notes


# Columns notes_update_many writes: everything a plain edit can change (not the file links).
_PLAIN_COLUMNS = tuple(name for name in EDITABLE_FIELDS if name != "files")


def notes_update_many(*, owner_id: uuid.UUID, changes: Sequence[tuple[Note, Mapping[str, Any]]]) -> None:
    """Edit many of the owner's notes at once (sync push): each (locked, live) note with its
    changes — cleaned fields among `_PLAIN_COLUMNS` that differ from the stored values, or none.
    The same effect as `_apply` on each in turn: a new version with its fields stamped, the old
    text kept as a revision (pruned to NOTE_REVISIONS_KEPT), the quota checked, feed entries —
    in a handful of statements for the batch. Runs inside the caller's `owner_write`, with the
    rows locked by it; the notes are left at their new versions.

    The quota is checked once for the batch's growth, which is never less than what one edit
    after another would meet (pruning only frees bytes): a batch refused here is retried one by
    one by the caller, which then refuses exactly the edits that do not fit."""
    now = timezone.now()
    changed = [(note, fields) for note, fields in changes if fields]
    revised = [(note, fields) for note, fields in changed if any(name in fields for name in REVISED_FIELDS)]
    if revised:
        _check_quota(
            owner_id,
            sum(
                text_bytes(fields.get("title", note.title), fields.get("body", note.body))
                for note, fields in revised
            ),
        )
        _keep_revisions(
            [
                NoteRevision(
                    note=note,
                    title=note.title,
                    body=note.body,
                    reason=NoteRevision.Reason.EDIT,
                    note_version=note.version,
                )
                for note, _ in revised
            ]
        )
    for note, fields in changed:
        note.bump(fields, now=now)
        for name, value in fields.items():
            setattr(note, name, value)
    notes = [note for note, _ in changed]
    if notes:
        with _indexable():
            db.update_rows(Note, notes, [*_PLAIN_COLUMNS, *Note.bookkeeping], using=_db())
        objects_record(notes)


_PRUNE = """
DELETE FROM notes_noterevision r
USING unnest(%(notes)b::uuid[], %(lowest)b::integer[]) AS k(note_id, lowest)
WHERE r.note_id = k.note_id AND r.number < k.lowest
"""


def _keep_revisions(revisions: Sequence[NoteRevision]) -> None:
    """Save unsaved revisions (each of a different note, whose row lock the caller holds) as
    their notes' newest, numbered on, and prune each note to NOTE_REVISIONS_KEPT: one query for
    the last numbers, one INSERT (ids not read back), one DELETE, however many notes. No size
    check: a note's own previous text is kept even if the cap was lowered since it was written
    (else a note over a new cap could not be edited down)."""
    using = _db()
    last = dict(
        NoteRevision.objects.using(using)
        .filter(note_id__in=[revision.note_id for revision in revisions])
        .values("note_id")
        .annotate(last=Max("number"))
        .values_list("note_id", "last")
    )
    for revision in revisions:
        revision.number = last.get(revision.note_id, 0) + 1
    db.insert_rows(NoteRevision, revisions, using=using)
    # Per note, the lowest number kept; only notes past NOTE_REVISIONS_KEPT lose any.
    lowest = {
        revision.note_id: revision.number - settings.NOTE_REVISIONS_KEPT + 1
        for revision in revisions
        if revision.number > settings.NOTE_REVISIONS_KEPT
    }
    if not lowest:
        return
    if db.is_postgresql(using):
        with db.bound_cursor(using) as cursor:
            cursor.execute(_PRUNE, {"notes": list(lowest), "lowest": list(lowest.values())})
        return
    pruned = Q()
    for note_id, number in lowest.items():
        pruned |= Q(note_id=note_id, number__lt=number)
    NoteRevision.objects.using(using).filter(pruned).delete()


def _apply(note: Note, fields: Mapping[str, Any], *, reason: str) -> Note:
    """Write the fields that differ onto the locked note as one new version."""
    changed = {name: value for name, value in fields.items() if getattr(note, name) != value}
    if not changed:
        return note
    if any(name in changed for name in REVISED_FIELDS):
        # The old text stays (as a revision) and the new one comes in: the note grows by all of
        # the new text (pruning an old revision may free some; not counted in advance).
        _check_quota(
            note.owner_id, text_bytes(changed.get("title", note.title), changed.get("body", note.body))
        )
        _keep_revision(note=note, title=note.title, body=note.body, reason=reason, note_version=note.version)
    bookkeeping = note.bump(changed)
    columns = [name for name in changed if name != "files"]
    for name in columns:
        setattr(note, name, changed[name])
    if "files" in changed:
        _check_files(note.owner_id, changed["files"])
        note.linked_files.set(changed["files"])
    with _indexable():
        note.save(using=_db(), update_fields=[*columns, *bookkeeping])
    objects_record([note])
    return note


def note_update(
    *,
    note_id: uuid.UUID,
    owner_id: uuid.UUID,
    fields: Mapping[str, Any],
    expected_version: int | None = None,
) -> Note:
    """Change the fields given (a PUT gives all of them). Fields equal to the stored value are
    no change: writing nothing new keeps the version."""
    cleaned = clean_fields(fields)
    with owner_write(owner_id=owner_id):
        note = note_lock(note_id=note_id, owner_id=owner_id)
        require_version(note.version, expected_version)
        return _apply(note, cleaned, reason=NoteRevision.Reason.EDIT)


def note_apply(*, note: Note, fields: Mapping[str, Any]) -> Note:
    """note_update for a live note the caller has row-locked inside `owner_write`, with fields
    `clean_fields` has cleaned (a sync push locks, cleans and merges first)."""
    return _apply(note, fields, reason=NoteRevision.Reason.EDIT)


def note_delete(*, note_id: uuid.UUID, owner_id: uuid.UUID, expected_version: int | None = None) -> None:
    """Soft delete: the note becomes a tombstone (a new version with `deleted_at`) until
    `purge_tombstones` removes it after the retention window. The tombstone keeps no text: the
    title, body and revisions go now (nothing reads a tombstone's text, and a deleted note must
    neither count against the quota nor let deleted text pile up uncounted)."""
    with owner_write(owner_id=owner_id):
        note = note_lock(note_id=note_id, owner_id=owner_id)
        require_version(note.version, expected_version)
        columns = note.tombstone()
        note.title = note.body = ""
        note.save(using=_db(), update_fields=[*columns, "title", "body"])
        NoteRevision.objects.using(_db()).filter(note=note).delete()
        objects_record([note])


# --- revisions ---------------------------------------------------------------------------------


def revision_create(
    *, note: Note, title: str, body: str, reason: str, note_version: int | None = None
) -> NoteRevision:
    """Keep a title and body as the note's newest revision and prune to NOTE_REVISIONS_KEPT.

    Call it inside a transaction that holds the note's row lock (`note_lock`): the lock makes
    the numbering race-free. The note itself does not change. Sync uses it to keep the text that
    lost a conflict (reason CONFLICT, note_version None), so no edit is ever lost. The text comes
    from a client, so the size cap and the quota apply."""
    check_body_size(body)
    _check_quota(note.owner_id, text_bytes(title, body))
    return _keep_revision(note=note, title=title, body=body, reason=reason, note_version=note_version)


def _keep_revision(
    *, note: Note, title: str, body: str, reason: str, note_version: int | None
) -> NoteRevision:
    revision = NoteRevision(note=note, title=title, body=body, reason=reason, note_version=note_version)
    _keep_revisions([revision])
    return revision


def revision_restore(
    *, note_id: uuid.UUID, owner_id: uuid.UUID, number: int, expected_version: int | None = None
) -> Note:
    """Bring back a revision's title and body. This is an ordinary change: the current text is
    kept as a revision first, and the note gets a new version (unless the text is already the
    same, which changes nothing)."""
    with owner_write(owner_id=owner_id):
        note = note_lock(note_id=note_id, owner_id=owner_id)
        revision = NoteRevision.objects.using(_db()).filter(note=note, number=number).first()
        if revision is None:
            raise NotFound("No such revision.")
        require_version(note.version, expected_version)
        check_body_size(revision.body)
        return _apply(
            note, {"title": revision.title, "body": revision.body}, reason=NoteRevision.Reason.RESTORE
        )
