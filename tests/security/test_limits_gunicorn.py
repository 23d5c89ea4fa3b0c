"""Per-user limits under real gunicorn (S14): across two instances sharing a data dir, under one
instance with two workers (20 simultaneous turns, a limit of 2), the cap on one user's open streams
and the threads kept free for short requests; and the body and output caps."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.chat.test_in_flight import Browser, read_until
from tests.conftest import PASSWORD, SENTINEL_KEY, login, parse_sse
from tests.security.conftest import GUNICORN, ROOT, Gunicorn, free_port, stop_gunicorn

LIMITS = {
    "CHAT_TURNS_PER_MINUTE": "3",
    "CHAT_CONCURRENT_TURNS": "2",
    "CHAT_MAX_OUTPUT_TOKENS": "500",
}
STALL = "fake-stall_start"  # the upstream accepts the request and stays silent until closed


@pytest.fixture
def gunicorn(data_dir: Path, upstream: Any, tmp_path: Path) -> Iterator[Any]:
    """Return `start(workers, threads=None, **env) -> Gunicorn` (None: gunicorn.conf.py's workers;
    a number: gthread workers with that many threads)."""
    started: list[Gunicorn] = []

    def start(workers: int, threads: int | None = None, **env: str) -> Gunicorn:
        port = free_port()
        log_path = tmp_path / f"gunicorn-{len(started)}.log"
        args = [str(GUNICORN), "-w", str(workers), "-b", f"127.0.0.1:{port}"]
        if threads is not None:  # the thread cap's tests: gthread workers (the config's are gevent)
            args += ["-k", "gthread", "--threads", str(threads)]
        out = open(log_path, "wb")  # noqa: SIM115 - the process owns it until it exits
        proc = subprocess.Popen(
            [*args, "app:create_app()"],
            cwd=ROOT,  # so that gunicorn.conf.py is read
            env={
                **os.environ,
                "CHAT_DATA_DIR": str(data_dir),
                "OPENAI_API_KEY": SENTINEL_KEY,
                "OPENAI_BASE_URL": upstream.base_url,
                "CHAT_UPSTREAM_READ_TIMEOUT": "60",
                **env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        server = Gunicorn(proc, f"http://127.0.0.1:{port}", log_path)
        started.append(server)
        deadline = time.monotonic() + 30
        while True:  # listening, and every worker booted
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    pass
                if server.log().count("Booting worker") >= workers:
                    return server
            except OSError:
                pass
            if proc.poll() is not None:
                raise AssertionError(server.log())
            assert time.monotonic() < deadline, "gunicorn did not start in 30 s"
            time.sleep(0.1)

    try:
        yield start
    finally:
        for server in started:
            stop_gunicorn(server)


def first_frame(response: Any) -> dict[str, Any]:
    head = read_until(response, b"event: conversation")
    return parse_sse(head.split(b"\n\n")[0] + b"\n\n")[0].data


def short_request(url: str, path: str, body: Any = None, timeout: float = 5.0) -> int:
    """Return the status of one short request, failing if it takes longer than `timeout`."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        payload = json.dumps(body).encode() if body is not None else b""
        method = "POST" if body is not None else "GET"
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + payload
        )
        answer = sock.recv(64)
    return int(answer.split(b" ")[1])


