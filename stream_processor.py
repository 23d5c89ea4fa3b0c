"""Neutral provider events -> accumulated reply -> coalesced SSE frames; the turn worker and its journal.

Knows neither Flask objects nor SDK types: it sees duck-typed neutral events and plain callables.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

KEEP_ALIVE = b": keep-alive\n\n"
TERMINAL_EVENTS = frozenset({"done", "error"})
STOP_POLL_SECONDS = 0.1
FINISHED_TURN_TTL_SECONDS = 600.0

FrameEvent = Literal["conversation", "delta", "reasoning", "done", "error"]


# --------------------------------------------------------------------------------------------
# SSE encoding


def _dumps(data: dict[str, Any]) -> str:
    # json escapes every control character, so the payload is always exactly one line.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def sse_frame(event: str, data: dict[str, Any], frame_id: str) -> bytes:
    """Encode one server-sent event: `event:`, `id:` and one line of JSON `data:`."""
    return f"event: {event}\nid: {frame_id}\ndata: {_dumps(data)}\n\n".encode()


# --------------------------------------------------------------------------------------------
# Stages: each takes an iterator of neutral events and returns one


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


# --------------------------------------------------------------------------------------------
# Journal: the frames of the turn in flight, on disk, so any worker process can re-attach


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
            if not is_live():
                # The owner may have finished between our read and the probe: read once more.
                rest = f.read()
                if rest:
                    buffer += rest
                    continue
                data = {
                    "code": "interrupted",
                    "message": "The answer was interrupted. Try again.",
                    "retryable": True,
                    "message_id": turn_id,
                }
                yield sse_frame("error", data, f"{turn_id}:{last_n + 1}")
                return
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


# --------------------------------------------------------------------------------------------
# Turn ownership: an exclusive flock held by the turn for its whole life


class TurnBusy(Exception):
    """Another turn of this conversation is running (in this or another process)."""


def _open_lock(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def acquire_turn_lock(paths: TurnPaths, attempts: int = 5) -> int:
    """Take the conversation's turn lock; return its fd, or raise `TurnBusy`."""
    paths.directory.mkdir(mode=0o700, exist_ok=True)
    fd = _open_lock(paths.lock)
    for attempt in range(attempts):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                os.close(fd)
                raise
            # A liveness probe holds it for a microsecond; a real turn holds it for seconds.
            if attempt < attempts - 1:
                time.sleep(0.01)
    os.close(fd)
    raise TurnBusy(paths.conversation_id)


