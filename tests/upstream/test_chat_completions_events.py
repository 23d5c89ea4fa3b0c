"""The Chat Completions state machine on raw bytes (SDK-free): chunks in, neutral events out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from responses_client.cancel import CancelToken
from responses_client.chat_events import ChatState, finish_status, usage_from
from responses_client.errors import (
    Interrupted,
    QuotaExceeded,
    RateLimited,
    UpstreamFailed,
    UpstreamUnavailable,
)
from responses_client.events import Finished, Idle, ReasoningDelta, ResponseStarted, TextDelta

SECRET = "sk-test-SECRET0123456789abcdef"


def frame(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> bytes:
    obj: dict[str, Any] = {
        "id": "chatcmpl-abc",
        "object": "chat.completion.chunk",
        "created": 1764547200,
        "model": "deepseek-v4-pro",
        "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
    }
    obj.update(extra)
    return frame(obj)


def usage_chunk(usage: dict[str, Any]) -> bytes:
    return frame({"id": "chatcmpl-abc", "choices": [], "usage": usage})


def run(chunks: list[bytes], **kw: Any) -> list[object]:
    state = ChatState("req_1", (SECRET,), **kw)
    return [e for e in state.relay(chunks) if not isinstance(e, Idle)]


def test_deepseek_thinking_stream_from_the_reference() -> None:
    body = [
        b": keep-alive\n\n",
        chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
        chunk({"reasoning_content": "Let me think."}),
        chunk({"content": "Hello"}),
        chunk({"content": ""}, "stop"),
        usage_chunk(
            {
                "prompt_tokens": 20,
                "completion_tokens": 9,
                "total_tokens": 29,
                "prompt_cache_hit_tokens": 16,
                "prompt_cache_miss_tokens": 4,
                "completion_tokens_details": {"reasoning_tokens": 4},
            }
        ),
        b"data: [DONE]\n\n",
    ]
    events = run(body)
    assert events[0] == ResponseStarted(
        "chatcmpl-abc", "deepseek-v4-pro", "req_1", {"system_fingerprint": "fp_1"}
    )
    assert events[1:3] == [ReasoningDelta("Let me think."), TextDelta("Hello")]
    done = events[-1]
    assert isinstance(done, Finished) and len(events) == 4
    assert done.status == "completed" and done.finish_reason == "stop" and done.reason is None
    assert done.usage == {
        "input_tokens": 20,
        "cached_tokens": 16,
        "cache_write_tokens": 0,
        "output_tokens": 9,
        "reasoning_tokens": 4,
        "total_tokens": 29,
    }
    assert done.metadata["finish_reason"] == "stop"


def test_idle_after_each_read_and_chunks_split_anywhere() -> None:
    whole = chunk({"content": "Hel"}) + chunk({"content": "lo"}, "stop") + b"data: [DONE]\n\n"
    pieces = [whole[i : i + 7] for i in range(0, len(whole), 7)]
    state = ChatState(None)
    events = list(state.relay(pieces))
    assert any(isinstance(e, Idle) for e in events)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello"
    assert isinstance(events[-1], Finished)


def test_openrouter_reasoning_field_cost_and_cache_writes() -> None:
    body = [
        b": OPENROUTER PROCESSING\n\n",
        chunk({"role": "assistant", "content": "", "reasoning": "Hmm", "reasoning_details": []}),
        chunk({"content": "Hi"}, "stop"),
        usage_chunk(
            {
                "prompt_tokens": 100,
                "completion_tokens": 10,
                "total_tokens": 110,
                "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 30},
                "completion_tokens_details": {"reasoning_tokens": 2},
                "cost": 0.0042,
            }
        ),
        b"data: [DONE]\n\n",
    ]
    events = run(body, billed_cost=True)
    assert events[1:3] == [ReasoningDelta("Hmm"), TextDelta("Hi")]
    done = events[-1]
    assert isinstance(done, Finished) and done.cost_usd == 0.0042
    assert done.usage is not None and done.usage["cache_write_tokens"] == 30
    assert done.usage["cached_tokens"] == 60 and done.usage["reasoning_tokens"] == 2
    # Without billed_cost (another host), a `cost` field is not taken as USD.
    other = run(body)[-1]
    assert isinstance(other, Finished) and other.cost_usd is None


def test_reasoning_counted_apart_is_added_to_output() -> None:
    # xAI's chat counts reasoning beside completion_tokens (total = prompt + completion + reasoning).
    u = usage_from(
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 115,
            "completion_tokens_details": {"reasoning_tokens": 100},
        }
    )
    assert u is not None and u["output_tokens"] == 105 and u["reasoning_tokens"] == 100
    # Inclusive counts stay as they are.
    u = usage_from(
        {
            "prompt_tokens": 10,
            "completion_tokens": 105,
            "total_tokens": 115,
            "completion_tokens_details": {"reasoning_tokens": 100},
        }
    )
    assert u is not None and u["output_tokens"] == 105
    assert usage_from(None) is None
    assert usage_from({"prompt_tokens": "x"}) == {
        "input_tokens": 0,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "output_tokens": 0,
        "reasoning_tokens": 0,
        "total_tokens": 0,
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("stop", ("completed", None, "stop")),
        ("tool_calls", ("completed", None, "tool_calls")),
        ("length", ("incomplete", "max_output_tokens", "length")),
        ("content_filter", ("incomplete", "content_filter", "content_filter")),
        ("insufficient_system_resource", ("incomplete", "other", "insufficient_system_resource")),
        (f"bad {SECRET}", ("incomplete", "other", None)),
        (None, ("completed", None, None)),
    ],
)
def test_finish_reasons(raw: object, expected: tuple[str, str | None, str | None]) -> None:
    assert finish_status(raw, (SECRET,)) == expected


def test_error_chunk_after_text_openrouter_shape() -> None:
    err = {"code": "server_error", "message": f"boom {SECRET}"}
    body = [
        chunk({"content": "Hel"}),
        chunk({"content": ""}, "error", error=err),
        b"data: [DONE]\n\n",
    ]
    state = ChatState("req_1", (SECRET,))
    seen: list[object] = []
    with pytest.raises(UpstreamFailed) as info:
        for ev in state.relay(body):
            seen.append(ev)
    assert TextDelta("Hel") in seen
    assert info.value.upstream_code == "server_error" and info.value.request_id == "req_1"
    assert SECRET not in repr(info.value) and "boom" not in str(info.value)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (402, QuotaExceeded),
        (429, RateLimited),
        (502, UpstreamFailed),
        ("insufficient_quota", QuotaExceeded),
        ("rate_limit_exceeded", RateLimited),
    ],
)
def test_error_chunk_codes(code: object, cls: type[Exception]) -> None:
    with pytest.raises(cls):
        run([frame({"error": {"code": code, "message": "x"}})])


def test_finish_reason_error_without_an_error_object() -> None:
    with pytest.raises(UpstreamFailed):
        run([chunk({"content": "a"}), chunk({}, "error"), b"data: [DONE]\n\n"])


def test_vllm_old_error_object() -> None:
    body = [chunk({"content": "a"}), frame({"object": "error", "message": "x", "code": 400})]
    with pytest.raises(UpstreamFailed):
        run(body)


@pytest.mark.parametrize(
    ("body", "cls"),
    [
        ([], UpstreamUnavailable),
        ([chunk({"role": "assistant"})], UpstreamUnavailable),
        ([chunk({"content": "Hel"})], Interrupted),
        ([chunk({"content": "Hel"}), b"data: {not json\n\n"], Interrupted),
        ([b"data: [DONE]\n\n"], UpstreamUnavailable),
    ],
)
def test_stream_ending_without_its_end(body: list[bytes], cls: type[Exception]) -> None:
    with pytest.raises(cls):
        run(body)


def test_clean_end_after_the_finish_chunk_without_done() -> None:
    events = run([chunk({"content": "Hi"}), chunk({}, "length")])
    done = events[-1]
    assert isinstance(done, Finished) and done.status == "incomplete"
    assert done.reason == "max_output_tokens" and done.usage is None


def test_missing_id_uses_the_generation_header_else_fails() -> None:
    raw = b'data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}\n\n'
    events = run([raw, b"data: [DONE]\n\n"], fallback_id="gen-1")
    assert isinstance(events[0], ResponseStarted) and events[0].response_id == "gen-1"
    with pytest.raises(UpstreamUnavailable):
        run([raw])


def test_refusal_delta_is_text_and_flagged() -> None:
    events = run([chunk({"refusal": "I can't."}), chunk({}, "stop"), b"data: [DONE]\n\n"])
    assert TextDelta("I can't.") in events
    done = events[-1]
    assert isinstance(done, Finished) and done.refusal and done.status == "completed"


def test_upstream_strings_pass_the_identifier_rule() -> None:
    body = [
        frame(
            {
                "id": f"chatcmpl-{SECRET}",
                "model": "<script>",
                "system_fingerprint": "fp ok?",
                "service_tier": "default",
                "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}],
            }
        ),
        b"data: [DONE]\n\n",
    ]
    with pytest.raises(UpstreamUnavailable):  # an id holding the key is dropped: no id at all
        run(body)
    events = run(body, fallback_id="gen-2")
    started = events[0]
    assert isinstance(started, ResponseStarted)
    assert started.model is None and started.metadata == {"service_tier": "default"}


def test_cancel_ends_the_iteration_quietly() -> None:
    token = CancelToken()
    state = ChatState(None)
    gen = state.relay([chunk({"content": "a"}), chunk({"content": "b"})], token)
    assert isinstance(next(gen), ResponseStarted)
    token.cancel()  # the rest of that chunk may still come; no later chunk does
    assert [e for e in gen if not isinstance(e, Idle)] == [TextDelta("a")]
