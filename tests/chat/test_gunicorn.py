"""Turns across worker processes under a real gunicorn: 409, re-attach and stop from another process.

Two gunicorn instances share one data directory, so the second request is certain to reach another
process (with one instance of two workers, the kernel decides which worker accepts).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chat.test_in_flight import Browser, read_until
from tests.conftest import SENTINEL_KEY, login, parse_sse, reply_text, stored

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    data_dir: Path, upstream_url: str, workers: int = 1
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "CHAT_DATA_DIR": str(data_dir),
        "OPENAI_API_KEY": SENTINEL_KEY,
        "OPENAI_BASE_URL": upstream_url,
        "CHAT_TURNS_PER_MINUTE": "1000",
        "CHAT_CONCURRENT_TURNS": "100",
    }
    proc = subprocess.Popen(
        [
            str(GUNICORN),
            "-k",
            "gthread",
            "--threads",
            "16",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("gunicorn did not start")


@pytest.fixture
def two_servers(data_dir, upstream) -> Iterator[tuple[str, str, str]]:
    upstream.reply = "word "
    upstream.chunk_size = 5
    upstream.n_deltas = 300
    upstream.delta_delay = 0.01
    procs = []
    try:
        a, url_a = start_gunicorn(data_dir, upstream.base_url)
        procs.append(a)
        b, url_b = start_gunicorn(data_dir, upstream.base_url)
        procs.append(b)
        yield url_a, url_b, str(data_dir)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
            if proc.stdout:
                log = proc.stdout.read().decode()
                assert SENTINEL_KEY not in log and "SENTINEL" not in log


def test_second_turn_refused_and_stop_across_processes(two_servers, app, upstream, data_dir):
    url_a, url_b, _ = two_servers
    on_a = Browser(url_a, app)
    on_b = Browser(url_b, app)  # the same user, logged in through the other process
    conn, response = on_a.open("POST", "/chat", {"message": "tell me a story"})
    head = read_until(response, b"event: delta")
    first = parse_sse(head.split(b"\n\n")[0] + b"\n\n")[0].data
    cid = first["conversation_id"]

    status, _, body = on_b.request("POST", "/chat", {"message": "again", "conversation_id": cid})
    assert status == 409, body

    # Re-attach through the other process sees the same turn, live.
    conn_b, live = on_b.open("GET", f"/conversations/{cid}/events")
    assert live.status == 200
    read_until(live, b"event: delta")

    status, _, _ = on_b.request("POST", f"/conversations/{cid}/stop")
    assert status == 204
    record = upstream.responses_requests()[0]
    assert record.wait_done(5) and record.client_closed and not record.completed
    saved = next(m for m in stored(data_dir, "alice", cid)["messages"] if m["role"] == "assistant")
    assert saved["status"] == "stopped"

    frames_a = parse_sse(head + response.read())
    frames_b = parse_sse(live.read())
    conn.close()
    conn_b.close()
    assert frames_a[-1].data["status"] == frames_b[-1].data["status"] == "stopped"
    assert reply_text(frames_a) == saved["text"]


def test_a_killed_worker_leaves_an_interrupted_turn(data_dir, upstream, app):
    upstream.reply = "word "
    upstream.n_deltas = 1000
    upstream.delta_delay = 0.01
    proc, url = start_gunicorn(data_dir, upstream.base_url)
    try:
        browser = Browser(url, app)
        conn, response = browser.open("POST", "/chat", {"message": "long story"})
        head = read_until(response, b"event: delta")
        first = parse_sse(head.split(b"\n\n")[0] + b"\n\n")[0].data
        # Kill the whole process tree hard: the worker dies mid-answer.
        subprocess.run(["pkill", "-KILL", "-P", str(proc.pid)], check=False)
        proc.kill()
        proc.wait(10)
        conn.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    client = login(app.test_client(), app)  # a process that did not run the turn
    events = parse_sse(client.get(f"/conversations/{first['conversation_id']}/events").data)
    assert events[-1].event == "error" and events[-1].data["code"] == "interrupted"
    page = client.get(f"/chat?conversation_id={first['conversation_id']}").get_json()
    last = page["messages"][-1]
    assert last["status"] == "failed" and last["error"]["code"] == "interrupted"
    assert last["text"].startswith("word")
