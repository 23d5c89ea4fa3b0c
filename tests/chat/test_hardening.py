"""Issue 10 on the turn side, over HTTP: stop before the upstream's headers, a failing final save,
the reply cap, upstream text never kept, and refused turns that use no rate slot."""

from __future__ import annotations

import errno
import json
import pathlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from werkzeug.serving import make_server

import conversation_manager as cm
from app import messages
from tests.chat.raw_upstream import completed_stream, raw_upstream, silent, sse_events
from tests.chat.test_in_flight import Browser, assistant, read_until, wait_for
from tests.conftest import SENTINEL_KEY, chat, login, parse_sse, reply_text, stored


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app behind a real threaded HTTP server on 127.0.0.1; yields its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def open_turn(browser: Browser, **body: Any) -> tuple[Any, Any, dict[str, Any]]:
    """POST /chat and read up to its `conversation` frame."""
    conn, response = browser.open("POST", "/chat", {"message": "think hard", **body})
    assert response.status == 200
    response.head = read_until(response, b"event: conversation")
    first = parse_sse(response.head.split(b"\n\n")[0] + b"\n\n")[0]
    return conn, response, first.data


# -- issue 10 item 1: stop and delete while the upstream is silent before its headers ------------


def test_stop_while_the_upstream_sends_no_headers(make_app, data_dir):
    with raw_upstream([silent(25)]) as upstream:
        app = make_app(OPENAI_BASE_URL=upstream.base_url, CHAT_UPSTREAM_READ_TIMEOUT=60.0)
        with serving(app) as url:
            browser = Browser(url, app)
            conn, response, first = open_turn(browser)
            cid, mid = first["conversation_id"], first["assistant_message_id"]
            wait_for(lambda: len(upstream.seen) == 1)
            time.sleep(1.0)
            t0 = time.monotonic()
            status, _, _ = browser.request("POST", f"/conversations/{cid}/stop")
            elapsed = time.monotonic() - t0
            assert status == 204 and elapsed < 3
            saved = assistant(data_dir, cid, mid)  # saved before the stop answered
            assert saved["status"] == "stopped" and saved["text"] == ""
            frames = parse_sse(response.head + response.read())
            conn.close()
            assert frames[-1].event == "done" and frames[-1].data["status"] == "stopped"
            assert upstream.seen[0].closed_by_client.wait(5)
            time.sleep(0.5)  # a retry would come now
            assert len(upstream.seen) == 1  # no retry after the stop
            # The conversation takes a new turn at once.
            conn, response, again = open_turn(browser, conversation_id=cid)
            assert again["conversation_id"] == cid
            status, _, _ = browser.request("POST", f"/conversations/{cid}/stop")
            assert status == 204
            conn.close()


def test_delete_while_the_upstream_sends_no_headers(make_app, data_dir):
    with raw_upstream([silent(25)]) as upstream:
        app = make_app(OPENAI_BASE_URL=upstream.base_url, CHAT_UPSTREAM_READ_TIMEOUT=60.0)
        with serving(app) as url:
            browser = Browser(url, app)
            conn, response, first = open_turn(browser)
            cid = first["conversation_id"]
            wait_for(lambda: len(upstream.seen) == 1)
            time.sleep(1.0)
            t0 = time.monotonic()
            status, _, _ = browser.request("DELETE", f"/conversations/{cid}")
            assert status == 204 and time.monotonic() - t0 < 3
            assert not (data_dir / "alice" / f"{cid}.json").exists()
            frames = parse_sse(response.head + response.read())
            conn.close()
            assert frames[-1].event == "done" and frames[-1].data["status"] == "stopped"
            assert upstream.seen[0].closed_by_client.wait(5)
            time.sleep(0.5)
            assert len(upstream.seen) == 1
            status, _, _ = browser.request("GET", f"/chat?conversation_id={cid}")
            assert status == 404


def test_stop_answers_503_rather_than_a_false_204_when_the_save_does_not_come(
    make_app, data_dir, monkeypatch
):
    with raw_upstream([silent(25)]) as upstream:
        app = make_app(
            OPENAI_BASE_URL=upstream.base_url,
            CHAT_LOCK_TIMEOUT=0.2,
            CHAT_UPSTREAM_READ_TIMEOUT=60.0,
        )
        chat_service = app.extensions["chat"]
        # A save that hangs past the stop's deadline (lock timeout + grace periods).
        monkeypatch.setattr("app.turns.config.SAVE_GRACE_SECONDS", 0.5)
        monkeypatch.setattr("app.turns.config.STOP_GRACE_SECONDS", 0.5)
        release = threading.Event()
        real_finish = chat_service.store.finish_assistant_message

        def slow_finish(*args: Any, **kwargs: Any) -> Any:
            release.wait(10)
            return real_finish(*args, **kwargs)

        monkeypatch.setattr(chat_service.store, "finish_assistant_message", slow_finish)
        with serving(app) as url:
            browser = Browser(url, app)
            conn, response, first = open_turn(browser)
            cid, mid = first["conversation_id"], first["assistant_message_id"]
            wait_for(lambda: len(upstream.seen) == 1)
            status, headers, body = browser.request("POST", f"/conversations/{cid}/stop")
            assert status == 503 and json.loads(body)["error"]["code"] == "storage_busy"
            assert int(headers["Retry-After"]) >= 1
            assert assistant(data_dir, cid, mid)["status"] == "in_progress"
            release.set()
            frames = parse_sse(response.head + response.read())
            conn.close()
            assert frames[-1].data["status"] == "stopped"
            assert assistant(data_dir, cid, mid)["status"] == "stopped"


