"""GET /v1/sync/events: the live stream of a user's feed position, as Server-Sent Events.

The view runs like any DRF view (authentication, limits, problem+json errors) and answers a
streaming response whose body is an async generator, which the ASGI server of the events
process writes as events come (apps/sync/hub.py does the fan-out). Served by a WSGI worker, a
stream would hold that worker for its whole life, so there the route refuses with 503
`events_unavailable` (the ingress sends the path to the events service; docs/sync.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.common.errors import ApplicationError, ErrorCode, ValidationFailed
from apps.common.fields import StrictCharField
from apps.common.schema import PROBLEM_RESPONSES
from apps.common.views import AnyAccept, owner_id

from ..hub import Listener, Slot, hub, read_positions

logger = logging.getLogger(__name__)

# What EventSource (and a fetch-based client honouring it) waits before reconnecting.
RETRY_MS = 2000
CLOSING_REASONS = ["token_expired", "session_ended", "shutdown"]
LAST_EVENT_ID_MAX = 2**63 - 1


# --- the events' payloads (`data:` of each event; the AsyncAPI messages) -------------------------


class ChangedEvent(serializers.Serializer):
    """`event: changed`, `id:` = `seq`: your feed advanced to `seq`. Pull from your cursor."""

    seq = serializers.IntegerField(min_value=0, help_text="The newest sequence number of your feed")
    types = serializers.ListField(
        child=StrictCharField(),
        required=False,
        help_text="Types changed since the last event (`task`, `note`, ...: the feed's types); "
        "absent when not known (after a reconnect or an outage): any type may have changed",
    )


class FallbackEvent(serializers.Serializer):
    """`event: fallback`: events may be missed for now (the server lost its message bus). Poll
    /v1/sync/changes every `poll_seconds` until `live` comes; keep the stream open."""

    poll_seconds = serializers.IntegerField(min_value=1)
    reason = StrictCharField()


class LiveEvent(serializers.Serializer):
    """`event: live`: events flow again after a `fallback`. Stop polling; a `changed` follows
    if the feed moved meanwhile."""

    poll = serializers.BooleanField(help_text="Always false: no need to poll")


class ClosingEvent(serializers.Serializer):
    """`event: closing`: the server ends the stream. `token_expired`: reconnect with a fresh
    access token; `shutdown`: reconnect (another process answers); `session_ended`: sign in
    again. Always send `Last-Event-ID` when reconnecting."""

    reason = serializers.ChoiceField(choices=CLOSING_REASONS)


EVENT_SERIALIZERS = {
    "changed": ChangedEvent,
    "fallback": FallbackEvent,
    "live": LiveEvent,
    "closing": ClosingEvent,
}


def sse(event: str, data: dict[str, Any], *, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def changed(seq: int, types: list[str] | None) -> bytes:
    return sse("changed", {"seq": seq} if types is None else {"seq": seq, "types": types}, event_id=seq)


# --- the stream ----------------------------------------------------------------------------------


async def stream(listener: Listener, slot: Slot) -> AsyncIterator[bytes]:
    try:
        # Nothing before the first `changed` waits on Redis or on asgiref's shared thread: the
        # position is read in the hub's own thread, and the channel is subscribed by the hub,
        # which reads the position again once Redis confirms (a commit in between is heard).
        hub.attach(listener)
        yield f"retry: {RETRY_MS}\n\n".encode()
        try:
            positions = await read_positions([listener.owner_id])
            listener.offer(positions.get(listener.owner_id, 0), None)
        except Exception:  # the database is down: the next message or sweep will tell
            logger.warning("events: could not read the feed position", exc_info=True)
        due = listener.take()
        if due is not None:
            yield changed(*due)
        await hub.settle()
        told_live = True
        while True:
            listener.wake.clear()
            if listener.closing is not None:
                yield sse("closing", {"reason": listener.closing})
                return
            if hub.live != told_live:
                told_live = hub.live
                if told_live:
                    yield sse("live", {"poll": False})
                else:
                    yield sse(
                        "fallback",
                        {"poll_seconds": settings.EVENTS_POLL_SECONDS, "reason": "bus_unavailable"},
                    )
            due = listener.take()
            if due is not None:
                yield changed(*due)
            left = listener.expires_at - time.time()
            if left <= 0:
                listener.close("token_expired")
                continue
            try:
                await asyncio.wait_for(listener.wake.wait(), min(settings.EVENTS_HEARTBEAT_SECONDS, left))
            except TimeoutError:
                if listener.expires_at > time.time():
                    yield b": ping\n\n"  # a comment: keeps proxies from closing an idle stream
    finally:
        hub.detach(listener)
        slot.release()


class EventStreamResponse(StreamingHttpResponse):
    """Gives the stream's slot back when the server closes the response, also if the body was
    never iterated (the client left before the first byte)."""

    def __init__(self, body: AsyncIterator[bytes], slot: Slot) -> None:
        super().__init__(body, content_type="text/event-stream")
        self.slot = slot
        self["Cache-Control"] = "no-cache, no-store, no-transform"
        self["X-Accel-Buffering"] = "no"  # NGINX: pass each event on at once

    def close(self) -> None:
        self.slot.release()
        super().close()


def _last_event_id(request: Request) -> int:
    raw = request.headers.get("Last-Event-ID", "").strip()
    if not raw:
        return -1
    # ASCII digits only (str.isdigit also takes "²"), and short enough to convert: a 5,000-digit
    # header must be a 400, not Python's int-conversion limit.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19) or int(raw) > LAST_EVENT_ID_MAX:
        raise ValidationFailed.field(
            "Last-Event-ID", "The id of the last event you got (a sequence number), or none."
        )
    return int(raw)


class EventsView(APIView):
    content_negotiation_class = AnyAccept  # clients ask for text/event-stream; errors are JSON

    @extend_schema(
        summary="Live stream of your feed position (Server-Sent Events)",
        description="A `text/event-stream` that stays open: `changed` (`id:` and `seq`: your feed "
        "advanced; pull /v1/sync/changes from your cursor), `fallback` (poll every `poll_seconds` "
        "until `live`), `live`, `closing` (the server ends the stream: reconnect, or sign in again "
        "for `session_ended`), and a `: ping` comment every 20 s. The first `changed` comes at "
        "once with the current `seq`; reconnecting with `Last-Event-ID` (the last `seq` seen) "
        "sends it only if the feed moved since. Authenticate with the `Authorization` header "
        "(fetch-based clients; browsers' EventSource cannot set it). 429 `too_many_streams`, 503 "
        "`events_full` / `events_unavailable`: poll instead, retry after `Retry-After`. The event "
        "payloads are the AsyncAPI document's (/v1/sync/asyncapi).",
        parameters=[
            OpenApiParameter(
                "Last-Event-ID",
                {"type": "integer", "minimum": 0, "maximum": LAST_EVENT_ID_MAX},
                location=OpenApiParameter.HEADER,
                description="The `seq` of the last `changed` event you got",
            )
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                response=PolymorphicProxySerializer(
                    component_name="SyncEvent",
                    serializers=list(EVENT_SERIALIZERS.values()),
                    resource_type_field_name=None,
                ),
                description="A stream of events; each event's `data:` is one of these, chosen by its "
                "`event:` name (changed, fallback, live, closing)",
            ),
            503: PROBLEM_RESPONSES[400],
            **PROBLEM_RESPONSES,
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        last_event_id = _last_event_id(request)  # a client's bug is a 400 wherever it lands
        if not isinstance(request._request, ASGIRequest):
            raise ApplicationError(
                "The event stream is served by the events process, not this one: poll /v1/sync/changes.",
                code=ErrorCode.EVENTS_UNAVAILABLE,
                status=503,
                headers={"Retry-After": "30"},
            )
        owner = owner_id(request)
        # The access token's claims (simplejwt): its session, and when it expires.
        claims: dict[str, Any] = getattr(request.auth, "payload", None) or {}
        session_id = str(claims.get("sid", ""))
        # No expiry claim (another authenticator): re-checked by the sweep, ended after 5 minutes.
        expires_at = float(claims.get("exp") or time.time() + 300)
        slot = hub.reserve(owner)
        listener = Listener(
            owner_id=owner,
            session_id=session_id,
            credentials={"HTTP_AUTHORIZATION": request.META.get("HTTP_AUTHORIZATION", "")},
            authenticators=list(request.authenticators or ()),
            expires_at=expires_at,
            sent=last_event_id,
        )
        return EventStreamResponse(stream(listener, slot), slot)
