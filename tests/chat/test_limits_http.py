"""The app's own limits at the HTTP level: turns per minute (refused turns use none), concurrent
turns (20 at once, a limit of 2), budgets (checked before the model, not overspent in parallel, a
ledger that outlives deletes), open event streams per user, and the output cap."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from app.ledger import Ledger
from conversation_manager.json.limits import JsonLimitRecords
from tests.chat.test_in_flight import Browser, read_until, start_turn, wait_for
from tests.conftest import LiveServer, chat, login, parse_sse

STALL = "fake-stall_start"  # the upstream accepts the request and stays silent until closed


@pytest.fixture
def serve() -> Iterator[Any]:
    """Return `serve(app) -> base URL`: the app behind a real threaded server, stopped at the end."""
    servers: list[tuple[Any, threading.Thread]] = []

    def start(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    try:
        yield start
    finally:
        for server, thread in servers:
            server.shutdown()
            thread.join(5)


def open_stalled_turn(browser: Browser, **body: Any) -> tuple[Any, dict[str, Any]]:
    """Start a turn whose upstream stays silent; return its connection and `conversation` frame."""
    conn, response = browser.open("POST", "/chat", {"message": "wait", "model": STALL, **body})
    assert response.status == 200, response.read()
    head = read_until(response, b"event: conversation")
    return conn, parse_sse(head.split(b"\n\n")[0] + b"\n\n")[0].data


def simultaneous_turns(browser: Browser, n: int, **body: Any) -> list[tuple[int, Any, Any]]:
    """Send `n` turns at once; return (status, headers or the open connection, first frame/body)."""
    start = threading.Barrier(n)
    results: list[tuple[int, Any, Any]] = []
    guard = threading.Lock()

    def send() -> None:
        start.wait(30)
        conn, response = browser.open("POST", "/chat", {"message": "go", **body})
        if response.status == 200:
            head = read_until(response, b"event: conversation")
            result = (200, conn, parse_sse(head.split(b"\n\n")[0] + b"\n\n")[0].data)
        else:
            result = (response.status, dict(response.getheaders()), json.loads(response.read()))
            conn.close()
        with guard:
            results.append(result)

    threads = [threading.Thread(target=send) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == n
    return results


def stop_all(browser: Browser, accepted: list[tuple[int, Any, Any]]) -> None:
    for _, conn, first in accepted:
        status, _, _ = browser.request("POST", f"/conversations/{first['conversation_id']}/stop")
        assert status == 204
        conn.close()


def test_turns_per_minute(make_app, upstream):
    app = make_app(CHAT_TURNS_PER_MINUTE=3)
    client = login(app.test_client(), app)
    for _ in range(3):
        chat(client, message="hi")
    refused = client.post("/chat", json={"message": "one too many"})
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(upstream.responses_requests()) == 3


def test_refused_turns_use_up_no_turn_of_the_minute(make_app, upstream):
    app = make_app(CHAT_TURNS_PER_MINUTE=3)
    client = login(app.test_client(), app)
    cid = chat(client, message="hi")[0].data["conversation_id"]  # turn 1 of 3
    for _ in range(5):
        unknown_parent = client.post(
            "/chat", json={"message": "x", "conversation_id": cid, "parent_message_id": "m_nope"}
        )
        assert unknown_parent.status_code in (400, 404)
        unknown = client.post("/chat", json={"message": "x", "conversation_id": "c_nope"})
        assert unknown.status_code == 404
        bad = client.post("/chat", json={"message": "x", "regenerate": True})
        assert bad.status_code == 400
    chat(client, message="two", conversation_id=cid)
    chat(client, message="three", conversation_id=cid)
    refused = client.post("/chat", json={"message": "four", "conversation_id": cid})
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"


def test_a_turn_refused_with_409_uses_up_no_turn_of_the_minute(make_app, upstream, serve):
    app = make_app(CHAT_TURNS_PER_MINUTE=2, CHAT_UPSTREAM_READ_TIMEOUT=30)
    browser = Browser(serve(app), app)
    conn, first = open_stalled_turn(browser)  # turn 1 of 2
    cid = first["conversation_id"]
    for _ in range(5):
        status, _, body = browser.request("POST", "/chat", {"message": "x", "conversation_id": cid})
        assert status == 409 and json.loads(body)["error"]["code"] == "turn_in_progress"
    assert browser.request("POST", f"/conversations/{cid}/stop")[0] == 204
    conn.close()
    again = {"message": "two", "conversation_id": cid, "model": "gpt-test"}  # one that answers
    status, _, body = browser.request("POST", "/chat", again)
    assert status == 200, body
    status, headers, body = browser.request("POST", "/chat", {"message": "three"})
    assert status == 429 and b"rate_limited" in body and "Retry-After" in headers


def test_concurrent_turns_per_user(make_app, upstream, serve):
    upstream.reply, upstream.chunk_size, upstream.n_deltas = "word ", 5, 400
    upstream.delta_delay = 0.01
    app = make_app(CHAT_CONCURRENT_TURNS=2)
    browser = Browser(serve(app), app)
    open_turns = [start_turn(browser), start_turn(browser)]
    status, headers, body = browser.request("POST", "/chat", {"message": "third"})
    assert status == 429 and b"rate_limited" in body and "Retry-After" in headers
    for conn, response, _ in open_turns:
        response.read()
        conn.close()
    status, _, _ = browser.request("POST", "/chat", {"message": "now it fits"})
    assert status == 200


def test_twenty_simultaneous_turns_with_a_limit_of_two(make_app, upstream, serve):
    app = make_app(CHAT_CONCURRENT_TURNS=2, CHAT_UPSTREAM_READ_TIMEOUT=30)
    browser = Browser(serve(app), app)
    results = simultaneous_turns(browser, 20, model=STALL)
    accepted = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] != 200]
    try:
        assert len(accepted) == 2, [r[0] for r in results]
        for status, headers, body in refused:
            assert status == 429 and body["error"]["code"] == "rate_limited"
            assert int(headers["Retry-After"]) >= 1
        wait_for(lambda: len(upstream.responses_requests()) == 2)
    finally:
        stop_all(browser, accepted)
    assert len(upstream.responses_requests()) == 2


def test_budget_in_tokens_is_checked_before_the_model(make_app, upstream):
    app = make_app(CHAT_BUDGET_LIMIT=1, CHAT_BUDGET_UNIT="tokens", CHAT_BUDGET_PERIOD="day")
    client = login(app.test_client(), app)
    chat(client, message="hi")  # spends more than one token
    refused = client.post("/chat", json={"message": "more"})
    error = refused.get_json()["error"]
    assert refused.status_code == 429 and error["code"] == "budget_exceeded"
    assert error["resets_at"] > 0 and int(refused.headers["Retry-After"]) >= 1
    assert len(upstream.responses_requests()) == 1  # no upstream call once exhausted


def test_parallel_turns_do_not_overspend_a_budget(make_app, upstream, serve):
    # Each turn reserves its input plus the output cap, so turns in flight must fit together.
    app = make_app(
        CHAT_BUDGET_LIMIT=100,
        CHAT_BUDGET_UNIT="tokens",
        CHAT_MAX_OUTPUT_TOKENS=50,
        CHAT_UPSTREAM_READ_TIMEOUT=30,
    )
    browser = Browser(serve(app), app)
    results = simultaneous_turns(browser, 20, model=STALL)
    accepted = [r for r in results if r[0] == 200]
    try:
        assert 1 <= len(accepted) <= 2, [r[0] for r in results]
        for status, _, body in (r for r in results if r[0] != 200):
            assert status == 429 and body["error"]["code"] == "budget_exceeded"
    finally:
        stop_all(browser, accepted)
    assert len(upstream.responses_requests()) == len(accepted)


def test_the_ledger_outlives_deleted_conversations(make_app, upstream, data_dir):
    app = make_app(CHAT_BUDGET_LIMIT=10**9, CHAT_BUDGET_UNIT="tokens")
    client = login(app.test_client(), app)
    cid = chat(client, message="hi")[0].data["conversation_id"]
    ledger = Ledger(JsonLimitRecords(data_dir))
    wait_for(lambda: ledger.spent("alice", period="day").tokens > 0)
    spent = ledger.spent("alice", period="day")
    assert client.delete(f"/conversations/{cid}").status_code == 204
    assert ledger.spent("alice", period="day") == spent


def test_open_streams_per_user_are_capped(make_app, upstream, serve):
    # The default cap: 20 open event streams (POST /chat and re-attach) per user.
    # The stalled turn must outlive the whole test, however slow the machine: when its read
    # timeout ended it, its re-attached streams ended too and the 21st stream found a free slot.
    app = make_app(CHAT_UPSTREAM_READ_TIMEOUT=3600, CHAT_KEEPALIVE_SECONDS=0.2)
    server = LiveServer(serve(app), app)
    alice = Browser(server.url, app)
    turn, first = open_stalled_turn(alice)  # stream 1
    cid = first["conversation_id"]
    events = f"/conversations/{cid}/events"
    streams = []
    try:
        for _ in range(19):  # streams 2..20
            conn, response = alice.open("GET", events)
            assert response.status == 200
            streams.append(conn)
        status, headers, body = alice.request("GET", events)  # the 21st
        assert status == 429 and json.loads(body)["error"]["code"] == "rate_limited"
        assert int(headers["Retry-After"]) >= 1
        n_upstream = len(upstream.responses_requests())
        status, _, body = alice.request("POST", "/chat", {"message": "another"})
        assert status == 429 and json.loads(body)["error"]["code"] == "rate_limited"
        assert len(upstream.responses_requests()) == n_upstream  # refused before any turn
        # Short requests and other users still get through.
        assert alice.request("GET", "/healthz")[0] == 200
        bob = Browser(server.url, app, user="bob")
        bob_turn, bob_first = open_stalled_turn(bob)
        assert bob.request("POST", f"/conversations/{bob_first['conversation_id']}/stop")[0] == 204
        bob_turn.close()
        # A closed stream gives its slot back.
        streams.pop().close()
        deadline = time.monotonic() + 10
        while True:
            conn, response = alice.open("GET", events)
            if response.status == 200:
                streams.append(conn)
                break
            response.read()
            conn.close()
            assert time.monotonic() < deadline, "the closed stream's slot was not released"
            time.sleep(0.1)
    finally:
        alice.request("POST", f"/conversations/{cid}/stop")
        for conn in [turn, *streams]:
            conn.close()


def test_every_upstream_call_caps_output_tokens(make_app, upstream):
    app = make_app(CHAT_MAX_OUTPUT_TOKENS=1234)
    client = login(app.test_client(), app)
    one = chat(client, message="hi")
    upstream.forget_all()
    chat(client, message="again", conversation_id=one[0].data["conversation_id"])
    bodies = [r.body for r in upstream.responses_requests()]
    assert len(bodies) == 3 and all(b["max_output_tokens"] == 1234 for b in bodies)
