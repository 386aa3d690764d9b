"""The live stream's rules that need no server (the stream itself, across processes and Redis,
is tested in test_events_stack.py): the route refuses to run under WSGI, refuses bad input
with problem+json, is in the schema, and a stream's state coalesces notifications."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from apps.sync.hub import Listener

pytestmark = pytest.mark.django_db


def test_a_wsgi_process_refuses_to_hold_a_stream(account: Any) -> None:
    response = account.client.get("/v1/sync/events", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "30"
    assert response.json()["code"] == "events_unavailable"


def test_without_a_token_it_is_401(api: Any) -> None:
    response = api.get("/v1/sync/events", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("value", ["x", "-1", "1.5", "²", str(2**63), "9" * 5000])
def test_a_malformed_last_event_id_is_400(account: Any, value: str) -> None:
    response = account.client.get("/v1/sync/events", HTTP_LAST_EVENT_ID=value)
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "Last-Event-ID": ["The id of the last event you got (a sequence number), or none."]
    }


def test_the_schema_describes_the_stream(api: Any) -> None:
    operation = api.get("/v1/schema", {"format": "json"}).json()["paths"]["/v1/sync/events"]["get"]
    ok = operation["responses"]["200"]["content"]
    assert list(ok) == ["text/event-stream"]
    assert ok["text/event-stream"]["schema"] == {"$ref": "#/components/schemas/SyncEvent"}
    assert {"429", "503", "401"} <= set(operation["responses"])
    assert [p["name"] for p in operation["parameters"] if p["in"] == "header"] == ["Last-Event-ID"]


def _listener(sent: int = -1) -> Listener:
    return Listener(
        owner_id=uuid.uuid4(),
        session_id="s",
        credentials={},
        authenticators=[],
        expires_at=0,
        sent=sent,
    )


def test_notifications_coalesce_into_one_pending_event() -> None:
    """A slow reader costs one pending event however many changes happen: the newest seq and the
    union of the types; an older or repeated seq changes nothing."""
    listener = _listener(sent=4)
    listener.offer(4, ["note"])  # what the client has seen already
    assert listener.take() is None
    for seq, kind in [(6, "note"), (5, "task"), (9, "task"), (7, "file")]:
        listener.offer(seq, [kind])
    assert listener.take() == (9, ["file", "note", "task"])
    assert listener.take() is None
    listener.offer(10, None)  # a catch-up read: the types are unknown
    listener.offer(11, ["note"])
    assert listener.take() == (11, None)


def test_a_reconnect_behind_the_server_is_told_where_the_feed_is() -> None:
    """Last-Event-ID ahead of the feed (a restored database): the event says the server's seq,
    the client's next pull answers 410 resync_required."""
    listener = _listener(sent=50)
    listener.offer(42, None)
    assert listener.take() == (42, None)
