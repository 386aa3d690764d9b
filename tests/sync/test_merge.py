"""The per-field merge on its own (apps/sync/merge.py): no database, every case of the rule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from apps.sync.merge import merge_fields


def test_a_field_the_server_did_not_change_since_the_base_takes_the_clients_value() -> None:
    merged = merge_fields(
        client={"title": "new"}, server={"title": "old"}, field_versions={"title": 3}, base_version=3
    )
    assert (merged.changes, merged.conflicts) == ({"title": "new"}, [])


def test_a_field_changed_on_both_sides_is_a_conflict_and_the_server_keeps_its_value() -> None:
    merged = merge_fields(
        client={"title": "mine", "body": "b"},
        server={"title": "theirs", "body": "a"},
        field_versions={"title": 5, "body": 2},
        base_version=4,
    )
    assert merged.changes == {"body": "b"}
    assert merged.conflicts == [{"field": "title", "server": "theirs", "client": "mine"}]


def test_the_same_value_on_both_sides_is_neither_a_change_nor_a_conflict() -> None:
    merged = merge_fields(
        client={"done": True}, server={"done": True}, field_versions={"done": 9}, base_version=1
    )
    assert (merged.changes, merged.conflicts) == ({}, [])


def test_an_instruction_the_server_does_not_store_always_applies() -> None:
    merged = merge_fields(
        client={"after": "x", "title": "t"},
        server={"title": "t"},
        field_versions={"title": 7},
        base_version=1,
    )
    assert (merged.changes, merged.conflicts) == ({"after": "x"}, [])


NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
VALUES = st.integers(min_value=0, max_value=3)


@given(
    client=st.dictionaries(NAMES, VALUES),
    server=st.dictionaries(NAMES, VALUES),
    field_versions=st.dictionaries(NAMES, st.integers(min_value=1, max_value=6)),
    base_version=st.integers(min_value=0, max_value=6),
)
def test_every_pushed_field_is_exactly_one_of_change_conflict_or_already_equal(
    client: dict[str, int], server: dict[str, int], field_versions: dict[str, int], base_version: int
) -> None:
    merged = merge_fields(
        client=client, server=server, field_versions=field_versions, base_version=base_version
    )
    conflicted = {c["field"] for c in merged.conflicts}
    assert not conflicted & set(merged.changes)
    for name, value in client.items():
        if name not in server:
            assert merged.changes[name] == value
        elif server[name] == value:
            assert name not in merged.changes
            assert name not in conflicted
        elif field_versions.get(name, 0) > base_version:
            assert {"field": name, "server": server[name], "client": value} in merged.conflicts
        else:
            assert merged.changes[name] == value
    assert set(merged.changes) | conflicted <= set(client)
