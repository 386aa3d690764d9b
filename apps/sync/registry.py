"""What the sync feature knows about each kind of object, registered by the owning app.

The sync app imports no domain app: each app describes its syncable types with a `SyncType`
subclass in its own `sync.py` and registers it from `AppConfig.ready()`. A type says how to read
(fetch + serialize, for pulls) and how to write through the app's own services (for pushes), so
validation rules exist once, in the app.

Two kinds of type: a `SyncType` answers `upsert` and `remove` itself (a viewer state is one
document reconciled by its own rules); a `FieldMergedType` gets them from the per-field merge
against `base_version` (apps/sync/merge.py) and supplies create/update/delete through its app's
services. A losing value of a conflict may be kept with `keep_losing_values` (notes keep a losing
text as a revision).
"""

from __future__ import annotations

import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import orjson
from django.db import models, router
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from apps.common import db
from apps.common.errors import ApplicationError, ErrorCode, IdConflict
from apps.common.renderers import OPTIONS

from .feed import objects_record
from .merge import FieldMerge, merge_fields


class Rejected(ApplicationError):
    """An operation that cannot be applied as sent (validation, unknown object, ...)."""

    code = ErrorCode.REJECTED


FETCH_CHUNK = 100


@dataclass(frozen=True)
class Shaped:
    """An object as a pull sends it: its version and its REST representation, encoded."""

    version: int
    json: bytes


class OverBudget:
    """Marks objects a pull did not load because its page was full (see fetch_shaped)."""


OVER_BUDGET = OverBudget()
_fallback = JSONEncoder()


def encode(shape: Any) -> bytes:
    """JSON as the API renders it (apps/common/renderers.py: DRF's formats, written by orjson)."""
    return orjson.dumps(shape, default=_fallback.default, option=OPTIONS)


class OpStatus(StrEnum):
    """What became of a pushed operation (a push result's `status`)."""

    APPLIED = "applied"  # applied as sent
    MERGED = "merged"  # applied onto a newer version: the result holds the merged object
    CONFLICT = "conflict"  # some or all of it lost to a newer change (see `conflicts`)
    REJECTED = "rejected"  # refused (see `code`)


@dataclass(frozen=True)
class Applied:
    """An op a batched path applied: its status, the object's version and its REST
    representation (JSON-ready, as a push result stores it)."""

    status: OpStatus
    version: int
    data: dict[str, Any]


