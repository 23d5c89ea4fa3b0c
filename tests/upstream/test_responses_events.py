"""The Responses API state machine on lists of dicts: ids, reasons and codes pass the identifier rule."""

from __future__ import annotations

from typing import Any

import pytest

from responses_client import (
    Finished,
    Interrupted,
    ProviderError,
    QuotaExceeded,
    ReasoningDelta,
    ResponseStarted,
    TextDelta,
    UpstreamFailed,
    UpstreamUnavailable,
)
from responses_client.responses_events import ResponsesState, usage_from

KEY = "sk-test-SENTINEL0123456789abcdefXYZ"


def created(rid: Any = "resp_1", model: Any = "gpt-x") -> dict[str, Any]:
    resp: dict[str, Any] = {"model": model, "status": "in_progress"}
    if rid is not ...:
        resp["id"] = rid
    return {"type": "response.created", "response": resp}


def incomplete(reason: Any) -> dict[str, Any]:
    resp = {"id": "resp_1", "model": "gpt-x", "incomplete_details": {"reason": reason}}
    return {"type": "response.incomplete", "response": resp}


def play(events: list[dict[str, Any]]) -> list[object]:
    state = ResponsesState("req_1", (KEY,))
    return [out for ev in events if (out := state.handle(ev)) is not None]


def test_plain_flow() -> None:
    out = play(
        [
            created(),
            {"type": "response.output_item.added", "item": {"id": "rs", "type": "reasoning"}},
            {"type": "response.reasoning_summary_text.delta", "item_id": "rs", "delta": "a"},
            {
                "type": "response.reasoning_summary_text.delta",
                "item_id": "rs",
                "summary_index": 1,
                "delta": "b",
            },
            {"type": "response.output_text.delta", "item_id": "m", "delta": "Hi"},
            {"type": "response.output_text.delta", "delta": 5},  # not a string: no text
            {
                "type": "response.completed",
                "response": {
                    "id": "resp_1",
                    "model": "gpt-x",
                    "usage": {"input_tokens": 3, "output_tokens": 2},
                },
            },
        ]
    )
    assert out[0] == ResponseStarted("resp_1", "gpt-x", "req_1")
    assert out[1:3] == [ReasoningDelta("a"), ReasoningDelta("\n\nb")]
    assert out[3:5] == [TextDelta("Hi"), TextDelta("")]
    fin = out[-1]
    assert isinstance(fin, Finished) and fin.status == "completed" and fin.reason is None
    assert fin.usage == usage_from({"input_tokens": 3, "output_tokens": 2})
    assert fin.usage is not None and fin.usage["total_tokens"] == 5


@pytest.mark.parametrize("rid", [..., None, "", 42, "has space", "x" * 200, KEY, f"resp_{KEY}"])
def test_created_without_a_usable_id_is_malformed(rid: Any) -> None:
    with pytest.raises(UpstreamUnavailable) as info:  # before any text (API.md)
        play([created(rid)])
    assert info.value.upstream_code == "missing_response_id"
    assert info.value.request_id == "req_1"


def test_completed_without_any_id_is_malformed() -> None:
    with pytest.raises(UpstreamUnavailable):
        play([{"type": "response.completed", "response": {"model": "m"}}])
    state = ResponsesState("req_1")
    state.handle({"type": "response.output_text.delta", "delta": "Hi"})
    with pytest.raises(Interrupted):  # after text
        state.handle({"type": "response.completed", "response": {"model": "m"}})


def test_junk_model_is_dropped() -> None:
    out = play([created(model="<b>model</b> " + KEY)])
    assert out == [ResponseStarted("resp_1", None, "req_1")]


@pytest.mark.parametrize(
    ("reason", "code", "kept"),
    [
        ("max_output_tokens", "max_output_tokens", "max_output_tokens"),
        ("content_filter", "content_filter", "content_filter"),
        ("max_messages", "other", "max_messages"),
        (f"because {KEY}", "other", None),
        (KEY, "other", None),
        ("y" * 3000, "other", None),
        (None, "other", None),
    ],
)
def test_incomplete_reason_normalised(reason: Any, code: str, kept: str | None) -> None:
    fin = play([created(), incomplete(reason)])[-1]
    assert isinstance(fin, Finished) and fin.status == "incomplete"
    assert fin.reason == code and fin.finish_reason == kept
    assert KEY not in repr(fin)


@pytest.mark.parametrize(
    ("event", "cls", "code"),
    [
        (
            {"type": "error", "error": {"code": "insufficient_quota"}},
            QuotaExceeded,
            "insufficient_quota",
        ),
        ({"type": "error", "code": f"bad {KEY}"}, UpstreamFailed, None),
        ({"type": "error", "code": KEY}, UpstreamFailed, None),
        (
            {"type": "response.failed", "response": {"error": {"code": "x" * 500}}},
            UpstreamFailed,
            None,
        ),
        ({"type": "response.failed", "response": None}, UpstreamFailed, None),
    ],
)
def test_error_codes_cleaned(event: dict[str, Any], cls: type, code: str | None) -> None:
    with pytest.raises(ProviderError) as info:
        play([created(), event])
    assert type(info.value) is cls and info.value.upstream_code == code
    assert KEY not in repr(info.value)


def test_not_a_dict_is_malformed() -> None:
    with pytest.raises(UpstreamUnavailable):
        ResponsesState(None).handle([1, 2])  # type: ignore[arg-type]


def test_service_tier_and_fingerprint_are_metadata() -> None:
    state = ResponsesState("req_1", (KEY,), {"ratelimit_remaining_requests": 7})
    ev = created()
    ev["response"]["service_tier"] = "flex"
    started = state.handle(ev)
    assert isinstance(started, ResponseStarted)
    assert started.metadata == {"ratelimit_remaining_requests": 7, "service_tier": "flex"}
    resp = {"id": "resp_1", "service_tier": "priority", "system_fingerprint": KEY}
    fin = state.handle({"type": "response.completed", "response": resp})
    assert isinstance(fin, Finished)
    # A value holding a secret is dropped, never kept.
    assert fin.metadata == {"ratelimit_remaining_requests": 7, "service_tier": "priority"}
