"""Seed data for `make bench`, written with COPY (a million-object account takes seconds).

Rows are shaped exactly as the services write them (versions, field_versions, derived due
columns, one feed entry per object with the owner's sequence numbers and the matching counter),
so every endpoint reads them as it would read real data.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connections, transaction
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from apps.identity.models import DeviceSession, User
from apps.notes.models import EDITABLE_FIELDS as NOTE_FIELDS
from apps.sync.models import SyncCounter
from apps.todos.models import LIST_FIELDS, TASK_FIELDS, TaskList

PRIMARY = "default"
NO_DUE = "9999-12-31 00:00:00+00"
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
NOTE_FV = json.dumps(dict.fromkeys(NOTE_FIELDS, 1))
TASK_FV = json.dumps(dict.fromkeys(TASK_FIELDS, 1))
COPY_CHUNK = 50_000


@dataclass
class BenchUser:
    id: uuid.UUID
    session_id: uuid.UUID
    email: str
    last_seq: int = 0
    list_id: uuid.UUID | None = None
    task_ids: list[uuid.UUID] | None = None
    note_ids: list[uuid.UUID] | None = None

    def token(self) -> str:
        """A fresh access token (5 minutes, like the real ones) for this user's session."""
        token = AccessToken()
        token["user_id"] = str(self.id)
        token["sid"] = str(self.session_id)
        return str(token)

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}


def make_user(label: str) -> BenchUser:
    email = f"bench-{label}-{uuid.uuid4().hex[:8]}@example.org"
    user = User.objects.using(PRIMARY).create(email=email, display_name=f"bench {label}")
    user.set_unusable_password()
    user.save(using=PRIMARY, update_fields=["password"])
    now = timezone.now()
    session = DeviceSession.objects.using(PRIMARY).create(
        user=user, device_name="bench", refresh_jti="bench", expires_at=now + timedelta(days=1)
    )
    return BenchUser(id=user.id, session_id=session.id, email=email)


def _stamp(index: int) -> str:
    return (EPOCH + timedelta(seconds=index)).isoformat()