# -- issue 10 item 5: a final save that fails must leave nothing stuck -----------------------------


@pytest.mark.parametrize("failure", ["erofs", "storage_error"])
def test_a_failing_final_save_is_repaired_from_the_journal(
    client, app, data_dir, upstream, monkeypatch, failure
):
    store = app.extensions["chat"].store
    cid = chat(client, message="one")[0].data["conversation_id"]
    real_finish, real_repair = store.finish_assistant_message, store.mark_interrupted
    real_unlink = pathlib.Path.unlink

    def read_only(*args: Any, **kwargs: Any) -> Any:
        if failure == "erofs":
            raise OSError(errno.EROFS, "Read-only file system")
        raise cm.StorageError("storage error while writing (errno 30)")

    def unlink(self: pathlib.Path, missing_ok: bool = False) -> None:
        # A read-only mount refuses even the unlink of a missing file (EROFS before ENOENT).
        if self.parent.name == ".turns":
            raise OSError(errno.EROFS, "Read-only file system")
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(store, "finish_assistant_message", read_only)
    monkeypatch.setattr(store, "mark_interrupted", read_only)
    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    frames = chat(client, message="two", conversation_id=cid)
    assert frames[-1].event == "error" and frames[-1].data["code"] == "internal"
    text = reply_text(frames)
    assert text == "Hello! How can I help?"
    mid = frames[0].data["assistant_message_id"]
    # Still read-only: the page loads (the repair waits), nothing is stuck in a 500.
    page = client.get(f"/chat?conversation_id={cid}")
    assert page.status_code == 200 and page.get_json()["messages"][-1]["status"] == "in_progress"

    monkeypatch.setattr(store, "finish_assistant_message", real_finish)
    monkeypatch.setattr(store, "mark_interrupted", real_repair)
    monkeypatch.setattr(pathlib.Path, "unlink", real_unlink)
    page = client.get(f"/chat?conversation_id={cid}").get_json()
    last = page["messages"][-1]
    assert last["id"] == mid and last["status"] == "failed"
    assert last["error"]["code"] == "interrupted" and last["text"] == text
    assert last["error"]["message"] == messages.message_for("interrupted")  # the one table's words
    again = chat(client, message="three", conversation_id=cid)
    assert again[-1].event == "done" and again[-1].data["status"] == "completed"


# -- issue 10 item 11: the reply cap ------------------------------------------------------------


def test_a_5_mb_reply_is_cut_at_the_cap_and_the_upstream_closed(make_app, upstream, data_dir):
    app = make_app(CHAT_MAX_REPLY_CHARS=100_000)
    client = login(app.test_client(), app)
    upstream.reply = "0123456789" * 500_000  # 5 MB
    upstream.chunk_size = 20_000
    upstream.delta_delay = 0.002
    frames = chat(client, message="a lot please")
    last = frames[-1]
    assert last.event == "done" and last.data["status"] == "incomplete"
    assert last.data["error"]["code"] == "reply_too_long"
    assert reply_text(frames) == upstream.reply[:100_000]
    cid, mid = frames[0].data["conversation_id"], frames[0].data["assistant_message_id"]
    saved = assistant(data_dir, cid, mid)
    assert saved["status"] == "incomplete" and saved["error"]["code"] == "reply_too_long"
    assert saved["text"] == upstream.reply[:100_000]
    record = upstream.responses_requests()[0]
    assert record.wait_done(5) and record.client_closed and not record.completed
    assert (data_dir / "alice" / f"{cid}.json").stat().st_size < 300_000
    assert (data_dir / "alice" / ".turns" / f"{cid}.jsonl").stat().st_size < 300_000


def test_no_cap_when_the_setting_is_0(make_app, upstream):
    app = make_app(CHAT_MAX_REPLY_CHARS=0)
    client = login(app.test_client(), app)
    upstream.reply = "x" * 300_000
    upstream.chunk_size = 30_000
    frames = chat(client, message="a lot")
    assert frames[-1].data["status"] == "completed" and len(reply_text(frames)) == 300_000


# -- issue 10 item 3: only cleaned upstream values are kept ---------------------------------------


