"""Open event streams hold one of the user's stream slots (issue 10, item 6; API.md
"Operations"): `POST /chat` and re-attach take it before answering, a refused one is a JSON 429
that starts no turn, and it is released whenever the response closes."""

from __future__ import annotations

import pytest

from app import limits
from conversation_manager.json.limits import JsonLimitRecords
from tests.conftest import chat, login, parse_sse


@pytest.fixture
def one_stream(app, data_dir):
    """The app with at most one open stream per user (the real StreamLimits over the data dir)."""
    app.extensions["services"].stream_limits = limits.StreamLimits(
        JsonLimitRecords(data_dir, lock_timeout=5.0), per_user=1, per_process=None
    )
    return app


def assert_429(response) -> None:
    assert response.status_code == 429, response.data
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1


def open_chat(client, **body):
    """POST /chat without reading the stream: the response stays open, holding its slot."""
    response = client.post("/chat", json={"message": "hi", **body}, buffered=False)
    assert response.status_code == 200, response.data
    return response


def test_a_second_stream_is_refused_before_any_turn_starts(one_stream, client, upstream):
    first = open_chat(client)
    conversations = client.get("/get-all-conversations").get_json()["conversations"]
    sent = len(upstream.responses_requests())
    assert_429(client.post("/chat", json={"message": "second"}))
    cid = conversations[0]["id"]
    assert_429(client.get(f"/conversations/{cid}/events"))
    # Nothing was started: no new conversation, no request upstream.
    assert client.get("/get-all-conversations").get_json()["conversations"] == conversations
    assert len(upstream.responses_requests()) == sent
    first.close()  # the browser went away: the slot is free again
    assert chat(client, message="third")[-1].event == "done"


def test_the_slot_is_released_when_a_stream_is_read_to_its_end(one_stream, client):
    for _ in range(3):
        frames = chat(client, message="hello")
        assert frames[-1].event == "done"
    cid = frames[0].data["conversation_id"]
    for _ in range(3):
        events = client.get(f"/conversations/{cid}/events")
        assert events.status_code == 200
        assert parse_sse(events.data)[-1].event == "done"


def test_the_slot_is_released_when_a_stream_is_never_read(one_stream, client):
    for _ in range(3):
        open_chat(client).close()
    assert chat(client, message="after")[-1].event == "done"


def test_the_slot_is_released_when_the_request_is_refused_after_taking_it(one_stream, client):
    for _ in range(3):
        missing = client.post("/chat", json={"message": "hi", "conversation_id": "c_missing"})
        assert missing.status_code == 404
        no_turn = client.get("/conversations/c_missing/events")
        assert no_turn.status_code == 404
    assert chat(client, message="after")[-1].event == "done"


def test_other_users_have_their_own_slots(one_stream, client, app):
    held = open_chat(client)
    bob = login(app.test_client(), app, "bob")
    assert chat(bob, message="mine")[-1].event == "done"
    held.close()
