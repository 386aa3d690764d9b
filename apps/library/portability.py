"""The library's part of an account archive (docs/export.md): file metadata and bytes, viewer
states, KOReader's progress records — out (records) and back in (an import into another
account).

Export: `file_records` yields each live file's record (its API representation without the
viewer-state figures, plus `field_versions`) with the key of its bytes; `file_bytes` streams
those bytes (a file deleted while the export runs is gone: `FileGone`). `viewer_state_records`
yields the viewer-state resource of each live file that has one (as GET …/viewer-state answers
it, plus its bookkeeping); `kosync_records` KOReader's own records.

Import (two passes, see apps/todos/portability.py for the protocol), with one step between them
for files: `FileImport.store` takes a file's bytes from the archive, checks them against the
record (size, SHA-256) and treats them as an upload — the same inspection (type from the
bytes, safety checks, metadata, KOReader hash; 415 otherwise) and the same storage under a new
key — before any database row is written. Kind, type, metadata, status and KOReader hash are
what the inspection finds, not what the record says. `stored_keys` names every object stored
so far, so the importer can delete them if the import fails.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files import File as DjangoFile
from django.db import router
from rest_framework import serializers

from apps.common import db, records
from apps.common.errors import ValidationFailed
from apps.common.fields import StrictBooleanField, StrictCharField, StrictUUIDField
from apps.common.tags import TagsField
from apps.sync.feed import objects_record

from . import objects, storage
from .api.serializers import NAME_INPUT_MAX
from .inspection import Inspection, inspect_file
from .kosync import protocol
from .models import (
    DEVICE_ID_MAX_LENGTH,
    EDITABLE_FIELDS,
    File,
    FileKind,
    Intent,
    KosyncProgress,
    Upload,
    ViewerDevicePosition,
    ViewerState,
    ViewerStateEntry,
)
from .naming import EXTENSIONS, sanitize_name
from .selectors import UPLOAD_OPEN_STATUSES
from .viewer import selectors as viewer_selectors
from .viewer import validation as viewer
from .viewer.services import DEVICES_KEPT

PAGE = 500
CHUNK_BYTES = 8 * 1024 * 1024
FILE_RECORD = (
    "id",
    "name",
    "kind",
    "content_type",
    "size",
    "sha256",
    "koreader_hash",
    "metadata",
    "status",
    "tags",
    "field_versions",
    "version",
    "created_at",
    "updated_at",
)


def _write_db() -> str:
    return router.db_for_write(File)


def _pages(queryset: Any) -> Iterator[list[Any]]:
    """`queryset` (ordered by id) a page at a time, by keyset (no server-side cursor)."""
    after: Any = None
    while True:
        page = list((queryset if after is None else queryset.filter(id__gt=after))[:PAGE])
        if page:
            yield page
        if len(page) < PAGE:
            return
        after = page[-1]["id"] if isinstance(page[-1], dict) else page[-1].id


# --- export ------------------------------------------------------------------------------------


def holds_data(*, owner_id: uuid.UUID) -> bool:
    """Whether the owner has any live file, direct upload in progress or KOReader record (an
    import goes into an empty account)."""
    using = _write_db()
    return (
        File.objects.using(using).filter(owner_id=owner_id, deleted_at__isnull=True).exists()
        or Upload.objects.using(using).filter(owner_id=owner_id, status__in=UPLOAD_OPEN_STATUSES).exists()
        or KosyncProgress.objects.using(using).filter(owner_id=owner_id).exists()
    )


@dataclass(frozen=True)
class ExportedFile:
    record: dict[str, Any]
    storage_key: str


class FileGone(Exception):
    """The file's bytes are no longer stored (it was deleted after the export's snapshot)."""


def file_records(*, owner_id: uuid.UUID) -> Iterator[ExportedFile]:
    live = File.objects.filter(owner_id=owner_id, deleted_at__isnull=True).order_by("id")
    for page in _pages(live.values(*FILE_RECORD, "storage_key")):
        for row in page:
            yield ExportedFile({key: row[key] for key in FILE_RECORD}, row["storage_key"])


def file_bytes(storage_key: str) -> Iterator[bytes]:
    """The stored bytes of a file, in chunks of CHUNK_BYTES; FileGone when they are not there."""
    if not storage.is_s3():
        try:
            stream = storage.open_local(storage_key)
        except FileNotFoundError:
            raise FileGone(storage_key) from None
        with stream:
            while chunk := stream.read(CHUNK_BYTES):
                yield chunk
        return
    head = objects.object_head(storage_key)
    if head is None:
        raise FileGone(storage_key)
    try:
        yield from objects.iter_object(storage_key, etag=head.etag, chunk_bytes=CHUNK_BYTES)
    except ClientError as exc:
        if storage.error_code(exc) in ("NoSuchKey", "404", "PreconditionFailed", "412"):
            raise FileGone(storage_key) from None
        raise


def viewer_state_records(*, owner_id: uuid.UUID, skip: Iterable[uuid.UUID] = ()) -> Iterator[dict[str, Any]]:
    """The viewer state of every live file (but those in `skip`), with its devices and history:
    three queries a page."""
    skipped = set(skip)
    kept = settings.VIEWER_STATE_HISTORY_KEPT
    states = (
        ViewerState.objects.filter(owner_id=owner_id, deleted_at__isnull=True, file__deleted_at__isnull=True)
        .order_by("id")
        .prefetch_related("devices", "history")
    )
    for page in _pages(states):
        for state in page:
            if state.file_id in skipped:
                continue
            devices = sorted(state.devices.all(), key=lambda d: (d.recorded_at, d.id), reverse=True)
            history = sorted(state.history.all(), key=lambda h: h.version, reverse=True)[:kept]
            document = viewer_selectors.document_of(state, devices=devices, history=history)
            yield {**document, "field_versions": state.field_versions, "created_at": state.created_at}


def kosync_records(*, owner_id: uuid.UUID) -> Iterator[dict[str, Any]]:
    columns = ("document", "progress", "percentage", "device", "device_id", "timestamp")
    rows = KosyncProgress.objects.filter(owner_id=owner_id).order_by("id").values("id", *columns)
    for page in _pages(rows):
        for row in page:
            yield {key: row[key] for key in columns}


# --- import: files -----------------------------------------------------------------------------


class FileRecord(records.SyncedRecord):
    editable_fields = EDITABLE_FIELDS

    name = StrictCharField(max_length=NAME_INPUT_MAX)
    tags = TagsField()
    size = serializers.IntegerField(min_value=1)
    sha256 = serializers.RegexField(r"^[0-9a-f]{64}$")

    def validate_size(self, value: int) -> int:
        if value > settings.FILE_UPLOAD_MAX_BYTES:
            raise serializers.ValidationError(f"Files may be at most {settings.FILE_UPLOAD_MAX_BYTES} bytes.")
        return value


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class _Expected:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class _Stored:
    key: str
    name: str
    inspection: Inspection


class FileImport:
    """Files; `ids["file"]` maps archive ids to new ones, `bytes` is their total size."""

    def __init__(self, ids: dict[str, dict[uuid.UUID, uuid.UUID]]) -> None:
        self.ids = ids.setdefault("file", {})
        self.expected: dict[uuid.UUID, _Expected] = {}
        self.stored: dict[uuid.UUID, _Stored] = {}
        self.digests: set[str] = set()
        self.bytes = 0

    def check(self, record: Any) -> uuid.UUID:
        """Validate a file's record; returns its archive id."""
        values = records.validated(FileRecord, record)
        if values["id"] in self.ids:
            raise ValidationFailed.field("id", "Another record has this id.")
        if values["sha256"] in self.digests:
            raise ValidationFailed.field("sha256", "Another file of the archive has the same bytes.")
        self.digests.add(values["sha256"])
        self.ids[values["id"]] = uuid.uuid4()
        self.expected[values["id"]] = _Expected(values["name"], values["size"], values["sha256"])
        self.bytes += values["size"]
        return values["id"]

    def finish(self) -> None:
        self.digests.clear()

    def store(self, *, owner_id: uuid.UUID, file_id: uuid.UUID, stream: Readable) -> None:
        """Take the bytes of the file `file_id` of the archive from `stream` and store them as
        an upload would be (see the module docstring). Raises ValidationFailed when they are
        not what the record says, UnsupportedFileType when they are no acceptable file."""
        expected = self.expected[file_id]
        with tempfile.NamedTemporaryFile(prefix="import-", dir=settings.FILE_UPLOAD_TEMP_DIR) as spool:
            digest, size = hashlib.sha256(), 0
            while chunk := stream.read(CHUNK_BYTES):
                size += len(chunk)
                if size > expected.size:
                    break
                digest.update(chunk)
                spool.write(chunk)
            if size != expected.size:
                raise ValidationFailed.field("size", "The file's bytes in the archive are not this size.")
            if digest.hexdigest() != expected.sha256:
                raise ValidationFailed.field(
                    "sha256", "The file's bytes in the archive have another SHA-256."
                )
            spool.flush()
            spool.seek(0)
            inspection = inspect_file(spool)
            content_type = inspection.detected.content_type
            name = sanitize_name(expected.name, default_extension=EXTENSIONS[content_type])
            spool.seek(0)
            key = storage.save(
                storage.new_key(owner_id), DjangoFile(spool, name=name), content_type=content_type
            )
        self.stored[file_id] = _Stored(key, name, inspection)

    def stored_keys(self) -> list[str]:
        return [stored.key for stored in self.stored.values()]

    def write(self, *, owner_id: uuid.UUID, batch: list[Any]) -> int:
        files = []
        for record in batch:
            values = records.validated(FileRecord, record)
            stored = self.stored[values["id"]]
            inspection = stored.inspection
            file = File(
                id=self.ids[values["id"]],
                owner_id=owner_id,
                name=stored.name,
                kind=inspection.detected.kind,
                content_type=inspection.detected.content_type,
                size=values["size"],
                sha256=values["sha256"],
                koreader_hash=inspection.koreader_hash,
                storage_key=stored.key,
                metadata=inspection.metadata,
                status=File.Status.METADATA_FAILED if inspection.metadata_error else File.Status.READY,
                tags=values["tags"],
            )
            files.append(records.stamp(file, values))
        db.insert_rows(File, files, using=_write_db(), as_given=True)
        objects_record(files)
        return len(files)


