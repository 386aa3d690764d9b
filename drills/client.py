"""A small HTTP client for the drills: one request per connection (gunicorn's sync workers close
every connection after the response anyway), every outcome classified, nothing retried behind
the drill's back.

An outcome is one of:
- `ok`: a 2xx/3xx answer;
- `client_error`: a 4xx answer (a refusal the API is allowed to give, e.g. 409);
- `server_error`: a 5xx answer;
- `refused`: the connection could not be opened (nothing listens: the request was never sent);
- `cut`: the connection broke after the request was sent, or no answer came in time.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

PASSWORD = "Tq8-correct-horse-battery-staple"


@dataclass
class Reply:
    kind: str
    status: int
    headers: dict[str, str]
    body: bytes
    started: float
    elapsed: float
    request_id: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15.0,
    drop_after_send: bool = False,
) -> Reply:
    """One request on a fresh connection. `drop_after_send` closes the socket as soon as the
    request is out, without reading the answer: a response lost on the way back."""
    request_id = uuid.uuid4().hex
    all_headers = {"Host": "127.0.0.1", "X-Request-ID": request_id, "Connection": "close", **(headers or {})}
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        try:
            connection.connect()
        except ConnectionRefusedError as exc:
            return Reply("refused", 0, {}, b"", started, time.monotonic() - started, request_id, repr(exc))
        try:
            connection.request(method, path, body=body, headers=all_headers)
            if drop_after_send:
                return Reply("dropped", 0, {}, b"", started, time.monotonic() - started, request_id)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return Reply("cut", 0, {}, b"", started, time.monotonic() - started, request_id, repr(exc))
        status = response.status
        kind = "ok" if status < 400 else ("client_error" if status < 500 else "server_error")
        return Reply(
            kind,
            status,
            {k.lower(): v for k, v in response.getheaders()},
            data,
            started,
            time.monotonic() - started,
            request_id,
        )
    finally:
        connection.close()


def raw_send(port: int, payload: bytes, *, timeout: float = 5.0) -> None:
    """Send bytes and hang up without waiting (a request cut off half-way)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)


@dataclass
class User:
    """A drill user: registers and signs in over the API; re-signs in when the token ends."""

    port: int
    email: str
    access: str = ""
    id: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def create(cls, port: int, label: str = "drill") -> User:
        user = cls(port=port, email=f"{label}-{uuid.uuid4().hex[:12]}@example.org")
        reply = user.call(
            "POST", "/v1/auth/register", {"email": user.email, "password": PASSWORD}, auth=False
        )
        if reply.status != 201:
            raise RuntimeError(f"register failed: {reply.status} {reply.body[:300]!r} {reply.error}")
        user.id = reply.json()["id"]
        user.login()
        return user

    def login(self) -> None:
        for _ in range(50):
            reply = self.call(
                "POST", "/v1/auth/token", {"email": self.email, "password": PASSWORD}, auth=False
            )
            if reply.status == 200:
                self.access = reply.json()["access"]
                return
            time.sleep(0.2)  # the drill may have just broken something; try again
        raise RuntimeError(f"login failed: {reply.status} {reply.body[:300]!r} {reply.error}")

    def call(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        timeout: float = 15.0,
        drop_after_send: bool = False,
    ) -> Reply:
        all_headers = dict(headers or {})
        body = raw
        if payload is not None:
            body = json.dumps(payload).encode()
            all_headers.setdefault("Content-Type", "application/json")
        if auth:
            all_headers["Authorization"] = f"Bearer {self.access}"
        reply = request(
            self.port,
            method,
            path,
            body=body,
            headers=all_headers,
            timeout=timeout,
            drop_after_send=drop_after_send,
        )
        if auth and reply.status == 401 and b"expired" in reply.body:
            with self._lock:
                self.login()
            return self.call(
                method,
                path,
                payload,
                headers=headers,
                raw=raw,
                timeout=timeout,
                drop_after_send=drop_after_send,
            )
        return reply


def multipart(
    filename: str, data: bytes, content_type: str = "application/octet-stream"
) -> tuple[bytes, str]:
    boundary = f"drill-{uuid.uuid4().hex}"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
