"""Secrets never reach a response, an SSE event or a log line (S13), in process and under gunicorn."""

from __future__ import annotations

import errno
import json
import logging
import threading
import time

import filelock
import pytest

from conversation_manager import atomic_files
from tests.chat.test_in_flight import Browser
from tests.conftest import SENTINEL_KEY, login, parse_sse
from tests.security.conftest import start_gunicorn, stop_gunicorn

FRAGMENTS = {SENTINEL_KEY[i : i + 8] for i in range(len(SENTINEL_KEY) - 7)}


def leaks(text: str) -> list[str]:
    """The 8-character pieces of the sentinel key found in `text`."""
    return sorted(f for f in FRAGMENTS if f in text)


def drive(app, data_dir, monkeypatch) -> list[str]:
    """Call every kind of route and failure; return every body and SSE event seen."""
    seen: list[str] = []
    anonymous = app.test_client()
    a = login(app.test_client(), app)

    def keep(response):
        seen.append(response.get_data(as_text=True))
        seen.extend(f"{k}: {v}" for k, v in response.headers.items())
        return response

    for path in ("/", "/login", "/healthz", "/models", "/get-all-conversations", "/account"):
        keep(a.get(path))
        keep(anonymous.get(path))
    ok = keep(a.post("/chat", json={"message": "hello"}))
    cid = parse_sse(ok.data)[0].data["conversation_id"]
    keep(a.get("/chat", query_string={"conversation_id": cid}))
    keep(a.get(f"/conversations/{cid}/events"))
    # The upstream answers 401 with a message that echoes part of the key.
    failed = keep(a.post("/chat", json={"message": "hi", "model": "fake-401"}))
    last = parse_sse(failed.data)[-1]
    assert last.event == "error" and last.data["code"] == "upstream_auth"
    for model in ("fake-500", "fake-429", "fake-quota", "fake-context", "fake-error_nested"):
        keep(a.post("/chat", json={"message": "hi", "model": model}))
    share = keep(a.post(f"/conversations/{cid}/share", json={})).get_json()
    keep(anonymous.get(share["url"]))
    keep(a.get(f"/conversations/{cid}/shares"))
    keep(a.post("/login", json={"username": "alice", "password": SENTINEL_KEY}))
    keep(anonymous.post("/login", json={"username": SENTINEL_KEY, "password": SENTINEL_KEY}))

    # A forced 500 whose exception text carries the key.
    store = app.extensions["store"]
    with monkeypatch.context() as m:

        def explode(*args, **kwargs):
            raise RuntimeError(f"boom while using {SENTINEL_KEY}")

        m.setattr(store, "list", explode)
        response = keep(a.get("/get-all-conversations"))
        assert response.status_code == 500
        assert response.get_json()["error"]["code"] == "internal"

    # The disk is full.
    with monkeypatch.context() as m:

        def full(fd, data):
            raise OSError(errno.ENOSPC, f"No space left ({SENTINEL_KEY})")

        m.setattr(atomic_files, "_write_all", full)
        response = keep(a.patch(f"/conversations/{cid}", json={"chat_name": "renamed"}))
        assert response.status_code == 507
        assert response.get_json()["error"]["code"] == "storage_full"

    # A lock held elsewhere: 503 with Retry-After.
    holder = filelock.FileLock(str(data_dir / "alice" / ".lock"))
    acquired, release = threading.Event(), threading.Event()

    def hold():
        with holder:
            acquired.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert acquired.wait(5)
        response = keep(a.patch(f"/conversations/{cid}", json={"chat_name": "renamed"}))
        assert response.status_code == 503 and "Retry-After" in response.headers
        assert response.get_json()["error"]["code"] == "storage_busy"
    finally:
        release.set()
        thread.join(10)
    keep(a.delete(f"/conversations/{cid}"))
    keep(a.post("/logout", json={}))
    return seen


