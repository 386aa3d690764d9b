"""The AsyncAPI 3 document of the sync messages, generated from the same serializers that
validate and shape them (through drf-spectacular's OpenAPI components), so it cannot drift from
what the server accepts and produces. `manage.py asyncapi` writes docs/asyncapi.yaml; the API
serves it at /v1/sync/asyncapi; a test checks the file is current and that real payloads
validate against it."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml
from drf_spectacular.generators import SchemaGenerator

from . import registry

REF = "#/components/schemas/"
# The live stream's events (apps/sync/api/events.py): SSE event name -> payload component.
EVENT_COMPONENTS = {
    "changed": "ChangedEvent",
    "fallback": "FallbackEvent",
    "live": "LiveEvent",
    "closing": "ClosingEvent",
}
EVENT_SUMMARIES = {
    "changed": "Your feed advanced to `seq` (SSE `id:` is `seq`): pull from your cursor",
    "fallback": "Events may be missed for now: poll every `poll_seconds` until `live`",
    "live": "Events flow again: stop polling",
    "closing": "The server ends the stream: reconnect with `Last-Event-ID` "
    "(sign in again for `session_ended`)",
}
RECONNECT_RULE = (
    "Server-Sent Events (`text/event-stream`) over a GET that stays open, authenticated by the "
    "`Authorization: Bearer` header (use a fetch-based SSE client: browsers' EventSource cannot "
    "set it). Each event's `event:` line names the message, its `data:` line is the JSON payload. "
    "The first `changed` comes at once with the feed's current `seq`. Reconnect rule: after any "
    "end of the stream (network, `closing`, a restart) reconnect after the `retry:` delay (2 s, "
    "with jitter) sending `Last-Event-ID: <the last seq you got>`; a `changed` comes at once if "
    "the feed moved meanwhile, nothing if not. Events are hints: pull /changes from your cursor "
    "on each (coalesce: keep the largest `seq`, duplicates and reordering are harmless), and the "
    "feed stays the truth. A `: ping` comment arrives every 20 s; none for 45 s means the "
    "connection is dead: reconnect. 429 `too_many_streams` / 503 `events_full` or "
    "`events_unavailable` at connect: poll and retry after `Retry-After`."
)


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects → JSON Schema (the only difference that matters here is
    `nullable`, which JSON Schema spells as a `null` type)."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        if isinstance(out.get("type"), str) and ("enum" not in out or None in out["enum"]):
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _closure(schemas: dict[str, Any], roots: list[str]) -> dict[str, Any]:
    """The named components and every component they reference."""
    keep: dict[str, Any] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in keep:
            continue
        keep[name] = schemas[name]
        stack = [schemas[name]]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith(REF):
                    pending.append(ref[len(REF) :])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return keep


def _asyncapi_discriminators(node: Any) -> Any:
    """AsyncAPI's schema object names the discriminating property as a plain string (OpenAPI
    has an object with a mapping); the variants' `type` enums already make the choice exact."""
    if isinstance(node, list):
        return [_asyncapi_discriminators(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _asyncapi_discriminators(value) for key, value in node.items()}
    if isinstance(out.get("discriminator"), dict):
        out["discriminator"] = out["discriminator"]["propertyName"]
    return out


@cache
def document() -> dict[str, Any]:
    openapi = SchemaGenerator().get_schema(request=None, public=True)
    types = [registry.get(name) for name in registry.names()]
    roots = ["PushRequest", "PushOutput", "ChangesOutput", *EVENT_COMPONENTS.values()]
    roots += [t.output_component for t in types] + [t.fields_component for t in types]
    # A change, a push op and a push result are unions of one variant per type, chosen by `type`
    # (apps/sync/api/schema.py), the same in both documents.
    schemas = _asyncapi_discriminators(_json_schema(_closure(openapi["components"]["schemas"], roots)))

    def message(name: str, schema: str, summary: str) -> dict[str, Any]:
        return {
            "name": name,
            "contentType": "application/json",
            "summary": summary,
            "payload": {"$ref": REF + schema},
        }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ExampleApp sync",
            "version": openapi["info"]["version"],
            "description": "Messages of the sync protocol (docs/sync.md): pull the change feed, push "
            "operations, hear of changes live (the `events` channel). Transport: HTTPS with a Bearer "
            "access token. Object payloads (`data`) are the REST representations; `fields` are PATCH "
            "bodies of the same resources.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "api": {
                "host": "{host}",
                "protocol": "https",
                "pathname": "/v1/sync",
                "variables": {"host": {"default": "localhost:8000"}},
                "security": [{"$ref": "#/components/securitySchemes/bearer"}],
            },
        },
        "channels": {
            "changes": {
                "address": "/changes?cursor={cursor}&limit={limit}&types={types}",
                "parameters": {"cursor": {}, "limit": {}, "types": {}},
                "messages": {"changesPage": {"$ref": "#/components/messages/changesPage"}},
            },
            "events": {
                "address": "/events",
                "description": RECONNECT_RULE,
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in EVENT_COMPONENTS},
            },
            "push": {
                "address": "/push",
                "messages": {
                    "pushRequest": {"$ref": "#/components/messages/pushRequest"},
                    "pushResults": {"$ref": "#/components/messages/pushResults"},
                },
            },
        },
        "operations": {
            "pullChanges": {
                "action": "receive",
                "channel": {"$ref": "#/channels/changes"},
                "summary": "GET a page of changes after a cursor",
                "messages": [{"$ref": "#/channels/changes/messages/changesPage"}],
            },
            "receiveEvents": {
                "action": "receive",
                "channel": {"$ref": "#/channels/events"},
                "summary": "GET a live stream of your feed's position (Server-Sent Events)",
                "description": RECONNECT_RULE,
                "messages": [{"$ref": f"#/channels/events/messages/{name}"} for name in EVENT_COMPONENTS],
            },
            "pushOperations": {
                "action": "send",
                "channel": {"$ref": "#/channels/push"},
                "summary": "POST a batch of operations",
                "messages": [{"$ref": "#/channels/push/messages/pushRequest"}],
                "reply": {
                    "channel": {"$ref": "#/channels/push"},
                    "messages": [{"$ref": "#/channels/push/messages/pushResults"}],
                },
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "messages": {
                "changesPage": message("changesPage", "ChangesOutput", "Changes after the cursor"),
                "pushRequest": message("pushRequest", "PushRequest", "Operations to apply"),
                "pushResults": message("pushResults", "PushOutput", "One result per operation"),
                **{
                    name: message(name, component, EVENT_SUMMARIES[name])
                    for name, component in EVENT_COMPONENTS.items()
                },
            },
            "schemas": schemas,
        },
    }


def render_yaml() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=100)
