"""Fixtures for the account, session, limit and share tests: a data dir, a process runner, two
logged-in users, and real gunicorn instances sharing a data dir."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SENTINEL_KEY, chat, login


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Return an empty data directory inside its own parent, so escapes can be seen."""
    path = tmp_path / "root" / "data"
    path.mkdir(parents=True)
    return path


def wait_until(start: Any) -> None:
    """Block on the shared barrier until every worker process is ready, so they race."""
    start.wait(timeout=60)


def _call(fn: Callable[..., Any], start: Any, results: Any, index: int, args: tuple) -> None:
    try:
        results.put((index, True, fn(start, *args)))
    except BaseException:
        results.put((index, False, traceback.format_exc()))


@pytest.fixture
def run_processes() -> Callable[[Callable[..., Any], Iterable[tuple[Any, ...]]], list[Any]]:
    """Return a runner: call `fn(start, *args)` in one spawned process per args tuple.

    `start` is a barrier the worker passes to `wait_until` when it is ready to race; the runner
    returns the results in argument order and fails on any worker exception.
    """

    def run(fn: Callable[..., Any], arg_list: Iterable[tuple[Any, ...]]) -> list[Any]:
        args = list(arg_list)
        ctx = multiprocessing.get_context("spawn")
        start = ctx.Barrier(len(args))
        results = ctx.Queue()
        procs = [
            ctx.Process(target=_call, args=(fn, start, results, i, a)) for i, a in enumerate(args)
        ]
        for p in procs:
            p.start()
        out: dict[int, Any] = {}
        try:
            for _ in procs:
                index, ok, value = results.get(timeout=60)
                assert ok, value
                out[index] = value
        finally:
            for p in procs:
                p.join(timeout=10)
        return [out[i] for i in range(len(args))]

    return run


# --------------------------------------------------------------------------------------------
# HTTP-level fixtures (the real app through Flask's test client, and real gunicorn instances)


ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def tree_state(path: Path, *, skip: tuple[str, ...] = ()) -> dict[str, tuple[str, int]]:
    """Map each file under `path` to (sha256, mtime_ns); `skip` drops relative path prefixes."""
    state = {}
    for f in sorted(path.rglob("*")):
        rel = f.relative_to(path).as_posix()
        if f.is_file() and not rel.startswith(skip):
            state[rel] = (hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_mtime_ns)
    return state


@dataclass
class TwoUsers:
    app: Any
    a: Any  # alice's test client
    b: Any  # bob's test client
    cid: str  # alice's conversation
    user_mid: str  # alice's user message
    assistant_mid: str  # alice's assistant message
    b_cid: str  # bob's own conversation


@pytest.fixture
def two_users(app: Any) -> TwoUsers:
    """Alice and Bob, each logged in with one finished conversation."""
    a = login(app.test_client(), app, "alice")
    b = login(app.test_client(), app, "bob")
    first = chat(a, message="alice's secret plans")[0].data
    b_first = chat(b, message="bob's own chat")[0].data
    return TwoUsers(
        app,
        a,
        b,
        first["conversation_id"],
        first["user_message_id"],
        first["assistant_message_id"],
        b_first["conversation_id"],
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Gunicorn:
    proc: subprocess.Popen
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_gunicorn(
    data_dir: Path, upstream_url: str, log_path: Path, **env_overrides: str
) -> Gunicorn:
    """Start one gunicorn instance (one gthread worker, the repo's gunicorn.conf.py) and wait."""
    port = free_port()
    env = {
        **os.environ,
        "CHAT_DATA_DIR": str(data_dir),
        "OPENAI_API_KEY": SENTINEL_KEY,
        "OPENAI_BASE_URL": upstream_url,
        "CHAT_UPSTREAM_READ_TIMEOUT": "10",
        **env_overrides,
    }
    out = open(log_path, "wb")  # noqa: SIM115 - the process owns it until it exits
    proc = subprocess.Popen(
        [
            str(GUNICORN),
            "-w",
            "1",
            "--threads",
            "16",
            "-b",
            f"127.0.0.1:{port}",
            "app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return Gunicorn(proc, f"http://127.0.0.1:{port}", log_path)
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(log_path.read_text()) from None
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("gunicorn did not start in 30 s")


def stop_gunicorn(server: Gunicorn) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(5)


@pytest.fixture
def gunicorn_pair(data_dir: Path, upstream: Any, tmp_path: Path) -> Iterator[Any]:
    """Return `start(**env) -> (Gunicorn, Gunicorn)`: two instances sharing the data dir.

    Every instance started is stopped at the end, whatever happened.
    """
    started: list[Gunicorn] = []

    def start(**env: str) -> tuple[Gunicorn, Gunicorn]:
        pair = []
        for _ in range(2):
            server = start_gunicorn(
                data_dir, upstream.base_url, tmp_path / f"gunicorn-{len(started)}.log", **env
            )
            started.append(server)
            pair.append(server)
        return pair[0], pair[1]

    try:
        yield start
    finally:
        for server in started:
            stop_gunicorn(server)
