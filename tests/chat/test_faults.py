"""Upstream faults U1–U13 end to end: the SSE frames, the JSON on disk and the upstream's requests."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.conftest import SENTINEL_KEY, chat, login, parse_sse, reply_text, stored


def only_turn(frames: list[Any]) -> tuple[dict[str, Any], Any]:
    """Check the frame envelope every turn shares; return (conversation frame data, last frame)."""
    assert frames[0].event == "conversation"
    turn_id = frames[0].data["assistant_message_id"]
    assert [f.id for f in frames] == [f"{turn_id}:{n}" for n in range(1, len(frames) + 1)]
    assert frames[-1].event in ("done", "error")
    assert sum(f.event in ("done", "error") for f in frames) == 1
    return frames[0].data, frames[-1]


def assistant_on_disk(data_dir: Any, first: dict[str, Any]) -> dict[str, Any]:
    doc = stored(data_dir, "alice", first["conversation_id"])
    by_id = {m["id"]: m for m in doc["messages"]}
    user_message = by_id[first["user_message_id"]]
    assert user_message["role"] == "user" and user_message["text"]
    return by_id[first["assistant_message_id"]]


def test_u1_rate_limited_then_answers(client, upstream, data_dir):
    upstream.script(["429:0.05", "429:0.05"])
    frames = chat(client, message="hello")
    first, last = only_turn(frames)
    assert last.event == "done" and last.data["status"] == "completed"
    assert reply_text(frames) == "Hello! How can I help?"
    assert assistant_on_disk(data_dir, first)["status"] == "completed"
    assert len(upstream.responses_requests()) == 3


def test_u1b_rate_limit_persists(client, upstream, data_dir):
    upstream.script(["429:0.05"] * 3)
    first, last = only_turn(chat(client, message="hello"))
    assert last.event == "error"
    assert last.data["code"] == "rate_limited" and last.data["retryable"] is True
    saved = assistant_on_disk(data_dir, first)
    assert saved["status"] == "failed" and saved["error"]["code"] == "rate_limited"
    assert len(upstream.responses_requests()) == 3


@pytest.mark.parametrize("fault", ["500", "503"])
def test_u2_server_errors(client, upstream, data_dir, fault):
    upstream.script([f"{fault}:0.01"] * 3)
    first, last = only_turn(chat(client, message="hello"))
    assert last.data["code"] == "upstream_unavailable" and last.data["retryable"] is True
    assert "server" not in last.data["message"].lower() or "provider" in last.data["message"]
    saved = assistant_on_disk(data_dir, first)
    assert saved["status"] == "failed" and saved["error"]["code"] == "upstream_unavailable"
    assert len(upstream.responses_requests()) == 3


def test_u2_connection_refused(make_app, data_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the app connects
    app = make_app(OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1", CHAT_UPSTREAM_MAX_RETRIES=0)
    client = login(app.test_client(), app)
    first, last = only_turn(chat(client, message="hello"))
    assert last.event == "error" and last.data["code"] == "upstream_unavailable"
    assert assistant_on_disk(data_dir, first)["status"] == "failed"


def test_u3_stall_mid_answer_keeps_partial_text(make_app, upstream, data_dir):
    app = make_app(CHAT_UPSTREAM_READ_TIMEOUT=0.5)
    client = login(app.test_client(), app)
    upstream.script(["stall:3"])
    frames = chat(client, message="hello")
    first, last = only_turn(frames)
    assert last.data["code"] == "interrupted" and last.data["retryable"] is True
    partial = reply_text(frames)
    assert partial == "Hello! How can I help?"[:12]
    saved = assistant_on_disk(data_dir, first)
    assert saved["status"] == "failed" and saved["error"]["code"] == "interrupted"
    assert saved["text"] == partial
    assert len(upstream.responses_requests()) == 1  # never retried once text had arrived


@pytest.mark.parametrize("fault", ["reset:3", "malformed:3", "truncated:3"])
def test_u4_u5_reset_malformed_truncated(client, upstream, data_dir, fault):
    upstream.script([fault])
    frames = chat(client, message="hello")
    first, last = only_turn(frames)
    assert last.event == "error" and last.data["code"] == "interrupted"
    saved = assistant_on_disk(data_dir, first)
    assert saved["status"] == "failed" and saved["text"] == reply_text(frames) == "Hello! How c"
    assert len(upstream.responses_requests()) == 1


@pytest.mark.parametrize(
    ("fault", "code", "retryable"),
    [
        ({"kind": "error_nested", "after": 2}, "quota_exceeded", False),
        ({"kind": "error_flat", "after": 2, "code": "server_error"}, "upstream_error", True),
        ({"kind": "error_nested", "after": 2, "code": "rate_limit_exceeded"}, "rate_limited", True),
        ({"kind": "failed", "after": 2}, "upstream_error", True),
    ],
)
def test_u6_u7_error_events_and_failed(client, upstream, data_dir, fault, code, retryable):
    upstream.script([fault])
    frames = chat(client, message="hello")
    first, last = only_turn(frames)
    assert last.event == "error"
    assert last.data["code"] == code and last.data["retryable"] is retryable
    assert "sk-" not in last.data["message"] and "quota (key" not in last.data["message"]
    saved = assistant_on_disk(data_dir, first)
    assert saved["status"] == "failed" and saved["error"]["code"] == code
    assert saved["text"] == reply_text(frames) == "Hello! H"
    assert saved["response_id"] is None
    assert len(upstream.responses_requests()) == 1


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("incomplete:3", "max_output_tokens"), ("content_filter:3", "content_filter")],
)
def test_u7_incomplete(client, upstream, data_dir, fault, reason):
    upstream.script([fault])
    frames = chat(client, message="hello")
    first, last = only_turn(frames)
    assert last.event == "done"
    assert last.data["status"] == "incomplete" and last.data["error"]["code"] == reason
    assert last.data["response_id"].startswith("resp_")
    saved = assistant_on_disk(data_dir, first)
    assert saved["status"] == "incomplete" and saved["error"]["code"] == reason
    assert saved["text"] == "Hello! How c"
    assert saved["usage"]["output_tokens"] > 0


def test_u8_expired_chain_replays_once(client, upstream, data_dir):
    one = chat(client, message="first question")
    cid = one[0].data["conversation_id"]
    upstream.forget_all()
    frames = chat(client, message="second question", conversation_id=cid)
    _, last = only_turn(frames)
    assert last.event == "done" and last.data["context_mode"] == "replayed"
    chained, replayed = upstream.responses_requests()[1:]
    assert chained.body["previous_response_id"] == one[-1].data["response_id"]
    assert chained.body["input"] == "second question"
    assert (
        "previous_response_id" not in replayed.body or replayed.body["previous_response_id"] is None
    )
    assert replayed.body["input"] == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "second question"},
    ]
    doc = stored(data_dir, "alice", cid)
    assert doc["messages"][-1]["context_mode"] == "replayed"
    assert doc["last_response_id"] == last.data["response_id"] == replayed.response_id


def test_u8_second_failure_does_not_loop(client, upstream, data_dir):
    one = chat(client, message="first question")
    cid = one[0].data["conversation_id"]
    upstream.script(["prev_not_found", "prev_invalid"])
    first, last = only_turn(chat(client, message="again", conversation_id=cid))
    assert last.event == "error"
    assert len(upstream.responses_requests()) == 3  # turn 1, the chained try, one replay
    assert assistant_on_disk(data_dir, first)["status"] == "failed"


def test_u10_auth_error_never_leaks_the_key(client, upstream, data_dir, caplog):
    upstream.script(["401"])
    response = client.post("/chat", json={"message": "hello"})
    body = response.data.decode()
    first, last = only_turn(parse_sse(response.data))
    assert last.data["code"] == "upstream_auth" and last.data["retryable"] is False
    assert SENTINEL_KEY not in body and SENTINEL_KEY[:12] not in body and "SENTINEL" not in body
    assert "SENTINEL" not in caplog.text
    on_disk = (data_dir / "alice" / f"{first['conversation_id']}.json").read_text()
    assert "SENTINEL" not in on_disk
    assert len(upstream.responses_requests()) == 1


@pytest.mark.parametrize(
    ("fault", "code"),
    [("context", "context_too_long"), ("model404", "unknown_model"), ("400", "bad_request")],
)
def test_u11_request_errors(client, upstream, data_dir, fault, code):
    upstream.script([fault])
    first, last = only_turn(chat(client, message="hello"))
    assert last.data["code"] == code and last.data["retryable"] is False
    assert assistant_on_disk(data_dir, first)["error"]["code"] == code
    assert len(upstream.responses_requests()) == 1


@pytest.mark.parametrize("fault", ["dupseq:2", "gapseq:2", "noseq", "openrouter"])
def test_u13_sequence_oddities_and_dialects(client, upstream, data_dir, fault):
    upstream.script([fault])
    frames = chat(client, message="hello")
    first, last = only_turn(frames)
    assert last.event == "done" and last.data["status"] == "completed"
    expected = "Hello! How can I help?"
    assert reply_text(frames) == expected
    assert assistant_on_disk(data_dir, first)["text"] == expected


def test_reasoning_summary_and_usage(client, upstream, data_dir):
    upstream.script(["reasoning"])
    frames = chat(client, message="hello")
    first, last = only_turn(frames)
    thinking = "".join(f.data["text"] for f in frames if f.event == "reasoning")
    assert "Thinking it over" in thinking and "Answering" in thinking
    assert reply_text(frames) == "Hello! How can I help?"
    saved = assistant_on_disk(data_dir, first)
    assert saved["reasoning_summary"] == thinking
    assert saved["usage"]["reasoning_tokens"] > 0
    assert last.data["usage"] == saved["usage"]


def test_refusal_is_shown_as_the_reply(client, upstream, data_dir):
    upstream.script(["refusal"])
    frames = chat(client, message="hello")
    first, last = only_turn(frames)
    assert last.data["status"] == "completed"
    assert reply_text(frames) == "I'm sorry, but I can't help with that."
    assert assistant_on_disk(data_dir, first)["metadata"].get("refusal") is True


def test_sse_framing_injection_stays_one_text(client, upstream):
    upstream.script(["injection"])
    frames = chat(client, message="hello")
    from tests.fake_upstream import INJECTION_TEXT

    assert reply_text(frames) == INJECTION_TEXT
    assert [f.event for f in frames].count("done") == 1
