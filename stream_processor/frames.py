"""The one SSE encoder: frames, the keep-alive comment, the journal's line format and error frames' data.

Imports nothing of ours; the person-facing words of an error come from the caller.
"""

from __future__ import annotations

import json
from typing import Any

KEEP_ALIVE = b": keep-alive\n\n"


def dumps(data: dict[str, Any]) -> str:
    """Encode `data` as one line of JSON (every control character escaped)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def sse_raw(event: str, payload: str, frame_id: str) -> bytes:
    """Encode one server-sent event whose `data:` is `payload`, already one line of JSON."""
    return f"event: {event}\nid: {frame_id}\ndata: {payload}\n\n".encode()


def sse_frame(event: str, data: dict[str, Any], frame_id: str) -> bytes:
    """Encode one server-sent event: `event:`, `id:` and one line of JSON `data:`."""
    return sse_raw(event, dumps(data), frame_id)


def frame_id(turn_id: str, n: int) -> str:
    """The `id:` of frame `n` of a turn: `<assistant_message_id>:<n>`."""
    return f"{turn_id}:{n}"


def journal_line(n: int, event: str, data: dict[str, Any]) -> bytes:
    """One journal line: `<n> <event> <json>` and a newline (frame 0 is the turn's header)."""
    return f"{n} {event} {dumps(data)}\n".encode()


def parse_journal_line(line: bytes) -> tuple[int, str, str] | None:
    """Split a journal line into (n, event, JSON payload); None for a torn or foreign line."""
    try:
        n, event, payload = line.decode().rstrip("\n").split(" ", 2)
        return int(n), event, payload
    except (UnicodeDecodeError, ValueError):
        return None


def error_data(
    code: str, *, message: str, retryable: bool, message_id: str, **extra: Any
) -> dict[str, Any]:
    """The data of an `error` frame: code, words for a person, retryable, message id (and extras)."""
    return {
        "code": code,
        "message": message,
        "retryable": retryable,
        "message_id": message_id,
        **extra,
    }
