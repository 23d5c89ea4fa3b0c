"""The app's own limits at the HTTP level: turns per minute, concurrent turns, budgets, output cap."""

from __future__ import annotations

from tests.chat.test_in_flight import Browser, start_turn
from tests.conftest import chat, login


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


def test_concurrent_turns_per_user(make_app, upstream, tmp_path):
    import threading

    from werkzeug.serving import make_server

    upstream.reply, upstream.chunk_size, upstream.n_deltas = "word ", 5, 400
    upstream.delta_delay = 0.01
    app = make_app(CHAT_CONCURRENT_TURNS=2)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        browser = Browser(f"http://127.0.0.1:{server.server_port}", app)
        open_turns = [start_turn(browser), start_turn(browser)]
        status, headers, body = browser.request("POST", "/chat", {"message": "third"})
        assert status == 429 and b"rate_limited" in body and "Retry-After" in headers
        for conn, response, _ in open_turns:
            response.read()
            conn.close()
        status, _, _ = browser.request("POST", "/chat", {"message": "now it fits"})
        assert status == 200
    finally:
        server.shutdown()
        thread.join(5)


def test_budget_in_tokens_is_checked_before_the_model(make_app, upstream):
    app = make_app(CHAT_BUDGET_LIMIT=1, CHAT_BUDGET_UNIT="tokens", CHAT_BUDGET_PERIOD="day")
    client = login(app.test_client(), app)
    chat(client, message="hi")  # spends more than one token
    refused = client.post("/chat", json={"message": "more"})
    error = refused.get_json()["error"]
    assert refused.status_code == 429 and error["code"] == "budget_exceeded"
    assert error["resets_at"] > 0 and int(refused.headers["Retry-After"]) >= 1
    assert len(upstream.responses_requests()) == 1  # no upstream call once exhausted


def test_every_upstream_call_caps_output_tokens(make_app, upstream):
    app = make_app(CHAT_MAX_OUTPUT_TOKENS=1234)
    client = login(app.test_client(), app)
    one = chat(client, message="hi")
    upstream.forget_all()
    chat(client, message="again", conversation_id=one[0].data["conversation_id"])
    bodies = [r.body for r in upstream.responses_requests()]
    assert len(bodies) == 3 and all(b["max_output_tokens"] == 1234 for b in bodies)
