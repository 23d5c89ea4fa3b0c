"""A tiny real HTTP upstream on 127.0.0.1 whose answers a test writes byte by byte (or withholds).

For what tests/fake_upstream.py does not do: stay silent before the response headers, or send an
`incomplete` reason and an `x-request-id` chosen by the test.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Seen:
    """One request the upstream received."""

    body: dict[str, Any]
    closed_by_client: threading.Event = field(default_factory=threading.Event)


# An answer: given the request body and the socket, write (or withhold) the reply; True when the
# client hung up first.
Answer = Callable[[dict[str, Any], socket.socket], bool]


def wait_for_hangup(sock: socket.socket, seconds: float) -> bool:
    """Stay silent up to `seconds`; return True as soon as the client hangs up."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], min(left, 0.05))
        if ready:
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    return True
            except OSError:
                return True
    return False


def silent(seconds: float) -> Answer:
    """Accept the request and send nothing, not even the headers, for `seconds`."""

    def answer(body: dict[str, Any], sock: socket.socket) -> bool:
        return wait_for_hangup(sock, seconds)

    return answer


def sse_events(events: list[dict[str, Any]], *, headers: dict[str, str] | None = None) -> Answer:
    """Answer 200 with these Responses API stream events, then close."""

    def answer(body: dict[str, Any], sock: socket.socket) -> bool:
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        payload = b"".join(
            f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': n})}\n\n".encode()
            for n, e in enumerate(events)
        )
        sock.sendall(head.encode() + b"\r\n" + payload)
        return False

    return answer


class RawUpstream:
    """Serves `/v1/responses` with the answers queued in `answers` (the last one repeats)."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            while len(rest) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                rest += chunk
            seen = Seen(json.loads(rest or b"{}"))
            with self._lock:
                index = len(self.seen)
                self.seen.append(seen)
                answer = self.answers[min(index, len(self.answers) - 1)]
            if answer(seen.body, conn):
                seen.closed_by_client.set()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(2)


@contextmanager
def raw_upstream(answers: list[Answer]) -> Iterator[RawUpstream]:
    """Run a RawUpstream for the length of a `with` block."""
    upstream = RawUpstream(answers)
    upstream._thread.start()
    try:
        yield upstream
    finally:
        upstream.close()


def completed_stream(
    text: str,
    *,
    status: str = "completed",
    reason: str | None = None,
    response_id: str = "resp_raw1",
    model: str = "gpt-5.4-mini",
) -> list[dict[str, Any]]:
    """The events of a whole streamed response (text in one delta), ending `completed` or `incomplete`."""
    snapshot = {"id": response_id, "object": "response", "status": "in_progress", "model": model}
    item = {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress"}
    ref = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    final = {
        **snapshot,
        "status": status,
        "incomplete_details": {"reason": reason} if reason else None,
        "usage": {
            "input_tokens": 5,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 3,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 8,
        },
        "output": [],
    }
    return [
        {"type": "response.created", "response": snapshot},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {
            "type": "response.content_part.added",
            **ref,
            "part": {"type": "output_text", "text": ""},
        },
        {"type": "response.output_text.delta", **ref, "delta": text},
        {"type": f"response.{status}", "response": final},
    ]