def turn_is_live(paths: TurnPaths) -> bool:
    """Tell whether some process holds the conversation's turn lock."""
    try:
        fd = os.open(paths.lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    finally:
        os.close(fd)  # closing drops the probe's own lock too
    return False


# --------------------------------------------------------------------------------------------
# The turn worker


class TurnAborted(Exception):
    """The turn's commit failed before its first frame: nothing may be journalled or saved."""


class TurnControl:
    """What a turn's body sees: emit frames, and whether (and how) it was asked to stop.

    The body may start (and open its upstream request) before the turn is committed; `emit` and
    `wait_ready` block until the web layer has either begun the journal or aborted the turn.
    """

    def __init__(self, journal: Journal, cancel: Any) -> None:
        self._journal = journal
        self.cancel = cancel
        self._stopped = threading.Event()
        self._ready = threading.Event()
        self._aborted = False

    def wait_ready(self) -> None:
        """Block until the turn is committed; raise `TurnAborted` if it never will be."""
        self._ready.wait()
        if self._aborted:
            raise TurnAborted()

    def emit(self, event: str, data: dict[str, Any]) -> None:
        if not self._ready.is_set() or self._aborted:
            self.wait_ready()
        self._journal.append(event, data)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def request_stop(self) -> None:
        self._stopped.set()
        if self.cancel is not None:
            self.cancel.cancel()


TurnBody = Callable[[TurnControl], tuple[str, dict[str, Any]]]


class Turn:
    """One turn running in a background thread of this process."""

    def __init__(self, paths: TurnPaths, lock_fd: int, journal: Journal, control: TurnControl):
        self.paths = paths
        self.lock_fd = lock_fd
        self.journal = journal
        self.control = control
        self.thread: threading.Thread | None = None
        self.done = threading.Event()

    def begin(self, first_event: str, first_data: dict[str, Any]) -> None:
        """The turn is committed: start its journal with the first frame and let the body emit."""
        try:
            self.journal.begin(first_event, first_data)
        except BaseException:
            self.abort()
            raise
        self.control._ready.set()

    def abort(self, wait: float = 5.0) -> None:
        """The commit failed: stop the body (closing its upstream) and release the turn lock."""
        self.control._aborted = True
        if self.control.cancel is not None:
            self.control.cancel.cancel()
        self.control._ready.set()
        self.done.wait(wait)


class TurnRegistry:
    """Starts turns in background threads and watches their stop files; one per process."""

    def __init__(self) -> None:
        self._live: dict[str, Turn] = {}
        self._guard = threading.Lock()
        self._watcher: threading.Thread | None = None

    def start(
        self, paths: TurnPaths, lock_fd: int, turn_id: str, body: TurnBody, cancel: Any
    ) -> Turn:
        """Run `body` in a worker that owns `lock_fd` from now on; call `begin` or `abort` next."""
        with contextlib.suppress(FileNotFoundError):
            paths.stop.unlink()
        journal = Journal(paths.journal, turn_id)
        turn = Turn(paths, lock_fd, journal, TurnControl(journal, cancel))
        turn.thread = threading.Thread(
            target=self._run, args=(turn, body), name=f"turn-{turn_id}", daemon=True
        )
        with self._guard:
            self._live[str(paths.lock)] = turn
        try:
            turn.thread.start()
        except BaseException:
            with self._guard:
                self._live.pop(str(paths.lock), None)
            os.close(lock_fd)
            raise
        self._ensure_watcher()
        return turn

    def _run(self, turn: Turn, body: TurnBody) -> None:
        try:
            try:
                event, data = body(turn.control)
            except TurnAborted:
                return
            except Exception:
                log.exception("turn_body_failed turn=%s", turn.journal.turn_id)
                event, data = (
                    "error",
                    {
                        "code": "internal",
                        "message": "Something went wrong on our side. Try again.",
                        "retryable": True,
                        "message_id": turn.journal.turn_id,
                    },
                )
            try:
                turn.control.wait_ready()
            except TurnAborted:
                return
            turn.journal.append(event, data)
        finally:
            turn.journal.close()
            with self._guard:
                self._live.pop(str(turn.paths.lock), None)
            with contextlib.suppress(FileNotFoundError):
                turn.paths.stop.unlink()
            os.close(turn.lock_fd)  # releases the flock: the conversation takes turns again
            turn.done.set()

    def local(self, paths: TurnPaths) -> Turn | None:
        with self._guard:
            return self._live.get(str(paths.lock))

    def request_stop(self, paths: TurnPaths) -> None:
        """Ask the turn's owner to stop, wherever it runs: directly here, by a stop file elsewhere."""
        turn = self.local(paths)
        if turn is not None:
            turn.control.request_stop()
            return
        fd = os.open(paths.stop, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        os.close(fd)

    def wait_finished(self, paths: TurnPaths, timeout: float) -> bool:
        """Wait until the conversation's turn has journalled its last frame or its owner is gone."""
        deadline = time.monotonic() + timeout
        cond = _condition(paths.journal)
        while time.monotonic() < deadline:
            last = last_frame(paths.journal)
            if (last is not None and last[1] in TERMINAL_EVENTS) or not turn_is_live(paths):
                return True
            with cond:
                cond.wait(timeout=0.05)
        return False

    def _ensure_watcher(self) -> None:
        with self._guard:
            if self._watcher is not None and self._watcher.is_alive():
                return
            self._watcher = threading.Thread(
                target=self._watch_stop_files, name="turn-stop-watcher", daemon=True
            )
            self._watcher.start()

    def _watch_stop_files(self) -> None:
        # One thread for all of this process's turns: a stop asked in another process arrives as a file.
        while True:
            with self._guard:
                turns = list(self._live.values())
                if not turns:
                    self._watcher = None
                    return
            for turn in turns:
                if not turn.control.stopped and turn.paths.stop.exists():
                    turn.control.request_stop()
            time.sleep(STOP_POLL_SECONDS)


def finished_turn_available(paths: TurnPaths, now: float | None = None) -> bool:
    """Tell whether a finished turn's journal may still be replayed (10 minutes after it ended)."""
    try:
        mtime = paths.journal.stat().st_mtime
    except FileNotFoundError:
        return False
    return (now or time.time()) - mtime <= FINISHED_TURN_TTL_SECONDS
