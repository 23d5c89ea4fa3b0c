"""Stages over neutral provider events: cap the text, accumulate the reply, coalesce deltas.

Each stage takes an iterator and returns one, so each is tested with plain lists. Matches on the event
types of `responses_client.events` (the only module of ours imported here); no Flask, no SDK types.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from responses_client.events import (
    Event,
    Finished,
    Idle,
    ReasoningDelta,
    ResponseStarted,
    TextDelta,
)


@dataclass
class Reply:
    """What a turn has produced so far; filled in by `accumulate`."""

    text_parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    response_id: str | None = None
    model: str | None = None
    request_id: str | None = None
    usage: dict[str, int] | None = None
    status: str | None = None  # "completed" | "incomplete" once the upstream said so
    reason: str | None = None
    finish_reason: str | None = None
    refusal: bool = False
    # Identifiers the provider gave (`system_fingerprint`, `service_tier`, rate-limit counts), from
    # `ResponseStarted.metadata` then `Finished.metadata`; a cost the provider billed itself.
    metadata: dict[str, str | int] = field(default_factory=dict)
    billed_cost_usd: float | None = None
    started_at: float = field(default_factory=time.monotonic)
    first_text_at: float | None = None

    @property
    def text(self) -> str:
        """The answer's text so far."""
        return "".join(self.text_parts)

    @property
    def reasoning(self) -> str:
        """The reasoning summary so far."""
        return "".join(self.reasoning_parts)

    def latency_ms(self) -> dict[str, int | None]:
        """Time to the first text and in total, in milliseconds."""
        now = time.monotonic()
        first = self.first_text_at
        return {
            "first_token": None if first is None else round((first - self.started_at) * 1000),
            "total": round((now - self.started_at) * 1000),
        }


class TextCap:
    """Cut the answer at `max_chars` characters (0: no cap); `reached` tells whether it was cut."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.reached = False
        self._count = 0

    def apply(self, events: Iterable[Event]) -> Iterator[Event]:
        """Pass events on until the text passes the cap; then keep the text up to it and close."""
        iterator = iter(events)
        try:
            for event in iterator:
                if self.max_chars and isinstance(event, TextDelta):
                    room = self.max_chars - self._count
                    if len(event.text) > room:
                        if room > 0:
                            yield TextDelta(event.text[:room])
                        self._count = self.max_chars
                        self.reached = True
                        return
                    self._count += len(event.text)
                yield event
        finally:
            # Closing the source closes the upstream response in the adapter's own `finally`.
            close = getattr(iterator, "close", None)
            if close is not None:
                close()


def accumulate(events: Iterable[Event], reply: Reply) -> Iterator[Event]:
    """Record text, reasoning, usage, response id and status into `reply`; pass every event on."""
    for event in events:
        if isinstance(event, TextDelta):
            if reply.first_text_at is None and event.text:
                reply.first_text_at = time.monotonic()
            reply.text_parts.append(event.text)
        elif isinstance(event, ReasoningDelta):
            reply.reasoning_parts.append(event.text)
        elif isinstance(event, ResponseStarted):
            reply.response_id = event.response_id or reply.response_id
            reply.model = event.model or reply.model
            reply.request_id = event.request_id or reply.request_id
            if event.metadata:
                reply.metadata.update(event.metadata)
        elif isinstance(event, Finished):
            reply.status = event.status
            reply.response_id = event.response_id or reply.response_id
            reply.usage = event.usage
            reply.model = event.model or reply.model
            reply.reason = event.reason
            reply.finish_reason = event.finish_reason
            reply.refusal = event.refusal
            if event.metadata:
                reply.metadata.update(event.metadata)
            reply.billed_cost_usd = event.cost_usd
        yield event


def coalesce(
    events: Iterable[Event],
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
        kind = pending_kind or "delta"
        frame = (kind, "".join(pending))
        flushed_kinds.add(kind)
        pending, size, pending_kind = [], 0, None
        last_flush = clock()
        return frame

    try:
        for event in events:
            if isinstance(event, TextDelta | ReasoningDelta):
                if not event.text:
                    continue
                frame_kind = "delta" if isinstance(event, TextDelta) else "reasoning"
                if pending_kind not in (None, frame_kind):
                    yield flush()
                pending_kind = frame_kind
                pending.append(event.text)
                size += len(event.text)
                # The first text of each kind (reasoning, then the answer) goes out at once.
                if frame_kind not in flushed_kinds or size >= max_chars:
                    yield flush()
            elif isinstance(event, Idle):
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


def relay(
    events: Iterable[Event], reply: Reply, emit: Callable[[str, dict[str, str]], object]
) -> None:
    """Run the standard pipeline: accumulate into `reply`, coalesce, and emit each frame."""
    for frame_kind, text in coalesce(accumulate(events, reply)):
        emit(frame_kind, {"text": text})
