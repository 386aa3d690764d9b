"""The AsyncAPI document is current, served, and describes what the server really accepts and
produces (real payloads validate; malformed ones do not)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from apps.sync import registry
from apps.sync.asyncapi import document, render_yaml
from tests.sync.helpers import op, push

pytestmark = pytest.mark.django_db
DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def _validator(component: str) -> jsonschema.Draft7Validator:
    schema = {"$ref": f"#/components/schemas/{component}", "components": document()["components"]}
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def _valid(component: str, payload: Any) -> None:
    errors = sorted(_validator(component).iter_errors(payload), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_committed_document_is_current():
    assert yaml.safe_load(DOC.read_text()) == yaml.safe_load(render_yaml()), (
        "docs/asyncapi.yaml is stale: run `manage.py asyncapi`"
    )


def test_served_as_json_unless_yaml_is_asked_for(api):
    """Issue 14: without an Accept header the document was YAML while a generated client parses
    JSON; JSON is the default, the first media type the schema lists."""
    plain = api.get("/v1/sync/asyncapi")
    assert plain.status_code == 200
    assert plain["Content-Type"] == "application/json"
    assert plain.json()["channels"].keys() == {"changes", "push", "events"}
    op = api.get("/v1/schema", {"format": "json"}).json()["paths"]["/v1/sync/asyncapi"]["get"]
    assert list(op["responses"]["200"]["content"]) == ["application/json", "application/yaml"]
    for accept in ("application/yaml", "text/yaml, */*"):
        as_yaml = api.get("/v1/sync/asyncapi", HTTP_ACCEPT=accept)
        assert as_yaml["Content-Type"].startswith("application/yaml")
        assert yaml.safe_load(as_yaml.content) == plain.json()


def test_every_union_is_chosen_by_its_type():
    """Issue 14: a change's data, a push op's fields and a push result's data are one variant per
    registered type, chosen by `type`, so a generated client never takes one type for another."""
    schemas = document()["components"]["schemas"]
    for union in ("ChangeOutput", "PushOpInputRequest", "PushResultOutput"):
        typed = [schemas[member["$ref"].rsplit("/", 1)[1]] for member in schemas[union]["oneOf"]]
        values = [value for variant in typed for value in variant["properties"]["type"]["enum"]]
        assert len(values) == len(set(values)), union  # exclusive: one variant per value
        assert {v for v in values if v is not None} == set(registry.names()), union
    assert (
        schemas["ChangeOutput"]["discriminator"] == schemas["PushOpInputRequest"]["discriminator"] == "type"
    )
    assert None in [v for m in schemas["PushResultOutput"]["oneOf"] for v in _enum(schemas, m)]


def _enum(schemas: dict[str, Any], member: dict[str, Any]) -> list[Any]:
    return schemas[member["$ref"].rsplit("/", 1)[1]]["properties"]["type"]["enum"]


def test_real_push_and_pull_payloads_validate(account):
    list_id, task_id, note_id = (str(uuid.uuid4()) for _ in range(3))
    ops = [
        op("tasklist", list_id, name="L"),
        op(
            "task",
            task_id,
            list=list_id,
            title="T",
            due="2026-03-01T09:00:00+01:00",
            recurrence={"freq": "weekly", "interval": 2},
            tags=["a"],
        ),
        op("note", note_id, title="N", body="b", pinned=True),
        op("note", note_id, base=1, body="c"),
        op("note", str(uuid.uuid4()), tags="bad"),  # rejected by the server ...
        op("task", task_id, action="delete", base=1),
    ]
    request = {"ops": ops[:4] + ops[5:]}
    _valid("PushRequest", request)
    response = account.client.post("/v1/sync/push", {"ops": ops}, format="json").json()
    _valid("PushOutput", response)
    assert {r["status"] for r in response["results"]} >= {"applied", "rejected"}
    page = account.client.get("/v1/sync/changes").json()
    assert {c["type"] for c in page["changes"]} == {"tasklist", "task", "note"}
    _valid("ChangesOutput", page)


@pytest.mark.parametrize(
    "bad_op",
    [
        {"op_id": "x", "type": "spaceship", "action": "upsert", "id": str(uuid.uuid4())},
        {"op_id": "x", "type": "note", "action": "merge", "id": str(uuid.uuid4())},
        {"op_id": "x", "type": "note", "action": "upsert", "id": "not-a-uuid"},
        {
            "op_id": "x",
            "type": "note",
            "action": "upsert",
            "id": str(uuid.uuid4()),
            "fields": {"pinned": [1]},
        },
        {
            "op_id": "x",
            "type": "task",
            "action": "upsert",
            "id": str(uuid.uuid4()),
            "fields": {"priority": "high"},
        },
    ],
)
def test_malformed_ops_do_not_validate_and_are_rejected_by_the_server(account, bad_op):
    assert list(_validator("PushRequest").iter_errors({"ops": [bad_op]}))
    [result] = push(account, bad_op)
    assert result["status"] == "rejected"
