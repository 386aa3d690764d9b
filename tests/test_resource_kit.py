"""The resource kit (apps/common: models, views) holds for every resource built on it: walked
from the URL configuration, the sync registry and the models, so a new resource is checked
without being listed here. The behaviour of each resource is the CRUD contract's
(tests/contract.py)."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from apps.common.models import SyncedModel
from apps.common.views import VersionedDetailView
from apps.sync import registry
from tests.contract import CrudContract


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, type]]:
    """Every route of the URL configuration with its view class, as the schema writes paths."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
            if isinstance(view, type):
                yield "/" + re.sub(r"<uuid:(\w+)>", r"{\1}", route), view


ROUTES = list(_routes(get_resolver().url_patterns))
DETAIL_ROUTES = {path: view for path, view in ROUTES if issubclass(view, VersionedDetailView)}


def test_every_versioned_resource_has_a_kit_detail_view() -> None:
    """Every synced type a client can edit over REST has its detail view built on the kit (the
    viewer state has its own document semantics and is written with PUT only)."""
    assert {view.output_serializer for view in DETAIL_ROUTES.values()} >= {
        registry.get(name).output_serializer for name in registry.names() if name != "viewer_state"
    }
    for path, view in DETAIL_ROUTES.items():
        assert path.endswith("{" + view.lookup_url_kwarg + "}"), "the id is named after its resource"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    return dict(SchemaGenerator().get_schema(request=None, public=True))


@pytest.mark.parametrize("path", sorted(DETAIL_ROUTES))
def test_the_schema_declares_if_match_and_etag(schema: dict[str, Any], path: str) -> None:
    operations = schema["paths"][path]
    assert set(operations) >= {"get", "put", "patch", "delete"}
    for method, operation in operations.items():
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert ("If-Match" in headers) == (method != "get"), (method, headers)
        if method != "delete":
            assert "ETag" in operation["responses"]["200"].get("headers", {}), method
        assert "412" in operation["responses"], method


def test_request_bodies_declare_no_defaults(schema: dict[str, Any]) -> None:
    """An absent field of a PATCH (or a push's fields) stays as it is: a default declared there
    would make generated clients send it and overwrite what the user did not touch. A create or
    PUT body says its defaults in words: a declared one makes openapi-typescript mark the field
    required (issue 14)."""
    requests = {name: c for name, c in schema["components"]["schemas"].items() if name.endswith("Request")}
    assert any(name.startswith("Patched") for name in requests)
    for name, component in requests.items():
        assert not [p for p, spec in component.get("properties", {}).items() if "default" in spec], name
    note_put = schema["components"]["schemas"]["NoteWriteInputRequest"]
    assert "pinned" not in note_put.get("required", [])
    assert note_put["properties"]["pinned"]["description"].endswith("Default: `false`.")
    patched_note = schema["components"]["schemas"]["PatchedNoteWriteInputRequest"]
    assert "Default" not in patched_note["properties"]["pinned"].get("description", "")


def test_every_synced_model_is_a_registered_sync_type() -> None:
    synced = [model for model in apps.get_models() if issubclass(model, SyncedModel)]
    assert sorted(model.sync_type for model in synced) == registry.names()
    for model in synced:
        assert registry.get(model.sync_type).model is model
        assert model.editable_fields


def test_each_types_editable_fields_are_pushed_and_shown() -> None:
    """What a client may change, it can send in a push (and PATCH) and reads back: a field added
    to the model's `editable_fields` and its two serializers is the whole change. (A viewer
    state is not field-merged: a write is a whole position document, validated and reconciled
    by apps/library, and its `editable_fields` name what field_versions records.)"""
    for name in registry.names():
        if name == "viewer_state":
            continue
        sync_type = registry.get(name)
        editable = set(sync_type.model.editable_fields)
        pushed, shown = (
            s() if isinstance(s, type) else s
            for s in (sync_type.fields_serializer, sync_type.output_serializer)
        )
        assert editable <= set(pushed.fields), name
        assert editable <= set(shown.fields), name


def _crud_contracts() -> list[type[CrudContract]]:
    """Every CrudContract subclass in the test suite (their modules imported by a scan)."""
    root = Path(__file__).parent
    for path in sorted(root.rglob("test_*.py")):
        if "(CrudContract)" in path.read_text():
            importlib.import_module(".".join(path.relative_to(root.parent).with_suffix("").parts))
    return CrudContract.__subclasses__()


def test_every_kit_resource_is_under_the_crud_contract() -> None:
    """So each one's list, detail and pull are checked against its output serializer
    (CrudContract.test_every_reader_answers_the_output_serializers_shape) and the rest of the
    contract, without a list to keep here."""
    covered = {contract.url for contract in _crud_contracts()}
    collections = {path.rsplit("/", 1)[0] for path in DETAIL_ROUTES}
    assert collections <= covered, collections - covered


def test_no_operation_is_described_by_an_internal_base_class(schema: dict[str, Any]) -> None:
    """Docstrings of mixins and bases are notes for maintainers; drf-spectacular would publish
    the first one it finds on a view without its own (apps/common/schema.OwnDocsSchema)."""
    inherited = {
        inspect.cleandoc(base.__doc__)
        for _, view in ROUTES
        for base in view.__mro__[1:]
        if base.__module__.startswith("apps.") and base.__doc__
    }
    assert len(inherited) >= 3  # ETagMixin, StorageOutageMixin, RowListMixin, ...
    described = [
        (path, method)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if operation.get("description", "").strip() in inherited
    ]
    assert described == []