# --- import: viewer states ---------------------------------------------------------------------


class DeviceRecord(serializers.Serializer):
    id = StrictCharField(max_length=DEVICE_ID_MAX_LENGTH)
    name = StrictCharField(
        max_length=DEVICE_ID_MAX_LENGTH, allow_blank=True, trim_whitespace=False, default=""
    )


class PositionRecord(serializers.Serializer):
    """A position as the viewer-state resource shows it. `progress` is not read: the server
    computes it from the position and the file, as on every write."""

    device = DeviceRecord()
    modified = serializers.DateTimeField()
    intent = serializers.ChoiceField(choices=Intent.choices)
    locator = serializers.JSONField(required=False)
    pdf = serializers.JSONField(required=False)
    image = serializers.JSONField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [key for key in viewer.POSITION_KEYS.values() if key in attrs]
        if len(given) != 1:
            raise serializers.ValidationError({"non_field_errors": ["Exactly one of locator, pdf or image."]})
        attrs["position_key"] = given[0]
        attrs["position"] = attrs.pop(given[0])
        return attrs


class DevicePositionRecord(PositionRecord):
    recorded_at = serializers.DateTimeField()


class HistoryRecord(DevicePositionRecord):
    version = serializers.IntegerField(min_value=1, max_value=records.MAX_VERSION)
    applied = StrictBooleanField()
    reason = serializers.ChoiceField(
        choices=ViewerStateEntry.Reason.choices, allow_null=True, allow_blank=True, required=False
    )


