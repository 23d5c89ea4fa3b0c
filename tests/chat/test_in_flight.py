"""Turns in flight: a browser that goes away, re-attach, stop, one turn at a time, crash repair."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import PASSWORD, chat, parse_sse, reply_text, stored

LONG = 200  # deltas in a slow answer


class Browser:
    """A minimal HTTP client on a real socket, so it can go away mid-stream like a closed tab."""

    def __init__(self, base_url: str, app: Any, user: str = "alice") -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        accounts = app.extensions["accounts"]
        if user not in accounts.list_users():
            accounts.create_user(user, PASSWORD)
        status, headers, _ = self.request(
            "POST", "/login", {"username": user, "password": PASSWORD}
        )
        assert status == 200
        self.cookie = headers["Set-Cookie"].split(";")[0]

    def open(self, method: str, path: str, body: Any = None, headers: dict | None = None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if getattr(self, "cookie", None):
            all_headers["Cookie"] = self.cookie
        payload = json.dumps(body) if body is not None else None
        conn.request(method, path, body=payload, headers=all_headers)
        return conn, conn.getresponse()

    def request(self, method: str, path: str, body: Any = None, headers: dict | None = None):
        conn, response = self.open(method, path, body, headers)
        try:
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()


def read_until(response: Any, needle: bytes, limit: float = 10.0) -> bytes:
    data = b""
    deadline = time.monotonic() + limit
    while needle not in data:
        assert time.monotonic() < deadline, data
        chunk = response.read1(65536)
        if not chunk:
            break
        data += chunk
    return data


def wait_for(predicate, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def assistant(data_dir, cid: str, mid: str) -> dict[str, Any]:
    return next(m for m in stored(data_dir, "alice", cid)["messages"] if m["id"] == mid)


@pytest.fixture
def slow(upstream):
    upstream.reply = "word "
    upstream.chunk_size = 5
    upstream.n_deltas = LONG
    upstream.delta_delay = 0.01
    return upstream


def start_turn(browser: Browser, **body: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Open a turn and read up to its first delta; `response.head` keeps what was read."""
    conn, response = browser.open("POST", "/chat", {"message": "tell me a story", **body})
    assert response.status == 200
    response.head = read_until(response, b"event: delta")
    first = parse_sse(response.head.split(b"\n\n")[0] + b"\n\n")[0]
    return conn, response, first.data


def test_browser_going_away_keeps_the_turn_running(live_server, slow, data_dir):
    browser = Browser(live_server.url, live_server.app)
    conn, _, first = start_turn(browser)
    conn.close()  # the tab is closed mid-answer
    cid, mid = first["conversation_id"], first["assistant_message_id"]
    wait_for(lambda: assistant(data_dir, cid, mid)["status"] != "in_progress", 30)
    saved = assistant(data_dir, cid, mid)
    assert saved["status"] == "completed" and saved["text"] == "word " * LONG
    record = slow.responses_requests()[0]
    assert record.wait_done(5) and record.completed and not record.client_closed

    # Re-attaching replays the whole finished turn, then ends.
    status, headers, body = browser.request("GET", f"/conversations/{cid}/events")
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    frames = parse_sse(body)
    assert frames[0].event == "conversation" and frames[-1].event == "done"
    assert reply_text(frames) == "word " * LONG
    # ... or only what came after the frame the browser last saw.
    last_seen = frames[2].id
    status, _, body = browser.request(
        "GET", f"/conversations/{cid}/events", headers={"Last-Event-ID": last_seen}
    )
    rest = parse_sse(body)
    assert rest[0].id == frames[3].id and rest[-1].event == "done"


def test_reattach_while_running_completes(live_server, slow, data_dir):
    browser = Browser(live_server.url, live_server.app)
    conn, response, first = start_turn(browser)
    cid = first["conversation_id"]
    status, _, body = browser.request("GET", f"/conversations/{cid}/events")
    frames = parse_sse(body)
    assert status == 200 and frames[-1].event == "done" and frames[-1].data["status"] == "completed"
    assert reply_text(frames) == "word " * LONG
    rest = response.read()  # the first tab got the same turn
    conn.close()
    assert parse_sse(rest)[-1].event == "done"


def test_no_turn_to_reattach_to(client):
    frames = chat(client, message="hi")
    cid = frames[0].data["conversation_id"]
    stop = client.post(f"/conversations/{cid}/stop")
    assert stop.status_code == 404 and stop.get_json()["error"]["code"] == "no_turn"
    unknown = client.get("/conversations/c_doesnotexist/events")
    assert unknown.status_code == 404


