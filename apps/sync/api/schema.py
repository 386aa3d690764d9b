"""The sync messages in OpenAPI as unions a generated client can choose from exactly.

On the wire a change, a push op and a push result carry `type` beside the object (`data`) or the
fields (`fields`), whose shape depends on it. drf-spectacular can only say "data is one of five
shapes", and a generated client then guesses (openapi-python-client took task fields for a note).
This hook rewrites each message as a union of one variant per registered type, `type` an enum of
that one name, so `type` chooses the variant (declared as a discriminator where every value maps
to a variant); a push result of an op that named no known type has its own variant
(`UntypedPushResult`, `type: null`)."""

from __future__ import annotations

import copy
import re
from typing import Any

from .. import registry

REF = "#/components/schemas/"


def _variant_prefix(sync_type: registry.SyncType) -> str:
    """TaskListOutput -> TaskList, ViewerStateSyncOutput -> ViewerState."""
    return re.sub(r"(Sync)?Output$", "", sync_type.output_component)


def _nullable_ref(component: str) -> dict[str, Any]:
    return {"allOf": [{"$ref": REF + component}], "nullable": True}


def _union(
    schemas: dict[str, Any],
    *,
    message: str,
    suffix: str,
    key: str,
    shape: Any,
    untyped: str | None = None,
) -> None:
    """Replace component `message` by a discriminated union of per-type copies of it, where
    `type` is the type's name and `key` is `shape(sync_type)`."""
    base = schemas[message]
    variants: dict[str, str] = {}
    for name in registry.names():
        sync_type = registry.get(name)
        variant = copy.deepcopy(base)
        variant["properties"]["type"] = {"type": "string", "enum": [name]}
        variant["properties"][key] = shape(sync_type)
        variant["required"] = sorted({*variant.get("required", []), "type"})
        component = _variant_prefix(sync_type) + suffix
        schemas[component] = variant
        variants[name] = REF + component
    members = [{"$ref": ref} for ref in variants.values()]
    if untyped is not None:
        # An op naming no known type is answered too, with `type: null` (the server repeats only
        # a registered type), so the variants stay exclusive and `type` still decides.
        schemas[untyped] = {
            **copy.deepcopy(base),
            "description": "The result of an op whose `type` is missing or unknown: always rejected.",
        }
        schemas[untyped]["properties"]["type"] = {"type": "string", "nullable": True, "enum": [None]}
        schemas[untyped]["properties"]["status"] = {"type": "string", "enum": ["rejected"]}
        schemas[untyped]["properties"].pop(key, None)
        members.append({"$ref": REF + untyped})
    union: dict[str, Any] = {"oneOf": members}
    if untyped is None:
        # A discriminator maps values to variants; a null `type` maps to none (generators then
        # invent a value from the schema's name), so the results' union is chosen by the
        # variants' `type` enums alone, which are exclusive.
        union["discriminator"] = {"propertyName": "type", "mapping": variants}
    if "description" in base:
        union["description"] = base["description"]
    schemas[message] = union


def discriminated_sync_unions(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook (see the module docstring)."""
    schemas = result.get("components", {}).get("schemas", {})
    if "ChangeOutput" not in schemas:
        return result
    _union(
        schemas,
        message="ChangeOutput",
        suffix="Change",
        key="data",
        shape=lambda t: _nullable_ref(t.output_component),
    )
    _union(
        schemas,
        message="PushOpInputRequest",
        suffix="PushOp",
        key="fields",
        shape=lambda t: {"$ref": REF + t.fields_component},
    )
    _union(
        schemas,
        message="PushResultOutput",
        suffix="PushResult",
        key="data",
        shape=lambda t: _nullable_ref(t.output_component),
        untyped="UntypedPushResult",
    )
    for placeholder in ("SyncObject", "SyncFieldsRequest"):
        schemas.pop(placeholder, None)  # every use was replaced by a typed variant above
    return result