def test_no_secret_in_bodies_events_or_logs(make_app, data_dir, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(CHAT_LOCK_TIMEOUT=0.3, CHAT_UPSTREAM_MAX_RETRIES=0)
    seen = drive(app, data_dir, monkeypatch)
    assert len(seen) > 40
    for text in seen:
        assert leaks(text) == [], text[:300]
    log_text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "unhandled error" in log_text  # the forced 500 was logged, with its traceback ...
    assert "Traceback" in caplog.text
    assert leaks(log_text) == []  # ... but without the key


def test_the_redaction_covers_exception_chains_and_share_paths(make_app, caplog):
    make_app()
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("some.library")
    try:
        try:
            raise ValueError(f"upstream said: Incorrect API key provided: {SENTINEL_KEY[:10]}***")
        except ValueError as exc:
            raise RuntimeError("provider failed") from exc
    except RuntimeError:
        log.exception("call failed for %s", SENTINEL_KEY)
    token = "A" * 20 + "b" * 23
    log.info('"GET /share/%s HTTP/1.1" 200', token)
    text = caplog.text
    assert "provider failed" in text and "upstream said" in text
    assert leaks(text) == []
    assert token not in text and "/share/" in text


def test_gunicorn_output_holds_no_secret_and_no_share_token(data_dir, upstream, app, tmp_path):
    server = start_gunicorn(data_dir, upstream.base_url, tmp_path / "g.log")
    try:
        browser = Browser(server.url, app)
        status, _, body = browser.request("POST", "/chat", {"message": "hi"})
        cid = parse_sse(body)[0].data["conversation_id"]
        status, _, body = browser.request("POST", "/chat", {"message": "x", "model": "fake-401"})
        assert parse_sse(body)[-1].data["code"] == "upstream_auth"
        assert leaks(body.decode()) == []
        status, _, body = browser.request("POST", f"/conversations/{cid}/share", {})
        assert status == 201
        token = json.loads(body)["token"]
        status, _, page = browser.request("GET", f"/share/{token}")
        assert status == 200 and b"hi" in page
        browser.request("GET", f"/share/{token}?x=1", headers={"Referer": f"/share/{token}"})
        browser.request("GET", "/get-all-conversations", headers={"Authorization": SENTINEL_KEY})
        browser.request("POST", "/login", {"username": "alice", "password": SENTINEL_KEY})
    finally:
        stop_gunicorn(server)
    output = server.log()
    assert "GET /share/" in output  # the access log is on ...
    assert token not in output and token[:12] not in output  # ... without the token
    assert leaks(output) == [], output[-2000:]


@pytest.mark.parametrize("path", ["/console", "/console?__debugger__=yes&cmd=resource&f=style.css"])
def test_no_debugger_console(app, path):
    assert app.test_client().get(path).status_code == 404


def test_every_kind_of_configured_secret_is_redacted(make_app, monkeypatch, caplog):
    from app import redaction

    values = {
        "ANTHROPIC_API_KEY": "anthropic-key-7f3a9c1e5b",
        "CHAT_METRICS_TOKEN": "metrics-token-2b8d4f6a0c",
        "SOME_SERVICE_TOKEN": "service-token-9e1c3a5b7d",
        "WEBHOOK_SECRET": "webhook-secret-4a6c8e0b2d",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GEMINI_BASE_URL", "https://gem-user:gem-password-55aa@gemini.example/v1")
    app = make_app(
        SECRET_KEY=None,  # generated: a secret too
        CHAT_DATABASE_URL="postgresql://chat:db-password-8c7b6a@db.example/chat",
    )
    generated = app.config["SECRET_KEY"]
    if isinstance(generated, bytes):
        generated = repr(generated)[2:-1]  # how a log line would show it
    secrets = redaction.configured_secrets()
    expected = [
        *values.values(),
        "gem-password-55aa",
        "db-password-8c7b6a",
        generated,
        SENTINEL_KEY,
    ]
    for value in expected:
        assert value in secrets, value
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("some.module")
    for value in expected:
        log.warning("upstream said %s (and %s)", value, value[2:14])
    text = caplog.text
    for value in expected:
        assert value not in text and value[2:14] not in text, value
    assert text.count("[redacted]") >= 2 * len(expected)
    # The same rule for text bound for a user (the turns redact upstream values with it).
    assert redaction.redact(f"reason: {values['WEBHOOK_SECRET']}") == "reason: [redacted]"
    assert redaction.redact("an ordinary sentence") == "an ordinary sentence"


def test_secrets_are_found_by_name():
    from app.redaction import secrets_in

    found = secrets_in(
        {
            "X_API_KEY": "k" * 10,
            "X_TOKEN": "t" * 10,
            "X_SECRET": "s" * 10,
            "SECRET_KEY": "q" * 10,
            "X_BASE_URL": "https://u:p%40ss@h.example/v1",
            "PLAIN_URL": "https://h.example/v1",
            "CHAT_MODEL": "gpt-5.4-mini",
            "EMPTY_TOKEN": "",
        }
    )
    assert {"k" * 10, "t" * 10, "s" * 10, "q" * 10, "p@ss", "u:p%40ss"} <= set(found)
    assert "gpt-5.4-mini" not in found and "https://h.example/v1" not in found


def test_redaction_is_linear_and_covers_secrets_with_spaces(monkeypatch):
    from app import redaction

    for name, empty in (("_secrets", set()), ("_pieces", frozenset()), ("_spaced_re", None)):
        monkeypatch.setattr(redaction, name, empty)  # restored afterwards, all three
    redaction.add_secrets(
        ["k" * 6 + "-long-secret-value-0123456789abcdef", "a pass phrase with spaces"]
    )
    assert redaction.redact_secrets("x=kkkkkk-long-secret-value-0123456789abcdef;") == "[redacted]"
    assert redaction.redact_secrets("see value-0123456789 here") == "see [redacted] here"
    said = redaction.redact_secrets("it was: pass phrase with spaces. ok")
    assert said == "it [redacted] ok", said  # the words a piece touches, as for any secret
    assert redaction.redact_secrets("nothing secret in this line") == "nothing secret in this line"
    # A long log line, one word or many, is redacted in linear time (a regex wrapping every
    # piece in \S* took seconds here); the bound is generous.
    words = ("abcdefghij" * 20_000, " ".join(["wordqrstuvwx"] * 20_000))
    started = time.monotonic()
    for text in words:
        assert redaction.redact_secrets(text) == text
    assert time.monotonic() - started < 5
