"""Graceful reload (HUP) and stop (TERM) under the real gunicorn, with turns in flight.

The production config (gunicorn.conf.py, read from the repository root) with 2 workers against the
fake upstream streaming slowly. HUP: every turn in flight completes in its old worker and is saved
once, also the ones whose browser went away, and a browser re-attaches through a new worker. TERM:
the server exits within graceful_timeout plus a margin, and every turn is saved with an honest
status and its text: `completed` when it finished in time, else `stopped` with its partial text.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chat.test_in_flight import Browser, read_until
from tests.conftest import SENTINEL_KEY, parse_sse, reply_text, stored

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
PIECE = "word "
LONG, SHORT = 250, 50  # deltas of an answer, 20 ms apart


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`gunicorn 'app:create_app()'` with the repository's gunicorn.conf.py, 2 workers."""

    def __init__(
        self, data_dir: Path, upstream_url: str, graceful_timeout: int, worker_class: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.graceful_timeout = graceful_timeout
        env = {
            **os.environ,
            "CHAT_DATA_DIR": str(data_dir),
            "OPENAI_API_KEY": SENTINEL_KEY,
            "OPENAI_BASE_URL": upstream_url,
            "CHAT_TURNS_PER_MINUTE": "0",
            "CHAT_CONCURRENT_TURNS": "0",
        }
        self.log = data_dir.parent / "gunicorn.log"
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [
                str(GUNICORN),
                "-k",
                worker_class,
                "-w",
                "2",
                "--threads",
                "16",
                "--graceful-timeout",
                str(graceful_timeout),
                "-b",
                f"127.0.0.1:{self.port}",
                "app:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.wait_workers(2)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                assert self.proc.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)

    def workers(self) -> set[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False
        )
        return {int(pid) for pid in out.stdout.split()}

    def wait_workers(self, n: int, limit: float = 30.0) -> set[int]:
        deadline = time.monotonic() + limit
        while len(self.workers()) < n:
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "workers did not boot"
            time.sleep(0.05)
        return self.workers()

    def close(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._log_file.close()
        return self.log.read_text(errors="replace")


@pytest.fixture
def slow_upstream(upstream: Any) -> Any:
    upstream.reply = PIECE
    upstream.chunk_size = len(PIECE)
    upstream.delta_delay = 0.02
    return upstream


def start_turn(browser: Browser, message: str) -> tuple[Any, Any, bytes, dict[str, Any]]:
    """POST /chat and read up to the first delta: (connection, response, bytes read, first frame)."""
    conn, response = browser.open("POST", "/chat", {"message": message})
    assert response.status == 200
    head = read_until(response, b"event: delta")
    first = parse_sse(head.split(b"\n\n")[0] + b"\n\n")[0].data
    return conn, response, head, first


def assistant_messages(data_dir: Path, cid: str) -> list[dict[str, Any]]:
    return [m for m in stored(data_dir, "alice", cid)["messages"] if m["role"] == "assistant"]


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


def no_leftovers(data_dir: Path) -> None:
    """No temporary files, every conversation file parses."""
    for path in data_dir.rglob("*"):
        assert ".tmp" not in path.name, path
        if path.suffix == ".json" and path.parent.name == "alice":
            json.loads(path.read_text())


@pytest.fixture
def server_factory(data_dir: Path) -> Iterator[Any]:
    servers: list[Server] = []

    def make(upstream_url: str, graceful_timeout: int, worker_class: str = "gthread") -> Server:
        server = Server(data_dir, upstream_url, graceful_timeout, worker_class)
        servers.append(server)
        return server

    yield make
    for server in servers:
        log = server.close()
        assert SENTINEL_KEY not in log


@pytest.mark.parametrize("worker_class", ["gthread", "gevent"])
def test_hup_finishes_turns_in_old_workers_and_reattach_works(
    slow_upstream, app, data_dir, server_factory, worker_class
):
    server = server_factory(slow_upstream.base_url, 20, worker_class)
    browser = Browser(server.url, app)
    old = server.workers()
    slow_upstream.n_deltas = LONG  # 5 s an answer, well inside graceful_timeout
    gone = [start_turn(browser, f"left {i}") for i in range(2)]
    for conn, *_ in gone:
        conn.close()  # the tab went away: the turn runs on in its worker
    slow_upstream.n_deltas = SHORT  # these streams end first: nothing holds the old worker then
    attached = [start_turn(browser, f"story {i}") for i in range(2)]

    os.kill(server.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 30
    while len(server.workers() - old) < 2:  # the new workers boot beside the old ones
        assert time.monotonic() < deadline, "no new workers after HUP"
        time.sleep(0.05)

    # Re-attach to a turn whose browser went away: its old worker still runs it.
    cid = gone[0][3]["conversation_id"]
    status, _, body = browser.request("GET", f"/conversations/{cid}/events")
    assert status == 200
    frames = parse_sse(body)
    assert frames[-1].event == "done" and frames[-1].data["status"] == "completed"
    assert reply_text(frames) == PIECE * LONG

    for conn, response, head, _ in attached:
        frames = parse_sse(head + response.read())
        conn.close()
        assert frames[-1].event == "done" and frames[-1].data["status"] == "completed"
        assert reply_text(frames) == PIECE * SHORT

    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in old):  # the old workers exit once their turns are saved
        assert time.monotonic() < deadline, "old workers did not exit"
        time.sleep(0.1)
    for turns, n in ((gone, LONG), (attached, SHORT)):
        for *_, first in turns:
            replies = assistant_messages(data_dir, first["conversation_id"])
            assert len(replies) == 1  # saved once
            assert replies[0]["status"] == "completed" and replies[0]["text"] == PIECE * n
    # After the old workers are gone, a new worker serves the final state and replays the turn.
    cid = gone[1][3]["conversation_id"]
    status, _, body = browser.request("GET", f"/chat?conversation_id={cid}")
    assert status == 200
    last = json.loads(body)["messages"][-1]
    assert last["status"] == "completed" and last["text"] == PIECE * LONG
    status, _, body = browser.request("GET", f"/conversations/{cid}/events")
    assert status == 200 and parse_sse(body)[-1].data["status"] == "completed"
    assert server.proc.poll() is None  # the server itself serves on
    status, _, _ = browser.request("GET", "/healthz")
    assert status == 200
    no_leftovers(data_dir)


@pytest.mark.parametrize("worker_class", ["gthread", "gevent"])
def test_term_saves_every_turn_with_an_honest_status(
    slow_upstream, app, data_dir, server_factory, worker_class
):
    slow_upstream.n_deltas = 2000  # 40 s an answer: longer than graceful_timeout
    graceful = 6
    server = server_factory(slow_upstream.base_url, graceful, worker_class)
    browser = Browser(server.url, app)
    attached = [start_turn(browser, f"story {i}") for i in range(2)]
    gone = [start_turn(browser, f"left {i}") for i in range(2)]
    for conn, *_ in gone:
        conn.close()

    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    streamed = []
    for conn, response, head, _ in attached:
        streamed.append(parse_sse(head + response.read()))
        conn.close()
    server.proc.wait(graceful + 5)
    assert time.monotonic() - t0 < graceful + 5
    log = server.log.read_text(errors="replace")
    assert "turn_stopped_at_exit" in log and "turns_left_running_at_exit" not in log

    for frames in streamed:  # the attached browsers saw the turn end, not a cut stream
        assert frames[-1].event == "done" and frames[-1].data["status"] == "stopped"
    for (*_, first), frames in zip(attached, streamed, strict=True):
        (reply,) = assistant_messages(data_dir, first["conversation_id"])
        assert reply["status"] == "stopped" and reply["text"] == reply_text(frames)
    for *_, first in gone:
        (reply,) = assistant_messages(data_dir, first["conversation_id"])
        assert reply["status"] == "stopped"
        assert reply["text"].startswith(PIECE) and len(reply["text"]) < len(PIECE) * 2000
    no_leftovers(data_dir)


def test_term_lets_a_short_turn_complete(slow_upstream, app, data_dir, server_factory):
    slow_upstream.n_deltas = 100  # 2 s: ends within the drain's wait
    server = server_factory(slow_upstream.base_url, graceful_timeout=8)
    browser = Browser(server.url, app)
    conn, _, _, first = start_turn(browser, "short")
    conn.close()  # nobody is attached: only the exit hook keeps the turn alive
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(15)
    (reply,) = assistant_messages(data_dir, first["conversation_id"])
    assert reply["status"] == "completed" and reply["text"] == PIECE * 100


def test_quick_stop_saves_turns_as_stopped(slow_upstream, app, data_dir, server_factory):
    slow_upstream.n_deltas = 2000
    server = server_factory(slow_upstream.base_url, 20)
    browser = Browser(server.url, app)
    conn, _, _, first = start_turn(browser, "story")
    conn.close()
    server.proc.send_signal(signal.SIGINT)  # quick stop: the workers get SIGQUIT, no grace
    server.proc.wait(10)
    (reply,) = assistant_messages(data_dir, first["conversation_id"])
    assert reply["status"] == "stopped" and reply["text"].startswith(PIECE)
    no_leftovers(data_dir)


def test_term_refuses_a_turn_asked_for_on_a_kept_alive_connection(
    slow_upstream, app, data_dir, server_factory
):
    # During the stop a worker still reads requests on its kept-alive connections for a moment
    # (gunicorn's STOP_KEEPALIVE_LINGER): a turn started there would be neither waited for nor
    # stopped. It is refused with 503 `storage_busy` (retryable, on a new connection) instead.
    slow_upstream.n_deltas = 1000  # 20 s an answer: longer than graceful_timeout
    server = server_factory(slow_upstream.base_url, 10)
    browser = Browser(server.url, app)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Cookie": browser.cookie, "Content-Type": "application/json"}
    conn.request("GET", "/healthz", headers=headers)
    first = conn.getresponse()
    first.read()
    assert first.status == 200
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    # The workers have the signal within milliseconds, and linger 2 s: ask in between.
    time.sleep(0.5)
    conn.request("POST", "/chat", body=json.dumps({"message": "late"}), headers=headers)
    response = conn.getresponse()
    assert response.status == 503  # not a turn the exiting worker would die under
    body = json.loads(response.read())
    conn.close()
    assert body["error"]["code"] == "storage_busy" and response.getheader("Retry-After") == "1"
    assert response.getheader("Connection") == "close"  # the retry reaches a live worker
    server.proc.wait(15)
    assert time.monotonic() - t0 < 15
    assert not (data_dir / "alice").exists() or not list((data_dir / "alice").glob("c_*.json"))
