"""Per-user limits hold across two gunicorn processes sharing a data dir (S14), and the body and
output caps hold."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

from tests.chat.test_in_flight import Browser, read_until
from tests.conftest import login, parse_sse

LIMITS = {
    "CHAT_TURNS_PER_MINUTE": "3",
    "CHAT_CONCURRENT_TURNS": "2",
    "CHAT_MAX_OUTPUT_TOKENS": "500",
}


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
        head = read_until(response, b"event: conversation")
        open_turns.append((conn, parse_sse(head.split(b"\n\n")[0] + b"\n\n")[0].data))
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
