"""The file journal of a turn in flight: its frames on disk, so any worker process can re-attach.

Append-only, no fsync per frame; readers tail it and ignore a torn last line. The file side of
`coordination.FrameLog`. Imports only `frames` of ours; no Flask, no SDK types.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .frames import (
    KEEP_ALIVE,
    frame_id,
    journal_line,
    parse_journal_line,
    sse_frame,
    sse_raw,
)

TERMINAL_EVENTS = frozenset({"done", "error"})
FINISHED_TURN_TTL_SECONDS = 600.0


class _Conditions:
    """Same-process readers are woken at once (readers in another process poll).

    One condition per journal path while some writer or reader uses it: each use is counted and the
    condition goes when the count drops to zero, so finished turns leave nothing behind.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._entries: dict[str, tuple[threading.Condition, int]] = {}

    def take(self, path: Path) -> threading.Condition:
        key = str(path)
        with self._guard:
            cond, users = self._entries.get(key, (None, 0))
            if cond is None:
                cond = threading.Condition()
            self._entries[key] = (cond, users + 1)
            return cond

    def give_back(self, path: Path) -> None:
        key = str(path)
        with self._guard:
            cond, users = self._entries.get(key, (None, 0))
            if cond is None:
                return
            if users <= 1:
                del self._entries[key]
            else:
                self._entries[key] = (cond, users - 1)

    @contextlib.contextmanager
    def using(self, path: Path) -> Iterator[threading.Condition]:
        cond = self.take(path)
        try:
            yield cond
        finally:
            self.give_back(path)

    def __len__(self) -> int:
        with self._guard:
            return len(self._entries)


CONDITIONS = _Conditions()


def conditions_in_use() -> int:
    """Count the journal conditions this process keeps now (0 when no turn runs or is followed)."""
    return len(CONDITIONS)


class Journal:
    """Append-only record of one turn's frames (no fsync: a torn last line is ignored by readers)."""

    def __init__(self, path: Path, turn_id: str) -> None:
        self.path = path
        self.turn_id = turn_id
        self.count = 0
        self._file: BinaryIO | None = None
        self._lock = threading.Lock()
        self._cond: threading.Condition | None = CONDITIONS.take(path)

    def begin(self, first_event: str, first_data: dict[str, Any]) -> None:
        """Start a fresh journal (a new inode, so readers of the previous turn keep theirs)."""
        header = journal_line(0, "turn", {"turn_id": self.turn_id, "started_at": time.time()})
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
            if self._file is None:
                raise ValueError("the journal is not open")
            self.count += 1
            n = self.count
            self._file.write(journal_line(n, event, data))
        cond = self._cond
        if cond is not None:
            with cond:
                cond.notify_all()
        # Hand the GIL to this process's readers now, rather than after the switch interval: a
        # worker parsing a burst would otherwise hold the first frame back by several ms.
        time.sleep(0)
        return n

    def close(self) -> None:
        """Close the file and wake the readers one last time; safe to call twice."""
        with self._lock:
            file, self._file = self._file, None
            cond, self._cond = self._cond, None
        try:
            if file is not None:
                file.close()
        finally:
            if cond is not None:
                with cond:
                    cond.notify_all()
                CONDITIONS.give_back(self.path)


def read_header(path: Path) -> dict[str, Any] | None:
    """Return the journal's header (`turn_id`, `started_at`), or None when there is none."""
    try:
        with open(path, "rb") as f:
            parsed = parse_journal_line(f.readline())
    except FileNotFoundError:
        return None
    if parsed is None or parsed[1] != "turn":
        return None
    try:
        header = json.loads(parsed[2])
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


def follow(
    path: Path,
    *,
    after: int = 0,
    is_live: Callable[[], bool],
    dead_error: Callable[[str], dict[str, Any]],
    keepalive_seconds: float = 15.0,
    poll_seconds: float = 0.05,
) -> Iterator[bytes]:
    """Yield the SSE frames of the journal's turn after frame `after`, live, until `done` or `error`.

    A turn whose worker died (no live owner and no terminal frame) ends with the error frame
    `dead_error(turn_id)` gives. Comment lines keep the connection open while the model is silent.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed in finally
    except FileNotFoundError:
        return
    try:
        with CONDITIONS.using(path) as cond:
            yield from _tail(f, after, is_live, dead_error, keepalive_seconds, poll_seconds, cond)
    finally:
        f.close()


def _tail(
    f: BinaryIO,
    after: int,
    is_live: Callable[[], bool],
    dead_error: Callable[[str], dict[str, Any]],
    keepalive_seconds: float,
    poll_seconds: float,
    cond: threading.Condition,
) -> Iterator[bytes]:
    header = parse_journal_line(f.readline())
    if header is None or header[1] != "turn":
        return
    try:
        turn_id = str(json.loads(header[2])["turn_id"])
    except (ValueError, KeyError, TypeError):
        return
    buffer = b""
    last_n = 0
    last_sent = time.monotonic()
    while True:
        chunk = f.read()
        if not chunk and not is_live():
            # The owner may have finished between that read and the probe: read once more.
            chunk = f.read()
            if not chunk:
                yield sse_frame("error", dead_error(turn_id), frame_id(turn_id, last_n + 1))
                return
        if chunk:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                parsed = parse_journal_line(raw + b"\n")
                if parsed is None:
                    continue
                n, event, payload = parsed
                last_n = n
                if n > after:
                    yield sse_raw(event, payload, frame_id(turn_id, n))
                    last_sent = time.monotonic()
                if event in TERMINAL_EVENTS:
                    return
            continue
        if time.monotonic() - last_sent >= keepalive_seconds:
            yield KEEP_ALIVE
            last_sent = time.monotonic()
        with cond:
            cond.wait(timeout=poll_seconds)


def wait_for_change(path: Path, timeout: float) -> None:
    """Block until this process appends to the journal, or `timeout` seconds pass."""
    with CONDITIONS.using(path) as cond, cond:
        cond.wait(timeout=timeout)


def journal_text(path: Path) -> tuple[str | None, str]:
    """Return (turn id, the reply text its delta frames hold) for repairing a crashed turn."""
    header = read_header(path)
    if header is None:
        return None, ""
    parts: list[str] = []
    try:
        with open(path, "rb") as f:
            for raw in f:
                parsed = parse_journal_line(raw)
                if parsed is None or not raw.endswith(b"\n") or parsed[1] != "delta":
                    continue
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    parts.append(json.loads(parsed[2])["text"])
    except FileNotFoundError:
        return None, ""
    turn_id = header.get("turn_id")
    return (turn_id if isinstance(turn_id, str) else None), "".join(parts)


def last_frame(path: Path) -> tuple[int, str] | None:
    """Return (number, event) of the journal's last complete frame."""
    result = None
    try:
        with open(path, "rb") as f:
            for raw in f:
                parsed = parse_journal_line(raw)
                if parsed is not None and raw.endswith(b"\n") and parsed[0] > 0:
                    result = (parsed[0], parsed[1])
    except FileNotFoundError:
        return None
    return result


def finished_turn_available(path: Path, now: float | None = None) -> bool:
    """Tell whether a finished turn's journal may still be replayed (10 minutes after it ended)."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return False
    return (now or time.time()) - mtime <= FINISHED_TURN_TTL_SECONDS
