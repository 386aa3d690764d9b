"""The tests' and drills' SSE client (scripts/services/sse.py) against a scripted server: what
arrives in the same segment as the headers is read at once. It was not: a first event sent with
the headers waited for the next bytes (the next event, or a heartbeat 20 s later), which is
what a client reading "no first `changed` for 10 s" saw whenever the server answered fast."""

from __future__ import annotations

import socket
import threading
import time

from scripts.services.sse import Stream

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _serve_once(payload: bytes) -> tuple[int, threading.Thread]:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def run() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)  # the request
            connection.sendall(payload)  # one segment: headers and the first events
            time.sleep(2)  # then silence, as an idle stream
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return port, thread


def test_events_that_came_with_the_headers_are_read_at_once() -> None:
    body = _chunk(b"retry: 2000\n\n") + _chunk(b'id: 7\nevent: changed\ndata: {"seq":7}\n\n')
    port, thread = _serve_once(HEAD + body)
    stream = Stream(port, "token")
    started = time.monotonic()
    event = stream.next(timeout=1.5)
    assert event is not None, "the event sent with the headers was not read"
    assert (event.name, event.data, event.id) == ("changed", {"seq": 7}, 7)
    assert time.monotonic() - started < 0.5
    assert stream.retry_ms == 2000
    stream.close()
    thread.join(timeout=5)