def test_an_incomplete_reason_holding_the_key_is_kept_nowhere(make_app, data_dir):
    reason = f"max_output_tokens {SENTINEL_KEY} " + "x" * 3000
    events = completed_stream("Partial.", status="incomplete", reason=reason)
    answer = sse_events(events, headers={"x-request-id": f"req_{SENTINEL_KEY}"})
    with raw_upstream([answer]) as upstream:
        app = make_app(OPENAI_BASE_URL=upstream.base_url, CHAT_UPSTREAM_MAX_RETRIES=0)
        client = login(app.test_client(), app)
        response = client.post("/chat", json={"message": "hello"})
        body = response.data.decode()
        frames = parse_sse(response.data)
        done = frames[-1]
        assert done.event == "done" and done.data["status"] == "incomplete"
        assert done.data["error"]["code"] == "other"
        cid = frames[0].data["conversation_id"]
        on_disk = (data_dir / "alice" / f"{cid}.json").read_text()
        page = client.get(f"/chat?conversation_id={cid}").data.decode()
        again = client.get(f"/conversations/{cid}/events").data.decode()
        for text in (body, on_disk, page, again):
            assert "SENTINEL" not in text and SENTINEL_KEY[:12] not in text
            assert "x" * 100 not in text
        saved = stored(data_dir, "alice", cid)["messages"][-1]
        assert saved["error"]["code"] == "other" and saved["request_id"] is None
        assert "finish_reason" not in saved["metadata"]


# -- issue 9: a refused turn uses no turns-per-minute slot -----------------------------------------


def test_refused_turns_use_no_rate_slot(make_app, upstream):
    app = make_app(CHAT_TURNS_PER_MINUTE=2)
    client = login(app.test_client(), app)
    cid = chat(client, message="one")[0].data["conversation_id"]
    for _ in range(3):
        missing = client.post(
            "/chat", json={"message": "x", "conversation_id": cid, "parent_message_id": "m_nope"}
        )
        assert missing.status_code == 404
        empty = client.post("/chat", json={"message": "  ", "conversation_id": cid})
        assert empty.status_code == 400
        unknown = client.post("/chat", json={"message": "x", "conversation_id": "c_unknown"})
        assert unknown.status_code == 404
    # The second real turn still fits in the minute.
    assert chat(client, message="two", conversation_id=cid)[-1].data["status"] == "completed"
    refused = client.post("/chat", json={"message": "three", "conversation_id": cid})
    assert refused.status_code == 429


def test_a_turn_refused_with_409_uses_no_rate_slot(make_app, upstream):
    upstream.reply, upstream.chunk_size, upstream.n_deltas = "word ", 5, 300
    upstream.delta_delay = 0.01
    app = make_app(CHAT_TURNS_PER_MINUTE=2)
    with serving(app) as url:
        browser = Browser(url, app)
        conn, response, first = open_turn(browser)
        cid = first["conversation_id"]
        for _ in range(3):
            status, _, _ = browser.request(
                "POST", "/chat", {"message": "again", "conversation_id": cid}
            )
            assert status == 409
        response.read()
        conn.close()
        wait_for(lambda: not app.extensions["chat"].coordination_for("alice").is_live(cid))
        status, _, _ = browser.request("POST", "/chat", {"message": "now", "conversation_id": cid})
        assert status == 200


# -- issue 9: the save loop has a deadline, not a retry count --------------------------------------


def test_a_busy_store_holds_a_finishing_turn_only_until_the_save_deadline(
    make_app, upstream, data_dir, monkeypatch
):
    import filelock

    monkeypatch.setattr("app.turns.config.SAVE_GRACE_SECONDS", 0.5)
    app = make_app(CHAT_LOCK_TIMEOUT=1.0)
    upstream.reply, upstream.chunk_size, upstream.n_deltas = "word ", 5, 20
    upstream.delta_delay = 0.02
    holder = filelock.FileLock(str(data_dir / "alice" / ".lock"))
    with serving(app) as url:
        browser = Browser(url, app)
        conn, response, first = open_turn(browser)
        cid = first["conversation_id"]
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with holder:
                held.set()
                release.wait(30)

        thread = threading.Thread(target=hold)
        thread.start()
        try:
            assert held.wait(5)
            t0 = time.monotonic()
            frames = parse_sse(response.head + response.read())
            elapsed = time.monotonic() - t0
            conn.close()
            # The old loop tried 5 times (5 lock waits and back-offs) before giving up.
            assert frames[-1].event == "error" and elapsed < 3.5
            coordination = app.extensions["chat"].coordination_for("alice")
            wait_for(lambda: not coordination.is_live(cid), 2)
        finally:
            release.set()
            thread.join(10)
        page = browser.request("GET", f"/chat?conversation_id={cid}")[2]
        last = json.loads(page)["messages"][-1]
        assert last["status"] == "failed" and last["text"] == "word " * 20