def test_limits_hold_across_two_processes(gunicorn_pair, app, upstream):
    one, two = gunicorn_pair(**LIMITS)

    # Turns per minute: N+1 turns from one user, through both processes, at once.
    browsers = [Browser(server.url, app, user="rater") for server in (one, two)]
    statuses: list[int] = []
    lock = threading.Lock()

    def send(browser: Browser) -> None:
        status, _, _ = browser.request("POST", "/chat", {"message": "hi"})
        with lock:
            statuses.append(status)

    # Sequential pairs, alternating processes: the concurrent limit (2) never binds here.
    for _ in range(2):
        threads = [threading.Thread(target=send, args=(b,)) for b in browsers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert sorted(statuses) == [200, 200, 200, 429], statuses
    status, headers, body = browsers[1].request("POST", "/chat", {"message": "again"})
    assert status == 429 and b"rate_limited" in body and 1 <= int(headers["Retry-After"]) <= 60

    # Concurrent turns: two slow turns, one in each process; a third is refused.
    slow = {"message": "wait", "model": "fake-stall_start-8"}
    on_one, on_two = (Browser(s.url, app, user="busy") for s in (one, two))
    open_turns = []
    for browser in (on_one, on_two):
        conn, response = browser.open("POST", "/chat", slow)
        assert response.status == 200
        open_turns.append((conn, first_frame(response)))
    status, headers, body = on_one.request("POST", "/chat", {"message": "third"})
    assert status == 429 and b"rate_limited" in body and "Retry-After" in headers
    for (conn, first), browser in zip(open_turns, (on_two, on_one), strict=True):
        # Stopped through the other process, so the servers can shut down at once.
        status, _, _ = browser.request("POST", f"/conversations/{first['conversation_id']}/stop")
        assert status == 204
        conn.close()

    # Every upstream request carried the output cap.
    requests = upstream.responses_requests()
    assert len(requests) == 5
    assert all(0 < r.body["max_output_tokens"] <= 500 for r in requests)


def test_twenty_simultaneous_turns_under_two_workers(gunicorn, app, upstream):
    server = gunicorn(2, CHAT_CONCURRENT_TURNS="2", CHAT_TURNS_PER_MINUTE="100")
    browser = Browser(server.url, app)
    start = threading.Barrier(20)
    results: list[tuple[int, Any, Any]] = []
    guard = threading.Lock()

    def send() -> None:
        start.wait(30)
        conn, response = browser.open("POST", "/chat", {"message": "go", "model": STALL})
        if response.status == 200:
            result = (200, conn, first_frame(response))
        else:
            result = (response.status, dict(response.getheaders()), response.read())
            conn.close()
        with guard:
            results.append(result)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    accepted = [r for r in results if r[0] == 200]
    try:
        assert len(results) == 20
        assert len(accepted) == 2, sorted(r[0] for r in results)
        for status, headers, body in (r for r in results if r[0] != 200):
            assert status == 429 and json.loads(body)["error"]["code"] == "rate_limited"
            assert int(headers["Retry-After"]) >= 1
    finally:
        for _, conn, first in accepted:
            browser.request("POST", f"/conversations/{first['conversation_id']}/stop")
            conn.close()


def test_one_users_streams_are_capped_and_healthz_answers(gunicorn, app, upstream):
    # The production threads (gunicorn.conf.py) and the default cap of 20 streams per user.
    server = gunicorn(2, CHAT_TURNS_PER_MINUTE="100")
    alice = Browser(server.url, app)
    conn, response = alice.open("POST", "/chat", {"message": "wait", "model": STALL})
    assert response.status == 200
    cid = first_frame(response)["conversation_id"]
    streams = [conn]
    try:
        for _ in range(19):
            conn, response = alice.open("GET", f"/conversations/{cid}/events")
            assert response.status == 200
            streams.append(conn)
        for _ in range(20):  # the 21st and later: refused at once, holding no thread
            status, headers, body = alice.request("GET", f"/conversations/{cid}/events")
            assert status == 429 and json.loads(body)["error"]["code"] == "rate_limited"
            assert int(headers["Retry-After"]) >= 1
        for _ in range(10):
            assert short_request(server.url, "/healthz") == 200
        app.extensions["accounts"].create_user("bob", PASSWORD)
        login_body = {"username": "bob", "password": PASSWORD}
        assert short_request(server.url, "/login", login_body) == 200
    finally:
        alice.request("POST", f"/conversations/{cid}/stop")
        for conn in streams:
            conn.close()


@pytest.mark.parametrize(
    ("cap", "accepted"),
    [("4", 4), (None, 6)],  # None: gunicorn.conf.py's post_fork sets 8 threads - 2 kept free
    ids=["set", "from-threads"],
)
def test_threads_are_kept_for_short_requests(gunicorn, app, upstream, cap, accepted):
    # 8 threads, at most `accepted` streams in the process: many users' streams cannot take them all.
    caps = {} if cap is None else {"CHAT_MAX_STREAMS_PER_PROCESS": cap}
    server = gunicorn(
        1, threads=8, CHAT_MAX_STREAMS_PER_USER="0", CHAT_CONCURRENT_TURNS="0", **caps
    )
    browsers = [Browser(server.url, app, user=f"user{i}") for i in range(8)]
    streams: list[tuple[Browser, Any, str]] = []
    refused = 0
    try:
        for browser in browsers:
            conn, response = browser.open("POST", "/chat", {"message": "wait", "model": STALL})
            if response.status == 200:
                streams.append((browser, conn, first_frame(response)["conversation_id"]))
            else:
                assert response.status == 429
                assert json.loads(response.read())["error"]["code"] == "rate_limited"
                refused += 1
                conn.close()
        assert (len(streams), refused) == (accepted, 8 - accepted)
        for _ in range(10):
            assert short_request(server.url, "/healthz") == 200
    finally:
        for browser, conn, cid in streams:
            browser.request("POST", f"/conversations/{cid}/stop")
            conn.close()


def test_a_10_mb_body_is_refused(gunicorn_pair, app):
    in_process = login(app.test_client(), app)
    big = {"message": "x" * (10 * 1024 * 1024)}
    response = in_process.post("/chat", json=big)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "body_too_large"

    one, _ = gunicorn_pair()
    browser = Browser(one.url, app)
    parts = urlsplit(one.url)
    head = (
        "POST /chat HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\n"
        f"Cookie: {browser.cookie}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {10 * 1024 * 1024}\r\n"
        "Connection: close\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode() + b'{"message": "' + b"x" * 65536)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