def _position(index: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    value = index
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if value == 0:
            break
    return out.rjust(5, "0") + "i"  # a valid key: [0-9a-z], not ending in 0


def _copy(table: str, columns: str, lines: io.StringIO) -> None:
    with (
        connections[PRIMARY].cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        copy.write(lines.getvalue())


def _flush_changes(owner: uuid.UUID, entries: list[tuple[str, uuid.UUID, int]]) -> None:
    buffer = io.StringIO()
    now = timezone.now().isoformat()
    for kind, object_id, seq in entries:
        buffer.write(f"{owner}\t{kind}\t{object_id}\t{seq}\t1\tf\t{now}\n")
    _copy("sync_change", "owner_id, type, object_id, seq, version, deleted, changed_at", buffer)


def add_notes(user: BenchUser, count: int, *, body: str = "A short note body for the benchmark.") -> None:
    """`count` live notes, each with its feed entry, continuing the user's sequence."""
    ids: list[uuid.UUID] = []
    with transaction.atomic(using=PRIMARY):
        for start in range(0, count, COPY_CHUNK):
            notes = io.StringIO()
            entries = []
            for index in range(start, min(count, start + COPY_CHUNK)):
                note_id = uuid.uuid4()
                ids.append(note_id)
                stamp = _stamp(index)
                tags = '["bench"]' if index % 3 else '["bench", "work"]'
                pinned = "t" if index % 50 == 0 else "f"
                notes.write(
                    f"{note_id}\t1\t{stamp}\t{stamp}\t{user.id}\tnote {index}\t{body}\t{tags}\t"
                    f"{pinned}\tf\t\\N\t{NOTE_FV}\n"
                )
                user.last_seq += 1
                entries.append(("note", note_id, user.last_seq))
            _copy(
                "notes_note",
                "id, version, created_at, updated_at, owner_id, title, body, tags, pinned, archived, "
                "deleted_at, field_versions",
                notes,
            )
            _flush_changes(user.id, entries)
        _save_counter(user)
    user.note_ids = (user.note_ids or []) + ids[:100]


def add_tasks(user: BenchUser, count: int) -> None:
    """`count` live tasks in one list (created first), with dues of both kinds, tags,
    recurrences and sub-tasks, each with its feed entry."""
    ids: list[uuid.UUID] = []
    with transaction.atomic(using=PRIMARY):
        if user.list_id is None:
            tasklist = TaskList.objects.using(PRIMARY).create(
                owner_id=user.id,
                name="Inbox",
                position="i",
                field_versions=dict.fromkeys(LIST_FIELDS, 1),
            )
            user.list_id = tasklist.id
            user.last_seq += 1
            _flush_changes(user.id, [("tasklist", tasklist.id, user.last_seq)])
        tasks = io.StringIO()
        entries = []
        parent: uuid.UUID | None = None
        parent_position = ""
        for index in range(count):
            task_id = uuid.uuid4()
            ids.append(task_id)
            stamp = _stamp(index)
            due_date = due_at = due_offset = due_day = "\\N"
            due_sort = NO_DUE
            if index % 3 == 1:
                day = date(2025, 3, 1) + timedelta(days=index % 90)
                due_date = due_day = day.isoformat()
                due_sort = f"{day.isoformat()} 00:00:00+00"
            elif index % 3 == 2:
                moment = EPOCH + timedelta(hours=index)
                due_at = due_sort = moment.isoformat()
                due_offset = "60"
                due_day = (moment + timedelta(minutes=60)).date().isoformat()
            # A recurrence needs a due (the services refuse one without).
            recurrence = '{"freq": "weekly", "interval": 1}' if index % 7 == 0 and index % 3 else "\\N"
            parent_id = str(parent) if index % 10 == 5 and parent else "\\N"
            if index % 10 == 0:
                parent, parent_position = task_id, _position(index)
            # The default order's keys (Task.set_tree): a sub-task sorts under its parent.
            if parent_id == "\\N":
                tree = f"{_position(index)}\t{task_id}\t"
            else:
                tree = f"{parent_position}\t{parent_id}\t{_position(index)}"
            done = "t" if index % 4 == 0 else "f"
            completed = stamp if done == "t" else "\\N"
            tags = '["bench", "home"]' if index % 2 else "[]"
            tasks.write(
                f"{task_id}\t1\t{stamp}\t{stamp}\t{user.id}\t{user.list_id}\t{parent_id}\t"
                f"task {index}\tsome notes about task {index}\t{done}\t{completed}\t{due_date}\t"
                f"{due_at}\t{due_offset}\t{due_day}\t{due_sort}\t{index % 4}\t{tags}\t"
                f"{_position(index)}\t{recurrence}\t{1 if done == 't' else 0}\t{completed}\t\\N\t"
                f"{TASK_FV}\t{tree}\n"
            )
            user.last_seq += 1
            entries.append(("task", task_id, user.last_seq))
        _copy(
            "todos_task",
            "id, version, created_at, updated_at, owner_id, list_id, parent_id, title, notes, done, "
            "completed_at, due_date, due_at, due_offset, due_day, due_sort, priority, tags, position, "
            "recurrence, completion_count, last_completed_at, deleted_at, field_versions, "
            "tree_position, tree_root, sub_position",
            tasks,
        )
        _flush_changes(user.id, entries)
        _save_counter(user)
    user.task_ids = (user.task_ids or []) + ids[:100]


def _save_counter(user: BenchUser) -> None:
    SyncCounter.objects.using(PRIMARY).update_or_create(
        owner_id=user.id, defaults={"last_seq": user.last_seq, "floor_seq": 0}
    )


def analyze() -> None:
    with connections[PRIMARY].cursor() as cursor:
        for table in ("notes_note", "todos_task", "todos_tasklist", "sync_change", "sync_synccounter"):
            cursor.execute(f"VACUUM ANALYZE {table}")
