"""One layered server-sent-events parser for every adapter that reads the raw stream.

bytes chunks -> `iter_lines` -> lines -> `iter_sse` -> `SSEMessage`s -> `iter_events` -> JSON dicts.
With `idle=True` each layer passes an `Idle` marker through after every chunk whose complete lines
are all handled, so the adapter can tell the coalescing stage the upstream's buffer is used up.
Lean on purpose (the relay's CPU budget is per delta): no per-byte work, one split per chunk.
Imports no SDK; knows nothing of any provider's event types.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal, NamedTuple, overload

from responses_client.errors import Interrupted
from responses_client.events import Idle

DONE = b"[DONE]"  # OpenRouter's and vLLM's end marker (OpenAI just closes the stream)
IDLE = Idle()
MAX_LINE = 8 * 1024 * 1024


class SSEMessage(NamedTuple):
    """One dispatched event: its `event:` name, joined `data:` lines (bytes) and last `id:`."""

    event: str | None
    data: bytes
    id: str | None = None

    @property
    def done(self) -> bool:
        """True for the `[DONE]` end marker."""
        return self.data == DONE


@overload
def iter_lines(chunks: Iterable[bytes], *, idle: Literal[False] = ...) -> Iterator[bytes]: ...
@overload
def iter_lines(chunks: Iterable[bytes], *, idle: Literal[True]) -> Iterator[bytes | Idle]: ...
def iter_lines(chunks: Iterable[bytes], *, idle: bool = False) -> Iterator[bytes | Idle]:
    """Split byte chunks into lines (LF or CRLF, terminator dropped); a partial last line is lost.

    A line longer than `MAX_LINE` bytes raises `Interrupted` (an upstream must not make the
    adapter buffer without bound; `iter_sse` bounds a message's data the same way).
    """
    pending: list[bytes] = []  # pieces of an unfinished line (joined once, not re-copied per chunk)
    size = 0
    for chunk in chunks:
        if b"\n" not in chunk:
            if chunk:
                pending.append(chunk)
                size += len(chunk)
                if size > MAX_LINE:
                    raise Interrupted(upstream_code="line_too_long")
            continue
        if pending:
            pending.append(chunk)
            lines = b"".join(pending).split(b"\n")
        else:
            lines = chunk.split(b"\n")
        tail = lines.pop()
        pending, size = ([tail], len(tail)) if tail else ([], 0)
        for line in lines:
            yield line[:-1] if line.endswith(b"\r") else line
        if idle:
            yield IDLE


@overload
def iter_sse(lines: Iterable[bytes]) -> Iterator[SSEMessage]: ...
@overload
def iter_sse(lines: Iterable[bytes | Idle]) -> Iterator[SSEMessage | Idle]: ...
def iter_sse(lines: Iterable[bytes | Idle]) -> Iterator[SSEMessage | Idle]:
    """Group lines into messages per the SSE spec: comments and `retry:` skipped, data joined."""
    data: list[bytes] = []
    size = 0
    event: bytes | None = None
    last_id: str | None = None
    for line in lines:
        if isinstance(line, Idle):
            yield line
            continue
        if line.startswith(b"data:"):  # the common case first
            value = line[5:]
            data.append(value[1:] if value[:1] == b" " else value)
            size += len(value)
            if size > MAX_LINE:
                raise Interrupted(upstream_code="line_too_long")
        elif not line:
            if data:
                payload = data[0] if len(data) == 1 else b"\n".join(data)
                yield SSEMessage(
                    None if event is None else event.decode("utf-8", "replace"), payload, last_id
                )
                data = []
                size = 0
            event = None
        elif line[:1] == b":":
            continue  # a comment (keep-alive)
        else:
            name, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if name == b"event":
                event = value
            elif name == b"data":  # "data" with no colon: an empty data line
                data.append(value)
            elif name == b"id" and b"\0" not in value:
                last_id = value.decode("utf-8", "replace")
            # `retry:` and unknown fields are ignored, as the spec says.
    # A message without its closing blank line is discarded (the stream was cut).


@overload
def iter_events(
    chunks: Iterable[bytes], *, idle: Literal[False] = ...
) -> Iterator[dict[str, Any]]: ...
@overload
def iter_events(
    chunks: Iterable[bytes], *, idle: Literal[True]
) -> Iterator[dict[str, Any] | Idle]: ...
def iter_events(chunks: Iterable[bytes], *, idle: bool = False) -> Iterator[dict[str, Any] | Idle]:
    """JSON-decode each message's data; stop at `[DONE]`; a malformed one raises `Interrupted`."""
    loads = json.loads
    for message in iter_sse(iter_lines(chunks, idle=True) if idle else iter_lines(chunks)):
        if isinstance(message, Idle):
            yield message
            continue
        data = message.data
        if data == DONE:
            return
        try:
            event = loads(data)
        except ValueError as exc:
            raise Interrupted(upstream_code="malformed_event") from exc
        if event.__class__ is not dict:
            raise Interrupted(upstream_code="malformed_event")
        yield event