class ViewerStateRecord(records.StampedRecord):
    editable_fields = ViewerState.editable_fields

    file = StrictUUIDField()
    kind = serializers.ChoiceField(choices=FileKind.choices)
    current = PositionRecord()
    devices = DevicePositionRecord(many=True)
    history = HistoryRecord(many=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        kind = attrs["kind"]
        for where, position in self._positions(attrs):
            # The shape only (no book to compare an EPUB's href with: the file's metadata is
            # what its bytes say, checked when the state is written).
            self._check(where, kind, position, metadata={})
        devices = [device["device"]["id"] for device in attrs["devices"]]
        if len(set(devices)) != len(devices):
            raise serializers.ValidationError({"devices": ["A device is listed twice."]})
        return attrs

    @staticmethod
    def _positions(attrs: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        yield "current", attrs["current"]
        for index, device in enumerate(attrs["devices"]):
            yield f"devices.{index}", device
        for index, entry in enumerate(attrs["history"]):
            yield f"history.{index}", entry

    @staticmethod
    def _check(where: str, kind: str, position: dict[str, Any], *, metadata: dict[str, Any]) -> float | None:
        """The position's progress in a file of `kind` with `metadata`; a validation error
        (naming `where`) when it is no position of such a file."""
        if position["position_key"] != viewer.POSITION_KEYS[kind]:
            raise ValidationFailed.field(where, f"A {kind}'s position is `{viewer.POSITION_KEYS[kind]}`.")
        try:
            checked = viewer.validate_position(kind, position["position"], metadata=metadata)
        except ValidationFailed as exc:
            raise ValidationFailed(
                {f"{where}.{field}": messages for field, messages in (exc.errors or {}).items()}
            ) from None
        return viewer.progress_of(kind, checked, metadata)


class ViewerStateImport:
    """Viewer states of the archive's files, one per file, with their devices (at most
    DEVICES_KEPT) and history (at most VIEWER_STATE_HISTORY_KEPT, the newest)."""

    def __init__(self, ids: dict[str, dict[uuid.UUID, uuid.UUID]]) -> None:
        self.files = ids.setdefault("file", {})
        self.seen: set[uuid.UUID] = set()

    def check(self, record: Any) -> None:
        values = records.validated(ViewerStateRecord, record)
        if values["file"] not in self.files:
            raise ValidationFailed.field("file", "No file of the archive has this id.")
        if values["file"] in self.seen:
            raise ValidationFailed.field("file", "The file has another viewer state.")
        self.seen.add(values["file"])

    def finish(self) -> None:
        self.seen.clear()

    def write(self, *, owner_id: uuid.UUID, batch: list[Any]) -> int:
        using = _write_db()
        checked = [records.validated(ViewerStateRecord, record) for record in batch]
        files = {
            file.id: file
            for file in File.objects.using(using)
            .filter(id__in=[self.files[values["file"]] for values in checked])
            .only("id", "kind", "metadata")
        }
        states: list[ViewerState] = []
        devices: list[ViewerDevicePosition] = []
        history: list[ViewerStateEntry] = []
        for values in checked:
            file = files[self.files[values["file"]]]
            if values["kind"] != file.kind:
                raise ValidationFailed.field("kind", f"The file's bytes are a {file.kind}.")
            current = values["current"]
            state = ViewerState(
                id=uuid.uuid4(),
                owner_id=owner_id,
                file_id=file.id,
                kind=file.kind,
                position=current["position"],
                device_id=current["device"]["id"],
                device_name=current["device"]["name"],
                modified=current["modified"],
                intent=current["intent"],
                progress=self._progress("current", file, current),
            )
            states.append(records.stamp(state, values))
            for index, device in enumerate(values["devices"][:DEVICES_KEPT]):
                devices.append(
                    ViewerDevicePosition(
                        viewer_state_id=state.id, **self._report(f"devices.{index}", file, device)
                    )
                )
            for index, entry in enumerate(values["history"][: settings.VIEWER_STATE_HISTORY_KEPT]):
                history.append(
                    ViewerStateEntry(
                        viewer_state_id=state.id,
                        version=entry["version"],
                        applied=entry["applied"],
                        reason=entry.get("reason") or "",
                        **self._report(f"history.{index}", file, entry),
                    )
                )
        db.insert_rows(ViewerState, states, using=using, as_given=True)
        db.insert_rows(ViewerDevicePosition, devices, using=using, as_given=True)
        db.insert_rows(ViewerStateEntry, history, using=using, as_given=True)
        objects_record(states)
        return len(states)

    @staticmethod
    def _progress(where: str, file: File, position: dict[str, Any]) -> float | None:
        return ViewerStateRecord._check(where, file.kind, position, metadata=file.metadata)

    def _report(self, where: str, file: File, report: dict[str, Any]) -> dict[str, Any]:
        return {
            "device_id": report["device"]["id"],
            "device_name": report["device"]["name"],
            "position": report["position"],
            "modified": report["modified"],
            "intent": report["intent"],
            "progress": self._progress(where, file, report),
            "recorded_at": report["recorded_at"],
        }


# --- import: KOReader's records ----------------------------------------------------------------


class KosyncRecord(serializers.Serializer):
    """As KOReader's PUT /syncs/progress takes it (kosync/views.py)."""

    document = serializers.RegexField(protocol.DOCUMENT.pattern)
    progress = StrictCharField(allow_blank=True, trim_whitespace=False, max_length=2000)
    percentage = serializers.FloatField(min_value=0, max_value=1)
    device = StrictCharField(max_length=200, allow_blank=True, trim_whitespace=False)
    device_id = StrictCharField(max_length=100, allow_blank=True, trim_whitespace=False)
    timestamp = serializers.IntegerField(min_value=0, max_value=2**63 - 1)


class KosyncImport:
    """KOReader's progress records, one per document hash."""

    def __init__(self, ids: dict[str, dict[uuid.UUID, uuid.UUID]]) -> None:
        self.documents: set[str] = set()

    def check(self, record: Any) -> None:
        values = records.validated(KosyncRecord, record)
        if values["document"] in self.documents:
            raise ValidationFailed.field("document", "Another record is for this document.")
        self.documents.add(values["document"])

    def finish(self) -> None:
        self.documents.clear()

    def write(self, *, owner_id: uuid.UUID, batch: list[Any]) -> int:
        progress = [
            KosyncProgress(owner_id=owner_id, **records.validated(KosyncRecord, record)) for record in batch
        ]
        KosyncProgress.objects.using(_write_db()).bulk_create(progress)
        return len(progress)
