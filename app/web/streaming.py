"""SSE responses: frames streamed unbuffered and uncached, holding the user's stream slot for the
stream's life.

Part of the web layer; imports no other `app.web` module. The slot is anything with an idempotent
`release()` (app.limits.StreamSlot).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from flask import Response


class Slot(Protocol):
    def release(self) -> None: ...


def _held(frames: Iterator[bytes], slot: Slot | None) -> Iterator[bytes]:
    try:
        yield from frames
    finally:
        # Closing this generator (the client went away, the server shut down) closes the
        # journal follower too; then the slot is free.
        close = getattr(frames, "close", None)
        try:
            if close is not None:
                close()
        finally:
            if slot is not None:
                slot.release()


def sse_response(frames: Iterator[bytes], slot: Slot | None = None) -> Response:
    """Stream SSE frames unbuffered and uncached; release `slot` when the response closes."""
    response = Response(_held(frames, slot), mimetype="text/event-stream")
    if slot is not None:
        # A response that is never iterated (a HEAD, a client gone before the first byte) is
        # still closed by the server: release there too. `release` is idempotent.
        response.call_on_close(slot.release)
    response.headers["Cache-Control"] = "no-cache, no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response
