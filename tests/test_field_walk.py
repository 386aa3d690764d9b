"""Every editable field of every synced type travels every path, walked from the sync registry:
a field added to a model's `editable_fields` and its two serializers (docs/resources.md, "Adding
a field") is checked here with no edit to this file.

For each (type, field): a PATCH of that field alone is one new version that stamps exactly that
field, and the detail, the list and a device's pull all show the value the PATCH answered; then
a push of the same field (from the version the device saw) applies, and every reader shows the
pushed value. Values come from the field's input serializer: text, flags, bounded integers and
tag lists are made here; a field of another kind needs an entry in SPECIAL (the test says so).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework import serializers

from apps.sync import registry
from tests.conftest import Account
from tests.contract import CrudContract
from tests.library import factories
from tests.library.conftest import upload
from tests.sync.helpers import op, push
from tests.test_resource_kit import DETAIL_ROUTES, _crud_contracts
from tests.todos.conftest import make_list, make_task

# Two values for a field the generic maker cannot make, from the account and the object as
# created by the type's CrudContract; the second must differ from the first.
Maker = Callable[[Account, dict[str, Any]], tuple[Any, Any]]


def _upload_id(account: Account) -> str:
    response = upload(account.client, factories.pdf_bytes(), "linked.pdf")
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


SPECIAL: dict[tuple[str, str], Maker] = {
    ("tasklist", "color"): lambda account, obj: ("#123456", "#abcdef"),
    ("tasklist", "position"): lambda account, obj: ("k", "kk"),
    ("task", "position"): lambda account, obj: ("k", "kk"),
    ("task", "list"): lambda account, obj: (make_list(account)["id"], make_list(account)["id"]),
    ("task", "parent"): lambda account, obj: (make_task(account, obj["list"])["id"], None),
    ("task", "due"): lambda account, obj: ("2031-01-02", "2031-02-03T09:30:00+01:00"),
    ("task", "recurrence"): lambda account, obj: (
        {"freq": "weekly", "interval": 2},
        {"freq": "monthly", "interval": 1},
    ),
    ("note", "files"): lambda account, obj: ([_upload_id(account)], []),
}

# Fields a write of another field may change too: a task that changes list or parent is placed
# at the end of its new siblings.
FOLLOWS: dict[tuple[str, str], set[str]] = {("task", "list"): {"position"}, ("task", "parent"): {"position"}}


def _generic(field: serializers.Field, current: Any) -> tuple[Any, Any] | None:
    """Two valid values of a plain field, the first unlike `current`; None for another kind."""
    candidates: list[Any]
    if isinstance(field, serializers.BooleanField):
        candidates = [not current, current]
    elif isinstance(field, serializers.IntegerField):
        low = field.min_value if field.min_value is not None else 0
        high = field.max_value if field.max_value is not None else 1_000
        candidates = [value for value in (low, high, low + 1) if value != current]
    elif isinstance(field, serializers.ListField) and isinstance(field.child, serializers.CharField):
        candidates = [["walked"], ["again", "walked"]]  # in the order tags are kept
    elif isinstance(field, serializers.CharField):
        length = field.max_length or 100
        candidates = [text[:length] for text in ("Walked", "Walked again")]
    else:
        return None
    try:
        for value in candidates[:2]:
            field.run_validation(value)
    except serializers.ValidationError:
        return None
    return candidates[0], candidates[1]


def _contract_for(type_name: str) -> type[CrudContract]:
    output = registry.get(type_name).output_serializer
    for contract in _crud_contracts():
        views = [view for path, view in DETAIL_ROUTES.items() if path.startswith(contract.url + "/{")]
        if views and views[0].output_serializer is output:
            return contract
    raise AssertionError(f"no CrudContract for the sync type {type_name!r}")


WALKED = [
    (name, field)
    for name in registry.names()
    if name != "viewer_state"  # a position document, not merged per field (test_resource_kit.py)
    for field in registry.get(name).model.editable_fields
]


def _fields(type_name: str) -> dict[str, serializers.Field]:
    fields = registry.get(type_name).fields_serializer
    return dict((fields() if isinstance(fields, type) else fields).fields)


def _stamps(type_name: str, obj_id: str) -> dict[str, int]:
    """The fields stamped with the object's current version (its last write changed them)."""
    obj = registry.get(type_name).model._default_manager.get(id=obj_id)
    return {name: version for name, version in obj.field_versions.items() if version == obj.version}


def _reads(contract: CrudContract, account: Account, obj_id: str, cursor: str) -> dict[str, Any]:
    """What the detail, the list and a pull from `cursor` show of the object."""
    detail = account.client.get(contract.detail(obj_id))
    assert detail.status_code == 200, detail.content
    listed = account.client.get(
        contract.url, {"limit": 100, **({"archived": "all"} if "archived" in detail.json() else {})}
    )
    assert listed.status_code == 200, listed.content
    in_list = [item for item in listed.json()["results"] if item["id"] == obj_id]
    changes, _ = contract.feed_since(account, cursor)
    pulled = [change["data"] for change in changes if change["id"] == obj_id]
    assert len(in_list) == 1, listed.json()
    assert pulled, changes
    return {"detail": detail.json(), "list": in_list[0], "pull": pulled[-1]}


@pytest.mark.django_db
@pytest.mark.parametrize(("type_name", "field"), WALKED, ids=[f"{t}.{f}" for t, f in WALKED])
def test_a_field_travels_every_path(account: Account, type_name: str, field: str) -> None:
    contract = _contract_for(type_name)()
    created = contract.create(account)
    obj_id = created["id"]
    maker = SPECIAL.get((type_name, field))
    values = maker(account, created) if maker else _generic(_fields(type_name)[field], created.get(field))
    assert values is not None, (
        f"{type_name}.{field} is not a plain text, flag, integer or tag list: give it two "
        f"values in SPECIAL ({__name__})"
    )
    first, second = values
    _, cursor = contract.feed_since(account, "")

    patched = account.client.patch(contract.detail(obj_id), {field: first}, format="json")
    assert patched.status_code == 200, patched.content
    answer = patched.json()
    assert answer[field] == first
    assert answer["version"] == created["version"] + 1
    stamps = _stamps(type_name, obj_id)
    assert stamps[field] == answer["version"]
    assert set(stamps) - {field} <= FOLLOWS.get((type_name, field), set()), stamps
    for reader, shown in _reads(contract, account, obj_id, cursor).items():
        assert shown[field] == first, reader
        assert shown["version"] == answer["version"], reader

    _, cursor = contract.feed_since(account, cursor)
    [result] = push(account, op(type_name, obj_id, base=answer["version"], **{field: second}))
    assert result["status"] == "applied", result
    assert result["data"][field] == second
    assert result["data"]["version"] == answer["version"] + 1
    stamps = _stamps(type_name, obj_id)
    assert stamps[field] == answer["version"] + 1
    assert set(stamps) - {field} <= FOLLOWS.get((type_name, field), set()), stamps
    for reader, shown in _reads(contract, account, obj_id, cursor).items():
        assert shown[field] == second, reader


def test_every_walked_field_has_values() -> None:
    """SPECIAL names only fields that exist (a renamed field leaves no stale entry behind)."""
    assert set(SPECIAL) <= set(WALKED), set(SPECIAL) - set(WALKED)
    assert len(WALKED) >= 20
