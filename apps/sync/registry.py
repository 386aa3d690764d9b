"""What the sync feature knows about each kind of object, registered by the owning app.

The sync app imports no domain app: each app describes its syncable types with a `SyncType`
subclass in its own `sync.py` and registers it from `AppConfig.ready()`. A type says how to read
(fetch + serialize, for pulls) and how to write through the app's own services (for pushes), so
validation rules exist once, in the app.

`SyncType.upsert` implements the per-field merge against `base_version` for every type that keeps
`field_versions` (field → version at which it last changed on the server):
- fields the server has not changed since `base_version` take the client's value;
- a field changed on both sides to different values is a conflict: the server value stays,
  both are returned, and `keep_losing_values` may keep the client's value elsewhere (notes keep
  a losing text as a revision).
"""

from __future__ import annotations

import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
from django.db import models
from rest_framework.utils.encoders import JSONEncoder

from apps.common.errors import ApplicationError, ErrorCode, IdConflict
from apps.common.renderers import OPTIONS


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


@dataclass
class Outcome:
    status: str  # applied | merged | conflict | rejected
    obj: Any = None
    version: int | None = None
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class SyncType(ABC):
    """Base for a syncable type. Subclasses set `name`, `model` and the hooks; what a client may
    change is the model's `editable_fields`."""

    name: ClassVar[str]
    model: ClassVar[type[models.Model]]
    # The serializers of the REST representation (`data` in the feed) and of the writable fields
    # (`fields` of a push; a PATCH body), with their OpenAPI component names: the OpenAPI and
    # AsyncAPI documents describe `data` and `fields` with them.
    output_serializer: ClassVar[Any]
    fields_serializer: ClassVar[Any]
    output_component: ClassVar[str]
    fields_component: ClassVar[str]

    # --- reads -----------------------------------------------------------------------------------

    def fetch(self, *, owner_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
        """The caller's objects with these feed ids (deleted ones may be included), keyed by feed
        id, in as few queries as the serializer needs: pulls call it once per type and page."""
        queryset = self.model._default_manager.filter(owner_id=owner_id, id__in=ids)
        return {obj.pk: obj for obj in queryset}

    @abstractmethod
    def serialize(self, objs: Sequence[Any]) -> list[dict[str, Any]]:
        """The REST representation of each object."""

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

    # --- writes through the app's services ------------------------------------------------------

    def lock(self, *, obj_id: uuid.UUID) -> Any | None:
        """The object with this id whoever owns it (deleted included), row-locked; None if none."""
        return self.model._default_manager.select_for_update().filter(id=obj_id).first()

    @abstractmethod
    def validate(self, *, fields: Mapping[str, Any], partial: bool) -> dict[str, Any]:
        """The fields as the REST input serializer accepts them; raise on invalid input."""

    @abstractmethod
    def create(self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, fields: Mapping[str, Any]) -> Any:
        """Create through the app's service (validated fields)."""

    @abstractmethod
    def update(self, *, owner_id: uuid.UUID, obj: Any, fields: Mapping[str, Any]) -> Any:
        """Change some fields through the app's service; returns the object at its new version."""

    @abstractmethod
    def delete(self, *, owner_id: uuid.UUID, obj: Any) -> Any:
        """Soft-delete through the app's service; returns the tombstone."""

    # --- batched creates: the fast path of a push full of new objects (optional) ----------------

    def plain_create_fields(self, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        """The cleaned fields of a create when they are plainly valid (what `validate` would
        return for them), else None: the op then goes through validate/create one by one,
        which also explains what is wrong. None by default: no batched creates."""
        return None

    def create_new(
        self, *, owner_id: uuid.UUID, items: Sequence[tuple[uuid.UUID, Mapping[str, Any]]]
    ) -> list[Any]:
        """Create objects whose ids exist nowhere yet, with fields from plain_create_fields, in
        bulk; returns each one's REST representation (JSON-ready), in order. This default makes
        them one by one; a type with a real bulk path overrides it."""
        made = [self.create(owner_id=owner_id, obj_id=obj_id, fields=fields) for obj_id, fields in items]
        return list(json.loads(json.dumps(self.serialize(made), cls=JSONEncoder)))

    def keep_losing_values(  # noqa: B027 - an optional hook: most types keep nothing
        self, *, owner_id: uuid.UUID, obj: Any, losing: Mapping[str, Any]
    ) -> None:
        """Keep the client's values of conflicting fields somewhere, if the type can."""

    def value(self, obj: Any, name: str) -> Any:
        return getattr(obj, name)

    # --- the merge -------------------------------------------------------------------------------

    def upsert(
        self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, base_version: int, fields: Mapping[str, Any]
    ) -> Outcome:
        obj = self.lock(obj_id=obj_id)
        if obj is not None and obj.owner_id != owner_id:
            raise IdConflict()
        if obj is None:
            cleaned = self.validate(fields=fields, partial=False)
            created = self.create(owner_id=owner_id, obj_id=obj_id, fields=cleaned)
            return Outcome("applied", obj=created, version=created.version)
        if self.is_deleted(obj):
            return Outcome(
                "conflict",
                obj=obj,
                version=obj.version,
                conflicts=[{"field": None, "reason": "deleted", "server": None, "client": dict(fields)}],
            )
        _check_base(obj, base_version)
        cleaned = self.validate(fields=fields, partial=True)
        field_versions: dict[str, int] = getattr(obj, "field_versions", {}) or {}
        changes: dict[str, Any] = {}
        conflicts: list[dict[str, Any]] = []
        for name, client_value in cleaned.items():
            server_value = self.value(obj, name)
            if server_value == client_value:
                continue
            if field_versions.get(name, 0) > base_version:
                conflicts.append({"field": name, "server": server_value, "client": client_value})
            else:
                changes[name] = client_value
        version_before = obj.version
        if changes:
            obj = self.update(owner_id=owner_id, obj=obj, fields=changes)
        if conflicts:
            self.keep_losing_values(
                owner_id=owner_id, obj=obj, losing={c["field"]: c["client"] for c in conflicts}
            )
            return Outcome("conflict", obj=obj, version=obj.version, conflicts=conflicts)
        status = "applied" if base_version >= version_before else "merged"
        return Outcome(status, obj=obj, version=obj.version)

    def remove(self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, base_version: int) -> Outcome:
        obj = self.lock(obj_id=obj_id)
        if obj is None or obj.owner_id != owner_id:
            # Deleting what is not there (or not yours) changes nothing: nothing to reveal.
            return Outcome("applied", version=None)
        if self.is_deleted(obj):
            return Outcome("applied", obj=obj, version=obj.version)
        _check_base(obj, base_version)
        if obj.version > base_version:
            field_versions: dict[str, int] = getattr(obj, "field_versions", {}) or {}
            changed = [name for name, at in field_versions.items() if at > base_version]
            return Outcome(
                "conflict",
                obj=obj,
                version=obj.version,
                conflicts=[{"field": None, "reason": "changed_since_base", "changed_fields": changed}],
            )
        deleted = self.delete(owner_id=owner_id, obj=obj)
        return Outcome("applied", obj=deleted, version=deleted.version)


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
