"""Metrics summed over two gunicorn worker processes (API "Operations"), the turn lines in
gunicorn's error log, and the master's hooks (gunicorn.conf.py): the directory emptied at start,
a dead worker's open-stream gauge dropped."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.chat.test_in_flight import Browser, read_until
from tests.conftest import SENTINEL_KEY, parse_sse
from tests.ops.promtext import total, value

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
TOKEN = "metrics-token-gunicorn-8c2f"
SECRET = "gunicorn-test-secret-" + "y" * 32
MESSAGE = "the private words of a turn 5521"
MAX_BATCHES = 20
BATCH = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def server(data_dir: Path, upstream, app, tmp_path: Path) -> Iterator[Server]:
    # A stale file of an earlier run: the master's on_starting must remove it.
    metrics_dir = data_dir / ".app" / "metrics"
    metrics_dir.mkdir(parents=True)
    (metrics_dir / "counter_999999.db").write_bytes(b"\0" * 16)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        CHAT_DATA_DIR=str(data_dir),
        OPENAI_API_KEY=SENTINEL_KEY,
        OPENAI_BASE_URL=upstream.base_url,
        CHAT_METRICS_TOKEN=TOKEN,
        SECRET_KEY=SECRET,
        CHAT_TURNS_PER_MINUTE="1000",
        CHAT_CONCURRENT_TURNS="100",
        PYTHONUNBUFFERED="1",
    )
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(GUNICORN), "-w", "2", "--threads", "8", "-b", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = Server(proc, f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, served.log()[-3000:]
            assert time.monotonic() < deadline, "gunicorn did not start"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        yield served
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def scrape(browser: Browser) -> str:
    status, _, body = browser.request(
        "GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 200, body
    return body.decode()


def streams_become(browser: Browser, n: int) -> str:
    """Scrape until `chat_streams_open` is `n` (within 10 s); return the last scrape."""
    deadline = time.monotonic() + 10
    while value(text := scrape(browser), "chat_streams_open") != n:
        assert time.monotonic() < deadline, text
        time.sleep(0.05)
    return text


def counter_pids(metrics_dir: Path) -> set[int]:
    return {
        int(m.group(1))
        for p in metrics_dir.iterdir()
        if (m := re.match(r"counter_(\d+)\.db$", p.name))
    }


def one_turn(browser: Browser, body: dict) -> str:
    status, _, raw = browser.request("POST", "/chat", body)
    assert status == 200, raw
    frames = parse_sse(raw)
    assert frames[-1].event == "done", frames[-1]
    return frames[-1].data["model"]


def test_metrics_are_summed_over_two_workers(server: Server, app, upstream, data_dir: Path):
    metrics_dir = data_dir / ".app" / "metrics"
    browser = Browser(server.url, app)
    assert 999999 not in counter_pids(metrics_dir)  # emptied by on_starting
    turns = 0
    with ThreadPoolExecutor(BATCH) as pool:
        for _ in range(MAX_BATCHES):
            # Several at once, so that both workers accept some (each counts in its own file).
            list(pool.map(lambda _: one_turn(browser, {"message": MESSAGE}), range(BATCH)))
            turns += BATCH
            if len(counter_pids(metrics_dir)) >= 2:
                break
    workers = counter_pids(metrics_dir)
    assert len(workers) == 2, "both workers counted turns"
    assert one_turn(browser, {"message": MESSAGE, "model": "someone-typed-this-model"})
    turns += 1

    text = scrape(browser)
    completed = {"provider": "openai", "status": "completed"}
    assert total(text, "chat_turns_total") == turns
    assert value(text, "chat_turns_total", model="gpt-5.4-mini", **completed) == turns - 1
    assert value(text, "chat_turns_total", model="other", **completed) == 1
    assert "someone-typed" not in text
    assert total(text, "chat_tokens_total", kind="input") > 0
    assert total(text, "chat_tokens_total", kind="output") > 0
    assert value(text, "chat_time_to_first_text_seconds_count") == turns
    # A stream's slot is released when the server closes the response, just after its last byte.
    streams_become(browser, 0)

    # One stream open (in whichever worker): counted while it runs, not after.
    upstream.reply, upstream.chunk_size, upstream.n_deltas, upstream.delta_delay = (
        "w ",
        2,
        200,
        0.02,
    )
    conn, response = browser.open("POST", "/chat", {"message": MESSAGE})
    try:
        read_until(response, b"event: delta")
        streams_become(browser, 1)
        read_until(response, b"event: done", limit=30)
    finally:
        conn.close()
    text = streams_become(browser, 0)
    assert total(text, "chat_turns_total") == turns + 1

    # The turn lines: one per turn, from both workers, holding none of the secrets or the text.
    log = server.log()
    lines = [line for line in log.splitlines() if "turn {" in line]
    assert len(lines) == turns + 1
    pids = {
        int(m.group(1)) for line in lines if (m := re.search(r"\[(\d+)\] \[INFO\] turn \{", line))
    }
    assert pids == workers
    first = json.loads(lines[0][lines[0].index("{") :])
    assert first["status"] == "completed" and first["provider"] == "openai"
    for secret in (MESSAGE, SENTINEL_KEY, TOKEN, SECRET, "alice"):
        assert secret not in log, secret

    # A worker that dies: the master's child_exit drops its live gauge file; its counts stay.
    gone = min(workers)
    os.kill(gone, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while (metrics_dir / f"gauge_livesum_{gone}.db").exists():
        assert time.monotonic() < deadline, sorted(p.name for p in metrics_dir.iterdir())
        time.sleep(0.1)
    assert total(scrape(browser), "chat_turns_total") == turns + 1


def test_an_unusable_metrics_directory_starts_the_server_with_metrics_off(
    data_dir: Path, upstream, app, tmp_path: Path
):
    # As root no directory is read-only: a file where a parent directory should be stands in.
    (tmp_path / "blocker").write_text("not a directory")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        CHAT_DATA_DIR=str(data_dir),
        OPENAI_API_KEY=SENTINEL_KEY,
        OPENAI_BASE_URL=upstream.base_url,
        CHAT_METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "blocker" / "metrics"),
        SECRET_KEY=SECRET,
        PYTHONUNBUFFERED="1",
    )
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(GUNICORN), "-w", "1", "--threads", "4", "-b", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = Server(proc, f"http://127.0.0.1:{port}", log_path)
    try:
        browser = None
        deadline = time.monotonic() + 60
        while browser is None:
            assert proc.poll() is None, served.log()[-3000:]  # the master started
            assert time.monotonic() < deadline, "gunicorn did not start"
            try:
                browser = Browser(served.url, app)  # a worker answers (its login)
            except OSError:
                time.sleep(0.1)
        assert browser.request("GET", "/healthz")[0] == 200
        assert one_turn(browser, {"message": MESSAGE})
        status, _, _ = browser.request(
            "GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert status == 404  # off, as without a token
        log = served.log()
        assert log.count("metrics_unavailable") == 2  # the master's line, and the worker's
        assert "turn {" in log  # the turn log writes on
    finally:
        proc.terminate()
        proc.wait(30)
