"""The journal of a turn in flight: its frames on disk, so any worker process can re-attach.

Append-only, no fsync per frame; readers tail it and ignore a torn last line. No Flask, no SDK types.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .stages import INTERRUPTED_MESSAGE, KEEP_ALIVE, _dumps, sse_frame

TERMINAL_EVENTS = frozenset({"done", "error"})
FINISHED_TURN_TTL_SECONDS = 600.0


@dataclass(frozen=True)
class TurnPaths:
    """Where one conversation's turn state lives: `<user>/.turns/<cid>.{lock,jsonl,stop}`."""

    directory: Path
    conversation_id: str

    @property
    def lock(self) -> Path:
        return self.directory / f"{self.conversation_id}.lock"

    @property
    def journal(self) -> Path:
        return self.directory / f"{self.conversation_id}.jsonl"

    @property
    def stop(self) -> Path:
        return self.directory / f"{self.conversation_id}.stop"


# Same-process readers are woken at once; readers in another process poll.
_conditions: dict[str, threading.Condition] = {}
_conditions_guard = threading.Lock()


def _condition(path: Path) -> threading.Condition:
    key = str(path)
    with _conditions_guard:
        cond = _conditions.get(key)
        if cond is None:
            cond = _conditions[key] = threading.Condition()
        return cond


def _journal_line(n: int, event: str, data: dict[str, Any]) -> bytes:
    return f"{n} {event} {_dumps(data)}\n".encode()


def _parse_journal_line(line: bytes) -> tuple[int, str, str] | None:
    try:
        n, event, payload = line.decode().rstrip("\n").split(" ", 2)
        return int(n), event, payload
    except (UnicodeDecodeError, ValueError):
        return None


class Journal:
    """Append-only record of one turn's frames (no fsync: a torn last line is ignored by readers)."""

    def __init__(self, path: Path, turn_id: str) -> None:
        self.path = path
        self.turn_id = turn_id
        self.count = 0
        self._file: Any = None
        self._lock = threading.Lock()
        self._cond = _condition(path)

    def begin(self, first_event: str, first_data: dict[str, Any]) -> None:
        """Start a fresh journal (a new inode, so readers of the previous turn keep theirs)."""
        header = _journal_line(0, "turn", {"turn_id": self.turn_id, "started_at": time.time()})
        fd, tmp = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - held for the turn's life
        self.append(first_event, first_data)

    def append(self, event: str, data: dict[str, Any]) -> int:
        """Append one frame and wake this process's readers; return its number."""
        with self._lock:
            self.count += 1
            n = self.count
            self._file.write(_journal_line(n, event, data))
        with self._cond:
            self._cond.notify_all()
        # Hand the GIL to this process's readers now, rather than after the switch interval: a
        # worker parsing a burst would otherwise hold the first frame back by several ms.
        time.sleep(0)
        return n

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        with self._cond:
            self._cond.notify_all()


def read_header(path: Path) -> dict[str, Any] | None:
    """Return the journal's header (`turn_id`, `started_at`), or None when there is none."""
    try:
        with open(path, "rb") as f:
            parsed = _parse_journal_line(f.readline())
    except FileNotFoundError:
        return None
    if parsed is None or parsed[1] != "turn":
        return None
    try:
        return json.loads(parsed[2])
    except ValueError:
        return None


def follow(
    paths: TurnPaths,
    *,
    after: int = 0,
    is_live: Callable[[], bool],
    keepalive_seconds: float = 15.0,
    poll_seconds: float = 0.05,
) -> Iterator[bytes]:
    """Yield the SSE frames of the journal's turn after frame `after`, live, until `done` or `error`.

    A turn whose worker died (no live owner and no terminal frame) ends with an `interrupted` error.
    Comment lines keep the connection open while the model is silent.
    """
    cond = _condition(paths.journal)
    try:
        f = open(paths.journal, "rb")  # noqa: SIM115 - closed in finally
    except FileNotFoundError:
        return
    try:
        header = _parse_journal_line(f.readline())
        if header is None or header[1] != "turn":
            return
        turn_id = json.loads(header[2])["turn_id"]
        buffer = b""
        last_n = 0
        last_sent = time.monotonic()
        while True:
            chunk = f.read()
            if not chunk and not is_live():
                # The owner may have finished between that read and the probe: read once more.
                chunk = f.read()
                if not chunk:
                    data = {
                        "code": "interrupted",
                        "message": INTERRUPTED_MESSAGE,
                        "retryable": True,
                        "message_id": turn_id,
                    }
                    yield sse_frame("error", data, f"{turn_id}:{last_n + 1}")
                    return
            if chunk:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    parsed = _parse_journal_line(raw + b"\n")
                    if parsed is None:
                        continue
                    n, event, payload = parsed
                    last_n = n
                    if n > after:
                        yield f"event: {event}\nid: {turn_id}:{n}\ndata: {payload}\n\n".encode()
                        last_sent = time.monotonic()
                    if event in TERMINAL_EVENTS:
                        return
                continue
            if time.monotonic() - last_sent >= keepalive_seconds:
                yield KEEP_ALIVE
                last_sent = time.monotonic()
            with cond:
                cond.wait(timeout=poll_seconds)
    finally:
        f.close()


def journal_text(path: Path) -> tuple[str | None, str]:
    """Return (turn id, the reply text its delta frames hold) for repairing a crashed turn."""
    header = read_header(path)
    if header is None:
        return None, ""
    parts: list[str] = []
    with open(path, "rb") as f:
        for raw in f:
            parsed = _parse_journal_line(raw)
            if parsed is None or not raw.endswith(b"\n") or parsed[1] != "delta":
                continue
            with contextlib.suppress(ValueError, KeyError):
                parts.append(json.loads(parsed[2])["text"])
    return header.get("turn_id"), "".join(parts)


def last_frame(path: Path) -> tuple[int, str] | None:
    """Return (number, event) of the journal's last complete frame."""
    result = None
    try:
        with open(path, "rb") as f:
            for raw in f:
                parsed = _parse_journal_line(raw)
                if parsed is not None and raw.endswith(b"\n") and parsed[0] > 0:
                    result = (parsed[0], parsed[1])
    except FileNotFoundError:
        return None
    return result


def finished_turn_available(paths: TurnPaths, now: float | None = None) -> bool:
    """Tell whether a finished turn's journal may still be replayed (10 minutes after it ended)."""
    try:
        mtime = paths.journal.stat().st_mtime
    except FileNotFoundError:
        return False
    return (now or time.time()) - mtime <= FINISHED_TURN_TTL_SECONDS
