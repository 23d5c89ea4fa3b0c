"""The load benchmarks' side: start the fake upstream and the app under gunicorn, and an asyncio client.

One asyncio loop opens every stream (hundreds of threads in the load generator would compete with
the app for the same 2 cores). The client speaks just enough HTTP/1.1: a request with
`Connection: close`, the status line, headers, and a chunked or plain body read to its end.
Process figures (CPU, RSS, open files) come from /proc. Used by bench/load.py and bench/soak.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark-password-123"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- processes ---------------------------------------------------------------------------------


def start_fake(port: int, n_deltas: int, delay: float) -> subprocess.Popen:
    """The Responses fake upstream in its own process: `n_deltas` deltas `delay` seconds apart."""
    command = [sys.executable, "-m", "bench.relay_fakes", "responses", "--port", str(port)]
    command += ["--n-deltas", str(n_deltas), "--delta-delay", str(delay)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)


def start_app(
    port: int,
    data_dir: str,
    fake_port: int,
    log: Any,
    *,
    worker_class: str,
    workers: int,
    threads: int,
    connections: int,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """`gunicorn 'app:create_app()'` with the repository's gunicorn.conf.py and these overrides."""
    command = [str(Path(sys.executable).with_name("gunicorn")), "-k", worker_class]
    command += ["-w", str(workers), "--threads", str(threads)]
    command += ["--worker-connections", str(connections), "-b", f"127.0.0.1:{port}"]
    command += ["--access-logfile", "/dev/null", "app:create_app()"]
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("CHAT_")
    }
    env = {
        **inherited,
        "PYTHONUNBUFFERED": "1",
        "CHAT_DATA_DIR": data_dir,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
        # The conditions: the turn limits off (they have their own tests).
        "CHAT_CONCURRENT_TURNS": "0",
        "CHAT_TURNS_PER_MINUTE": "0",
        "CHAT_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000",
        **(extra_env or {}),
    }
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def children(pid: int) -> list[int]:
    """The worker processes of a gunicorn master."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc/<pid>/statm."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except OSError:
        return 0


def open_files(pid: int) -> int:
    """How many file descriptors a process holds (sockets included)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def create_users(data_dir: str, users: list[str]) -> None:
    """Create the benchmark's accounts directly in the data directory (before the app starts)."""
    sys.path.insert(0, str(ROOT))
    from app.accounts import AccountStore

    accounts = AccountStore(data_dir)
    for user in users:
        accounts.create_user(user, PASSWORD)


# -- the client --------------------------------------------------------------------------------


@dataclass
class Result:
    """One HTTP exchange as the client saw it."""

    status: int = 0
    sent: float = 0.0  # perf_counter when the request was written
    first: float | None = None  # seconds to the first `event: delta`
    total: float = 0.0
    gaps: list[float] = field(default_factory=list)  # seconds between SSE events after the first
    body: bytes = b""
    ended: str = ""  # the stream's last event: done or error
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """A stream that ended with its `done` event."""
        return self.status == 200 and self.ended == "done"


async def request(
    port: int,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    cookie: str | None = None,
    *,
    timeout: float = 120.0,
    keep_body: bool = True,
) -> Result:
    """One request on a new connection; for an event stream, the event timings too."""
    result = Result()
    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(
            _exchange(port, method, path, body, cookie, result, t0, keep_body), timeout
        )
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
        result.error = type(exc).__name__
    result.total = time.perf_counter() - t0
    return result


async def _exchange(
    port: int,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    cookie: str | None,
    result: Result,
    t0: float,
    keep_body: bool,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        if cookie:
            head += f"Cookie: {cookie}\r\n"
        writer.write(head.encode() + b"\r\n" + payload)
        await writer.drain()
        result.sent = time.perf_counter()
        status_line = await reader.readline()
        result.status = int(status_line.split()[1])
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            result.headers[name.strip().lower()] = value.strip()
        chunked = result.headers.get("transfer-encoding", "").lower() == "chunked"
        last_event: float | None = None
        seen = b""
        async for piece in _body(reader, chunked):
            now = time.perf_counter()
            events = piece.count(b"\nevent: ") + piece.startswith(b"event: ")
            if events:
                if last_event is not None:
                    result.gaps.append(now - last_event)
                last_event = now
            window = seen[-16:] + piece
            if result.first is None and b"event: delta" in window:
                result.first = now - t0
            if b"event: done" in window:
                result.ended = "done"
            elif b"event: error" in window:
                result.ended = "error"
            seen = seen + piece if keep_body else (seen + piece)[-64:]
        result.body = seen
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _body(reader: asyncio.StreamReader, chunked: bool):  # type: ignore[no-untyped-def]
    if not chunked:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            yield data
    while True:
        size_line = await reader.readline()
        if not size_line:
            return
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        data = await reader.readexactly(size + 2)
        yield data[:-2]


async def login(port: int, user: str) -> str:
    """Log in and return the session cookie (`name=value`)."""
    result = await request(port, "POST", "/login", {"username": user, "password": PASSWORD})
    if result.status != 200:
        raise SystemExit(f"login failed for {user}: {result.status} {result.error}")
    return result.headers["set-cookie"].split(";")[0]


def pct(values: list[float], q: float) -> float:
    """The q-quantile of `values` in milliseconds (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000
