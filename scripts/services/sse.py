"""A small Server-Sent Events client for the tests (what a fetch-based client does): one GET
with the bearer header and `Last-Event-ID`, read event by event with a timeout."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Event:
    name: str
    data: Any
    id: int | None
    at: float  # time.monotonic() when it was read


class Stream:
    """Over a raw socket: a timed-out read leaves it usable (http.client's file does not), and
    the chunked body is decoded here."""

    def __init__(
        self, port: int, token: str, *, last_event_id: int | None = None, timeout: float = 10
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        lines = [
            "GET /v1/sync/events HTTP/1.1",
            "Host: 127.0.0.1",
            "Accept: text/event-stream",
            f"Authorization: Bearer {token}",
        ]
        if last_event_id is not None:
            lines.append(f"Last-Event-ID: {last_event_id}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.raw = b""  # received, not yet de-chunked
        self.body = b""  # de-chunked, not yet parsed
        self.ended = False
        while b"\r\n\r\n" not in self.raw:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed before the headers")
            self.raw += data
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode().split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
        self.chunked = self.headers.get("transfer-encoding") == "chunked"
        self.pings = 0
        self.retry_ms: int | None = None
        # What came with the headers (often the first events too, in one segment) is body:
        # left in `raw`, it would be read only once more bytes arrived (the next event, or a
        # heartbeat 20 s later).
        self._absorb(b"")

    def getheader(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def _fill(self, timeout: float) -> bool:
        """Read what arrives within `timeout`; False if nothing did."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except OSError:
            data = b""
        if not data:
            self.ended = True
            return False
        self._absorb(data)
        return True

    def _absorb(self, data: bytes) -> None:
        """Add received bytes, moving what is complete into `body` (de-chunked)."""
        self.raw += data
        if not self.chunked:
            self.body, self.raw = self.body + self.raw, b""
            return
        while b"\r\n" in self.raw:
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                self.ended = True
                self.raw = b""
                break
            if len(rest) < size + 2:
                break
            self.body += rest[:size]
            self.raw = rest[size + 2 :]

    def problem(self) -> dict[str, Any]:
        assert self.status != 200
        if not self.chunked:
            self.body, self.raw = self.body + self.raw, b""
        length = int(self.headers.get("content-length", "0"))
        while len(self.body) < length and not self.ended:
            self._fill(5)
        self.close()
        body: dict[str, Any] = json.loads(self.body)
        return body

    def next(self, timeout: float = 5.0) -> Event | None:
        """The next event within `timeout` seconds (comments counted as pings), None if none
        came; `ended` tells whether the server closed the stream."""
        assert self.status == 200
        deadline = time.monotonic() + timeout
        while True:
            while b"\n\n" in self.body:
                block, self.body = self.body.split(b"\n\n", 1)
                fields: dict[str, str] = {}
                for line in block.decode().split("\n"):
                    if line.startswith(":"):
                        self.pings += 1
                    elif line.startswith("retry: "):
                        self.retry_ms = int(line[7:])
                    elif line:
                        key, _, value = line.partition(": ")
                        fields[key] = value
                if "event" in fields:
                    return Event(
                        name=fields["event"],
                        data=json.loads(fields["data"]),
                        id=int(fields["id"]) if "id" in fields else None,
                        at=time.monotonic(),
                    )
            left = deadline - time.monotonic()
            if (self.ended or left <= 0 or not self._fill(left)) and (
                self.ended or time.monotonic() >= deadline
            ):
                return None

    def wait_for(self, name: str, timeout: float = 5.0) -> Event:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            event = self.next(deadline - time.monotonic())
            if event is None:
                if self.ended:
                    break
                continue
            if event.name == name:
                return event
            seen.append(event)
        raise AssertionError(f"no `{name}` event within {timeout}s (saw {seen}, ended={self.ended})")

    def close(self) -> None:
        self.sock.close()