def test_stop_closes_the_upstream_and_saves_stopped(live_server, slow, data_dir):
    browser = Browser(live_server.url, live_server.app)
    conn, response, first = start_turn(browser)
    cid, mid = first["conversation_id"], first["assistant_message_id"]
    t0 = time.monotonic()
    status, _, _ = browser.request("POST", f"/conversations/{cid}/stop")
    assert status == 204
    saved = assistant(data_dir, cid, mid)  # saved before the stop answered
    assert saved["status"] == "stopped" and saved["text"].startswith("word")
    record = slow.responses_requests()[0]
    assert record.wait_done(5) and record.client_closed and not record.completed
    assert time.monotonic() - t0 < 5
    frames = parse_sse(response.head + response.read())
    conn.close()
    assert frames[-1].event == "done" and frames[-1].data["status"] == "stopped"
    assert reply_text(frames) == saved["text"]
    assert saved["response_id"] is None  # a stopped answer is replayed, never chained from


def test_stop_while_the_model_is_silent(live_server, upstream, data_dir):
    upstream.script([{"kind": "stall_start", "seconds": 30}])
    browser = Browser(live_server.url, live_server.app)
    conn, response = browser.open("POST", "/chat", {"message": "think hard"})
    head = read_until(response, b"event: conversation")
    first = parse_sse(head.split(b"\n\n")[0] + b"\n\n")[0].data
    wait_for(lambda: len(upstream.responses_requests()) == 1)
    t0 = time.monotonic()
    status, _, _ = browser.request("POST", f"/conversations/{first['conversation_id']}/stop")
    assert status == 204 and time.monotonic() - t0 < 5
    record = upstream.responses_requests()[0]
    assert record.wait_done(5) and record.client_closed
    saved = assistant(data_dir, first["conversation_id"], first["assistant_message_id"])
    assert saved["status"] == "stopped" and saved["text"] == ""
    conn.close()


def test_second_turn_in_the_same_conversation_is_refused(live_server, slow, data_dir):
    browser = Browser(live_server.url, live_server.app)
    conn, response, first = start_turn(browser)
    cid = first["conversation_id"]
    status, _, body = browser.request("POST", "/chat", {"message": "again", "conversation_id": cid})
    assert status == 409 and json.loads(body)["error"]["code"] == "turn_in_progress"
    rest = response.read()
    conn.close()
    assert parse_sse(rest)[-1].data["status"] == "completed"
    doc = stored(data_dir, "alice", cid)
    assert [m["role"] for m in doc["messages"]] == ["user", "assistant"]


def test_delete_while_running_stops_first_and_is_never_recreated(live_server, slow, data_dir):
    browser = Browser(live_server.url, live_server.app)
    conn, response, first = start_turn(browser)
    cid = first["conversation_id"]
    status, _, _ = browser.request("DELETE", f"/conversations/{cid}")
    assert status == 204
    frames = parse_sse(response.read())
    conn.close()
    assert frames[-1].event in ("done", "error")
    time.sleep(0.2)
    assert not (data_dir / "alice" / f"{cid}.json").exists()
    status, _, _body = browser.request("GET", f"/chat?conversation_id={cid}")
    assert status == 404
    listing = browser.request("GET", "/get-all-conversations")[2]
    assert cid not in listing.decode()


def test_a_dead_worker_is_repaired_as_interrupted(client, app, data_dir):
    """A reply left in_progress with nobody holding the turn lock (the process died)."""
    store = app.extensions["store"]
    conversation = store.create(
        "alice", chat_name="crash", model="m", provider="openai", instructions="i"
    )
    _, _user_message, reply = store.begin_turn(
        "alice",
        conversation.id,
        text="question",
        parent_id=None,
        model="m",
        provider="openai",
        context_mode="first",
    )
    turns_dir = data_dir / "alice" / ".turns"
    turns_dir.mkdir(exist_ok=True)
    journal = turns_dir / f"{conversation.id}.jsonl"
    journal.write_text(
        f'0 turn {{"turn_id":"{reply.id}","started_at":1}}\n'
        f'1 conversation {{"conversation_id":"{conversation.id}"}}\n'
        '2 delta {"text":"partial "}\n'
        '3 delta {"text":"answer"}\n'
        '4 delta {"text":"torn'
    )
    events = client.get(f"/conversations/{conversation.id}/events")
    frames = parse_sse(events.data)
    assert [f.event for f in frames] == ["conversation", "delta", "delta", "error"]
    assert frames[-1].data["code"] == "interrupted"
    page = client.get(f"/chat?conversation_id={conversation.id}").get_json()
    last = page["messages"][-1]
    assert last["status"] == "failed" and last["error"]["code"] == "interrupted"
    assert last["text"] == "partial answer"
