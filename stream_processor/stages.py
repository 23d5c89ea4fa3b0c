"""Stages over neutral provider events: accumulate the reply, coalesce deltas, encode SSE frames.

Each stage takes an iterator and returns one, so each is tested with plain lists. No Flask, no SDK types.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

KEEP_ALIVE = b": keep-alive\n\n"
# The person-facing texts of the two errors this package can end a turn with by itself.
INTERRUPTED_MESSAGE = "The answer was interrupted. Try again."
INTERNAL_MESSAGE = "Something went wrong on our side. Try again."


def _dumps(data: dict[str, Any]) -> str:
    # json escapes every control character, so the payload is always exactly one line.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def sse_frame(event: str, data: dict[str, Any], frame_id: str) -> bytes:
    """Encode one server-sent event: `event:`, `id:` and one line of JSON `data:`."""
    return f"event: {event}\nid: {frame_id}\ndata: {_dumps(data)}\n\n".encode()


@dataclass
class Reply:
    """What a turn has produced so far; filled in by `accumulate`."""

    text_parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    response_id: str | None = None
    model: str | None = None
    usage: dict[str, int] | None = None
    status: str | None = None  # "completed" | "incomplete" once the upstream said so
    reason: str | None = None
    refusal: bool = False
    started_at: float = field(default_factory=time.monotonic)
    first_text_at: float | None = None

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_parts)

    def latency_ms(self) -> dict[str, int | None]:
        now = time.monotonic()
        first = self.first_text_at
        return {
            "first_token": None if first is None else round((first - self.started_at) * 1000),
            "total": round((now - self.started_at) * 1000),
        }


def accumulate(events: Iterable[Any], reply: Reply) -> Iterator[Any]:
    """Record text, reasoning, usage, response id and status into `reply`; pass every event on."""
    for event in events:
        kind = type(event).__name__
        if kind == "TextDelta":
            if reply.first_text_at is None and event.text:
                reply.first_text_at = time.monotonic()
            reply.text_parts.append(event.text)
        elif kind == "ReasoningDelta":
            reply.reasoning_parts.append(event.text)
        elif kind == "ResponseStarted":
            reply.response_id = event.response_id
            reply.model = event.model or reply.model
        elif kind == "Finished":
            reply.status = event.status
            reply.response_id = event.response_id or reply.response_id
            reply.usage = event.usage
            reply.model = event.model or reply.model
            reply.reason = event.reason
            reply.refusal = bool(getattr(event, "refusal", False))
        yield event


def coalesce(
    events: Iterable[Any],
    *,
    max_chars: int = 4096,
    min_interval: float = 0.03,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[tuple[str, str]]:
    """Merge consecutive deltas into `("delta" | "reasoning", text)` frames.

    The first text of each kind goes out at once; after that, pending text is flushed when the upstream's buffer
    is used up (`Idle`) and `min_interval` has passed since the last flush, before any other event,
    past `max_chars`, at the end, and before an error propagates. So a fast stream costs the browser
    (and this server) a frame every 30 ms rather than one per token. The price: while the upstream
    is silent mid-answer, up to `min_interval` worth of text waits for its next event.
    """
    pending_kind: str | None = None
    pending: list[str] = []
    size = 0
    last_flush: float | None = None
    flushed_kinds: set[str] = set()

    def flush() -> tuple[str, str]:
        nonlocal pending, size, pending_kind, last_flush
        frame = (pending_kind, "".join(pending))
        flushed_kinds.add(pending_kind)  # type: ignore[arg-type]
        pending, size, pending_kind = [], 0, None
        last_flush = clock()
        return frame  # type: ignore[return-value]

    try:
        for event in events:
            kind = type(event).__name__
            if kind in ("TextDelta", "ReasoningDelta"):
                if not event.text:
                    continue
                frame_kind = "delta" if kind == "TextDelta" else "reasoning"
                if pending_kind not in (None, frame_kind):
                    yield flush()
                pending_kind = frame_kind
                pending.append(event.text)
                size += len(event.text)
                # The first text of each kind (reasoning, then the answer) goes out at once.
                if frame_kind not in flushed_kinds or size >= max_chars:
                    yield flush()
            elif kind == "Idle":
                if pending and (last_flush is None or clock() - last_flush >= min_interval):
                    yield flush()
            elif pending:
                yield flush()
    except Exception:
        if pending:
            yield flush()
        raise
    if pending:
        yield flush()


def relay(events: Iterable[Any], reply: Reply, emit: Callable[[str, dict[str, Any]], None]) -> None:
    """Run the standard pipeline: accumulate into `reply`, coalesce, and emit each frame."""
    for frame_kind, text in coalesce(accumulate(events, reply)):
        emit(frame_kind, {"text": text})
