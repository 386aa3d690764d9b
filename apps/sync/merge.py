"""The per-field merge of a pushed change against `base_version`: a pure function, so the rule
is tested on its own (tests/sync/test_merge.py) and every field-merged type shares it.

A field the server has not changed since the client's base takes the client's value; a field
changed on both sides to different values is a conflict (the server's value stays, both are
reported); a field equal on both sides is no change. A client field the server does not store
(an instruction such as a task's `after`) always applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldMerge:
    changes: dict[str, Any] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)


def merge_fields(
    *,
    client: Mapping[str, Any],
    server: Mapping[str, Any],
    field_versions: Mapping[str, int],
    base_version: int,
) -> FieldMerge:
    """`client`: the pushed fields, validated; `server`: the stored values of those of them the
    server keeps; `field_versions`: the version at which each stored field last changed."""
    merged = FieldMerge()
    for name, client_value in client.items():
        if name not in server:
            merged.changes[name] = client_value
            continue
        server_value = server[name]
        if server_value == client_value:
            continue
        if field_versions.get(name, 0) > base_version:
            merged.conflicts.append({"field": name, "server": server_value, "client": client_value})
        else:
            merged.changes[name] = client_value
    return merged
