"""The Anthropic stream's state machine on lists of dicts (no SDK, no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from responses_client.anthropic_events import AnthropicState, usage_from
from responses_client.errors import (
    ContextTooLong,
    QuotaExceeded,
    RateLimited,
    UpstreamFailed,
    UpstreamUnavailable,
)
from responses_client.events import Finished, ReasoningDelta, ResponseStarted, TextDelta

SECRET = "sk-ant-SECRET0123456789abcdef"


def start(mid: Any = "msg_01abc", **usage: Any) -> dict[str, Any]:
    u = {"input_tokens": 25, "output_tokens": 1, **usage}
    return {
        "type": "message_start",
        "message": {"id": mid, "type": "message", "model": "claude-sonnet-5-5", "usage": u},
    }


def text(t: str, index: int = 0) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "text_delta", "text": t},
    }


def thought(t: str, index: int = 0) -> dict[str, Any]:
    delta = {"type": "thinking_delta", "thinking": t}
    return {"type": "content_block_delta", "index": index, "delta": delta}


def stop(reason: str | None = "end_turn", **usage: Any) -> list[dict[str, Any]]:
    return [
        {"type": "message_delta", "delta": {"stop_reason": reason}, "usage": usage},
        {"type": "message_stop"},
    ]


def run(events: list[dict[str, Any]], state: AnthropicState | None = None) -> list[Any]:
    state = state or AnthropicState("req_1", (SECRET,))
    out = []
    for ev in events:
        got = state.handle(ev)
        if got is not None:
            out.append(got)
    return out


def test_the_reference_stream_with_thinking() -> None:
    events = [
        start(cache_read_input_tokens=10),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}},
        {"type": "ping"},
        thought("Let me think"),
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "EqQB"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        text("42", 1),
        {"type": "content_block_stop", "index": 1},
        *stop(output_tokens=300, output_tokens_details={"thinking_tokens": 280}),
    ]
    out = run(events)
    assert out[0] == ResponseStarted("msg_01abc", "claude-sonnet-5-5", "req_1", {})
    assert out[1:3] == [ReasoningDelta("Let me think"), TextDelta("42")]
    fin = out[3]
    assert isinstance(fin, Finished) and fin.status == "completed"
    assert fin.response_id == "msg_01abc" and fin.finish_reason == "end_turn"
    assert fin.usage == {
        "input_tokens": 35,
        "cached_tokens": 10,
        "cache_write_tokens": 0,
        "output_tokens": 300,
        "reasoning_tokens": 280,
        "total_tokens": 335,
    }


def test_usage_is_cumulative_and_made_inclusive() -> None:
    # message_delta counts replace message_start's; a field it leaves out keeps its value.
    events = [
        start(cache_creation_input_tokens=100, cache_read_input_tokens=50, service_tier="priority"),
        text("x"),
        *stop(output_tokens=7, input_tokens=30),
    ]
    fin = run(events)[-1]
    assert fin.usage["input_tokens"] == 30 + 100 + 50
    assert fin.usage["cached_tokens"] == 50 and fin.usage["cache_write_tokens"] == 100
    assert fin.usage["output_tokens"] == 7 and fin.usage["total_tokens"] == 187
    assert fin.metadata["service_tier"] == "priority"
    assert usage_from({})["total_tokens"] == 0


def test_thinking_blocks_are_separated() -> None:
    out = run([start(), thought("a", 0), thought("b", 0), thought("c", 1), text("t", 2)])
    assert [e.text for e in out[1:4]] == ["a", "b", "\n\nc"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("max_tokens", "max_output_tokens"),
        ("refusal", "refusal"),
        ("model_context_window_exceeded", "context_window"),
        ("pause_turn", "other"),
        ("some_new_reason", "other"),
    ],
)
def test_incomplete_reasons(raw: str, reason: str) -> None:
    fin = run([start(), text("x"), *stop(raw)])[-1]
    assert fin.status == "incomplete" and fin.reason == reason and fin.finish_reason == raw
    assert fin.refusal is (raw == "refusal")


@pytest.mark.parametrize("raw", ["end_turn", "stop_sequence", "tool_use", None])
def test_complete_stop_reasons(raw: str | None) -> None:
    fin = run([start(), text("x"), *stop(raw)])[-1]
    assert fin.status == "completed" and fin.reason is None


@pytest.mark.parametrize(
    ("etype", "cls", "cause"),
    [
        ("overloaded_error", UpstreamFailed, "overloaded"),
        ("api_error", UpstreamFailed, "server_error"),
        ("rate_limit_error", RateLimited, None),
        ("billing_error", QuotaExceeded, None),
        ("request_too_large", ContextTooLong, None),
        ("something_else", UpstreamFailed, None),
    ],
)
def test_error_event_after_200(etype: str, cls: type, cause: str | None) -> None:
    state = AnthropicState("req_1", (SECRET,))
    run([start(), text("x")], state)
    message = f"boom {SECRET}"
    with pytest.raises(cls) as info:
        state.handle({"type": "error", "error": {"type": etype, "message": message}})
    err = info.value
    assert err.upstream_code == etype and err.request_id == "req_1" and err.cause == cause
    assert SECRET not in repr(err) and "boom" not in str(err)


def test_an_error_type_holding_a_secret_is_dropped() -> None:
    state = AnthropicState("req_1", (SECRET,))
    with pytest.raises(UpstreamFailed) as info:
        state.handle({"type": "error", "error": {"type": SECRET}})
    assert info.value.upstream_code is None


def test_missing_or_bad_message_id_is_malformed() -> None:
    # Before any text a malformed stream is upstream_unavailable (API.md), not interrupted.
    for events in (
        [start(mid=None)],
        [start(mid="msg with spaces <b>")],
        [text("before start")],
        [{"type": "message_stop"}],
    ):
        with pytest.raises(UpstreamUnavailable) as info:
            run(events)
        assert info.value.cause == "server_error"


def test_unknown_and_tool_events_carry_nothing() -> None:
    events = [
        start(),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use"}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": "{"},
        },
        {"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking"}},
        {"type": "brand_new_event", "x": 1},
        {"type": "content_block_delta", "index": 2, "delta": "not a dict"},
        text("", 3),
    ]
    assert len(run(events)) == 1  # only ResponseStarted


def test_metadata_from_headers_rides_on_start_and_finish() -> None:
    state = AnthropicState("req_1", (), {"ratelimit_remaining_requests": 49})
    out = run([start(), text("x"), *stop()], state)
    assert out[0].metadata == {"ratelimit_remaining_requests": 49}
    assert out[-1].metadata == {"ratelimit_remaining_requests": 49}