@dataclass
class Outcome:
    status: OpStatus
    obj: Any = None
    version: int | None = None
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class SyncType(ABC):
    """A syncable type: how pulls read it and how pushes write it. Subclasses set `model` (its
    `sync_type` names the type, its `editable_fields` are what a client may change),
    `output_serializer` (the REST representation: `data` in the feed) and `input_serializer`
    (its PATCH body is a push's `fields`); the OpenAPI and AsyncAPI documents describe `data`
    and `fields` with their components, named as drf-spectacular names them."""

    name: ClassVar[str]
    model: ClassVar[type[models.Model]]
    output_serializer: ClassVar[Any]
    input_serializer: ClassVar[Any]
    fields_serializer: ClassVar[Any]
    output_component: ClassVar[str]
    fields_component: ClassVar[str]
    # The app's selector of the caller's objects (`lister(owner_id=…)`, a queryset with what the
    # serializer reads already joined); unset, the model's manager filtered by owner.
    lister: ClassVar[Callable[..., models.QuerySet[Any]] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "model", None) is None or getattr(cls, "input_serializer", None) is None:
            return  # an intermediate base
        cls.name = cls.model.sync_type  # type: ignore[attr-defined]
        cls.fields_serializer = cls.__dict__.get("fields_serializer") or cls.input_serializer(partial=True)
        cls.output_component = cls.__dict__.get("output_component") or cls.output_serializer.__name__
        cls.fields_component = (
            cls.__dict__.get("fields_component") or f"Patched{cls.input_serializer.__name__}Request"
        )

    # --- reads -----------------------------------------------------------------------------------

    def fetch(self, *, owner_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
        """The caller's objects with these feed ids (deleted ones may be included), keyed by feed
        id, in as few queries as the serializer needs: pulls call it once per type and page."""
        lister = type(self).lister
        objs = lister(owner_id=owner_id) if lister else self.model._default_manager.filter(owner_id=owner_id)
        return {obj.pk: obj for obj in objs.filter(id__in=ids)}

    def serialize(self, objs: Sequence[Any]) -> list[dict[str, Any]]:
        """The REST representation of each object."""
        return list(self.output_serializer(objs, many=True).data)

    def is_deleted(self, obj: Any) -> bool:
        return getattr(obj, "deleted_at", None) is not None

    def fetch_shaped(
        self, *, owner_id: uuid.UUID, ids: Sequence[uuid.UUID], max_bytes: int
    ) -> dict[uuid.UUID, Shaped | OverBudget]:
        """What a pull sends of the caller's live objects with these feed ids (in feed order):
        their versions and encoded REST representations, keyed by feed id; absent ones are
        gone. Objects are loaded in feed order until their JSON reaches `max_bytes`; the rest
        are OVER_BUDGET (not loaded: the pull's page ends before them). This default loads in
        chunks of FETCH_CHUNK, so a page of large objects never sits in memory whole; types
        with a lean row path override it."""
        shaped: dict[uuid.UUID, Shaped | OverBudget] = {}
        used = 0
        for start in range(0, len(ids), FETCH_CHUNK):
            chunk = ids[start : start + FETCH_CHUNK]
            if used >= max_bytes:
                shaped.update(dict.fromkeys(chunk, OVER_BUDGET))
                continue
            by_feed_id = self.fetch(owner_id=owner_id, ids=chunk)
            alive = [(feed_id, obj) for feed_id, obj in by_feed_id.items() if not self.is_deleted(obj)]
            for (feed_id, obj), shape in zip(alive, self.serialize([obj for _, obj in alive]), strict=True):
                encoded = encode(shape)
                shaped[feed_id] = Shaped(obj.version, encoded)
                used += len(encoded)
        return shaped

    # --- writes ----------------------------------------------------------------------------------

    def validate(self, *, fields: Mapping[str, Any], partial: bool) -> dict[str, Any]:
        """The fields as the REST input serializer accepts them; raises on invalid input."""
        data = self.input_serializer(data=dict(fields), partial=partial)
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    @abstractmethod
    def upsert(
        self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, base_version: int, fields: Mapping[str, Any]
    ) -> Outcome:
        """Create or change the object from a push (inside the owner's feed lock)."""

    @abstractmethod
    def remove(self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, base_version: int) -> Outcome:
        """Delete the object from a push (inside the owner's feed lock)."""

    # --- batched creates: the fast path of a push full of new objects (optional) ----------------

    def plain_create_fields(self, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        """The cleaned fields of a create when they are plainly valid (what `validate` would
        return for them), else None: the op then goes through `upsert` one by one, which also
        explains what is wrong. None by default: no batched creates."""
        return None

    def create_new(
        self, *, owner_id: uuid.UUID, items: Sequence[tuple[uuid.UUID, Mapping[str, Any]]]
    ) -> list[Any]:
        """Create objects whose ids exist nowhere yet, with fields from plain_create_fields, in
        bulk; returns each one's REST representation (JSON-ready), in order. This default goes
        one by one; a type with a real bulk path overrides it."""
        made = [
            self.upsert(owner_id=owner_id, obj_id=obj_id, base_version=0, fields=fields).obj
            for obj_id, fields in items
        ]
        return list(json.loads(json.dumps(self.serialize(made), cls=JSONEncoder)))


class FieldMergedType(SyncType):
    """A type merged per field against `field_versions` (apps/sync/merge.py), written through
    its app's services. A type names them — `creator` (returns the object and whether it was
    made), `updater`, `deleter` — and the keyword its services take the id by (`id_name`,
    `<type>_id` unless said); they get validated fields and `expected_version=None` (the merge
    has already decided against `base_version`). A type whose writes differ overrides
    create/update/delete instead."""

    id_name: ClassVar[str] = ""
    creator: ClassVar[Callable[..., tuple[Any, bool]]]
    updater: ClassVar[Callable[..., Any]]
    deleter: ClassVar[Callable[..., Any]]

    def _id(self, obj_id: uuid.UUID) -> dict[str, uuid.UUID]:
        return {self.id_name or f"{self.name}_id": obj_id}

    def lock(self, *, obj_id: uuid.UUID) -> Any | None:
        """The object with this id whoever owns it (deleted included), row-locked; None if none."""
        return self.model._default_manager.select_for_update().filter(id=obj_id).first()

    def create(self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, fields: Mapping[str, Any]) -> Any:
        """Create through the app's service (validated fields)."""
        made, _created = type(self).creator(owner_id=owner_id, fields=dict(fields), **self._id(obj_id))
        return made

    def update(self, *, owner_id: uuid.UUID, obj: Any, fields: Mapping[str, Any]) -> Any:
        """Change some fields through the app's service; returns the object at its new version."""
        ids = self._id(obj.id)
        return type(self).updater(owner_id=owner_id, **ids, fields=dict(fields), expected_version=None)

    def delete(self, *, owner_id: uuid.UUID, obj: Any) -> Any:
        """Soft-delete through the app's service; returns the tombstone."""
        type(self).deleter(owner_id=owner_id, **self._id(obj.id), expected_version=None)
        return self.model._default_manager.get(id=obj.id)

    def keep_losing_values(
        self, *, owner_id: uuid.UUID, obj: Any, losing: Mapping[str, Any]
    ) -> Mapping[str, Mapping[str, Any]]:
        """Keep the client's values of conflicting fields somewhere, if the type can. Answers,
        per field it kept, what the conflict entry adds to say where (a note: the `revision`)."""
        return {}

    def value(self, obj: Any, name: str) -> Any:
        """A stored field's value as the input serializer gives it (to compare with a push's)."""
        return getattr(obj, name)

    def _merge(self, obj: Any, fields: Mapping[str, Any], base_version: int) -> FieldMerge:
        """The cleaned `fields` merged per field against the stored object (apps/sync/merge.py)."""
        stored = self.model.editable_fields  # type: ignore[attr-defined]
        return merge_fields(
            client=fields,
            server={name: self.value(obj, name) for name in fields if name in stored},
            field_versions=obj.field_versions or {},
            base_version=base_version,
        )

    def wire(self, name: str, value: Any) -> Any:
        """A field's value (as `value` gives it) as the REST representation writes it: a
        conflict reports both sides so (a task's due is a Due object until then)."""
        field = self.output_serializer().fields.get(name)
        return value if value is None or field is None else field.to_representation(value)

    def upsert(
        self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, base_version: int, fields: Mapping[str, Any]
    ) -> Outcome:
        obj = self.lock(obj_id=obj_id)
        if obj is not None and obj.owner_id != owner_id:
            raise IdConflict()
        if obj is None:
            cleaned = self.validate(fields=fields, partial=False)
            created = self.create(owner_id=owner_id, obj_id=obj_id, fields=cleaned)
            return Outcome(OpStatus.APPLIED, obj=created, version=created.version)
        if self.is_deleted(obj):
            return Outcome(
                OpStatus.CONFLICT,
                obj=obj,
                version=obj.version,
                conflicts=[{"field": None, "reason": "deleted", "server": None, "client": dict(fields)}],
            )
        _check_base(obj, base_version)
        merged = self._merge(obj, self.validate(fields=fields, partial=True), base_version)
        status = _status(obj, base_version)
        if merged.changes:
            obj = self.update(owner_id=owner_id, obj=obj, fields=merged.changes)
        if merged.conflicts:
            kept = self.keep_losing_values(
                owner_id=owner_id, obj=obj, losing={c["field"]: c["client"] for c in merged.conflicts}
            )
            conflicts = [
                {
                    **c,
                    "server": self.wire(c["field"], c["server"]),
                    "client": self.wire(c["field"], c["client"]),
                    **kept.get(c["field"], {}),
                }
                for c in merged.conflicts
            ]
            return Outcome(OpStatus.CONFLICT, obj=obj, version=obj.version, conflicts=conflicts)
        return Outcome(status, obj=obj, version=obj.version)

    # --- batched updates: the fast path of a push full of edits (optional) -----------------------

    def plain_update_fields(self, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        """The cleaned fields of an update when they are plainly valid and touch only what
        `update_many` writes (what `validate(partial=True)` would return), else None: the op
        goes through `upsert`. None by default: no batched updates."""
        return None

    def update_many(
        self, *, owner_id: uuid.UUID, changes: Sequence[tuple[Any, Mapping[str, Any]]]
    ) -> list[Any]:
        """Write each locked object's merged changes (empty: no change, the version stays) as
        `update` would, in bulk, feed entries included; returns each object's REST
        representation (JSON-ready), in order, and leaves each object at its new version.
        This default suits fields that are plain columns (what plain_update_fields admits):
        one version bump each, one UPDATE for the batch, one feed statement."""
        now = timezone.now()
        changed = [obj for obj, fields in changes if fields]
        columns: set[str] = set()
        for obj, fields in changes:
            if fields:
                columns.update(fields, obj.bump(fields, now=now))
                for name, value in fields.items():
                    setattr(obj, name, value)
        if changed:
            db.update_rows(self.model, changed, sorted(columns), using=router.db_for_write(self.model))
            objects_record(changed)
        return list(json.loads(json.dumps(self.serialize([obj for obj, _ in changes]), cls=JSONEncoder)))

    def lock_many(self, *, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
        """The objects with these ids whoever owns them (deleted included), row-locked in one
        statement (in id order, as any other batch would lock them)."""
        locked = self.model._default_manager.select_for_update().filter(id__in=ids).order_by("id")
        return {obj.pk: obj for obj in locked}

    def upsert_many(
        self, *, owner_id: uuid.UUID, items: Sequence[tuple[uuid.UUID, int, Mapping[str, Any]]]
    ) -> dict[uuid.UUID, Applied]:
        """Batched `upsert` of (id, base_version, plain fields) edits of existing objects: the
        rows locked in one statement, merged per field as `upsert` merges, written by
        `update_many`. Only edits whose outcome `upsert` would decide the same way without
        help qualify: the caller's live object, a base the server issued, no conflicting field.
        The rest (creates, refusals, conflicts, which keep losing values) are left out of the
        answer, for the caller to apply one by one."""
        objs = self.lock_many(ids=[obj_id for obj_id, _, _ in items])
        plans: list[tuple[Any, dict[str, Any], OpStatus]] = []
        for obj_id, base_version, fields in items:
            obj = objs.get(obj_id)
            if obj is None or obj.owner_id != owner_id or self.is_deleted(obj) or base_version > obj.version:
                continue
            merged = self._merge(obj, fields, base_version)
            if not merged.conflicts:
                plans.append((obj, merged.changes, _status(obj, base_version)))
        if not plans:
            return {}
        shapes = self.update_many(owner_id=owner_id, changes=[(obj, changes) for obj, changes, _ in plans])
        return {
            obj.id: Applied(status, obj.version, shape)
            for (obj, _, status), shape in zip(plans, shapes, strict=True)
        }

    def remove(self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, base_version: int) -> Outcome:
        obj = self.lock(obj_id=obj_id)
        if obj is None or obj.owner_id != owner_id:
            # Deleting what is not there (or not yours) changes nothing: nothing to reveal.
            return Outcome(OpStatus.APPLIED, version=None)
        if self.is_deleted(obj):
            return Outcome(OpStatus.APPLIED, obj=obj, version=obj.version)
        _check_base(obj, base_version)
        if obj.version > base_version:
            changed = [name for name, at in (obj.field_versions or {}).items() if at > base_version]
            return Outcome(
                OpStatus.CONFLICT,
                obj=obj,
                version=obj.version,
                conflicts=[{"field": None, "reason": "changed_since_base", "changed_fields": changed}],
            )
        deleted = self.delete(owner_id=owner_id, obj=obj)
        return Outcome(OpStatus.APPLIED, obj=deleted, version=deleted.version)


def _status(obj: Any, base_version: int) -> OpStatus:
    """An edit made against the object's current version is applied as sent; one made against
    an older version is merged onto what changed since (read before the edit is written)."""
    return OpStatus.APPLIED if base_version >= obj.version else OpStatus.MERGED


def _check_base(obj: Any, base_version: int) -> None:
    """A base version the server never issued (ahead of the object's) is no base to merge
    against: taken at its word it would make every field look unchanged on the server and
    overwrite newer values blindly."""
    if base_version > obj.version:
        raise Rejected(
            f"base_version {base_version} is ahead of the server's version {obj.version}: pull, then "
            "send the change against the version you have.",
            code=ErrorCode.BASE_VERSION_AHEAD,
            extra={"version": obj.version},
        )


_types: dict[str, SyncType] = {}


def register(sync_type: SyncType) -> None:
    _types[sync_type.name] = sync_type


def get(name: str) -> SyncType:
    return _types[name]


def names() -> list[str]:
    return sorted(_types)


def output_serializers() -> list[Any]:
    return [_types[name].output_serializer for name in names()]


def fields_serializers() -> list[Any]:
    return [_types[name].fields_serializer for name in names()]
