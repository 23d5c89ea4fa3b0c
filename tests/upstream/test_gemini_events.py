"""The Interactions state machine (responses_client.gemini_events) on lists of dicts, no SDK, no server."""

from __future__ import annotations

from typing import Any

import pytest

from responses_client.errors import (
    ContextTooLong,
    Interrupted,
    PreviousResponseNotFound,
    QuotaExceeded,
    RateLimited,
    UpstreamFailed,
    UpstreamUnavailable,
)
from responses_client.events import Finished, ReasoningDelta, ResponseStarted, TextDelta
from responses_client.gemini_events import InteractionsState, usage_from

SECRET = "AIzaSyTEST-SENTINEL-0123456789abcdefXYZ"


def created(iid: Any = "v1_abc", **more: Any) -> dict[str, Any]:
    return {
        "event_type": "interaction.created",
        "interaction": {"id": iid, "status": "in_progress", "model": "gemini-3.5-flash", **more},
    }


def start(index: int, kind: str) -> dict[str, Any]:
    return {"event_type": "step.start", "index": index, "step": {"type": kind}}


def text(index: int, value: Any) -> dict[str, Any]:
    return {"event_type": "step.delta", "index": index, "delta": {"type": "text", "text": value}}


def completed(status: str = "completed", **more: Any) -> dict[str, Any]:
    return {
        "event_type": "interaction.completed",
        "interaction": {"id": "v1_abc", "status": status, **more},
    }


def test_a_whole_stream() -> None:
    s = InteractionsState("req-1", secrets=(SECRET,))
    out = [
        s.handle(created(service_tier="standard")),
        s.handle({"event_type": "interaction.status_update", "status": "in_progress"}),
        s.handle(start(0, "thought")),
        s.handle(
            {
                "event_type": "step.delta",
                "index": 0,
                "delta": {"type": "thought_summary", "content": {"type": "text", "text": "Hm."}},
            }
        ),
        s.handle(
            {
                "event_type": "step.delta",
                "index": 0,
                "delta": {"type": "thought_signature", "signature": "c2ln"},
            }
        ),
        s.handle({"event_type": "step.stop", "index": 0}),
        s.handle(start(1, "model_output")),
        s.handle(text(1, "Hello")),
        s.handle({"event_type": "step.stop", "index": 1}),
        s.handle(
            completed(
                usage={
                    "total_input_tokens": 12,
                    "total_output_tokens": 3,
                    "total_thought_tokens": 40,
                    "total_cached_tokens": 2,
                    "total_tokens": 55,
                },
                service_tier="standard",
            )
        ),
    ]
    events = [e for e in out if e is not None]
    assert events[0] == ResponseStarted(
        "v1_abc", "gemini-3.5-flash", "req-1", {"service_tier": "standard"}
    )
    assert events[1] == ReasoningDelta("Hm.")
    assert events[2] == TextDelta("Hello")
    done = events[3]
    assert isinstance(done, Finished) and s.finished
    assert done.status == "completed" and done.response_id == "v1_abc"
    assert done.usage == {
        "input_tokens": 12,
        "cached_tokens": 2,
        "cache_write_tokens": 0,
        "output_tokens": 43,
        "reasoning_tokens": 40,
        "total_tokens": 55,
    }


def test_text_of_a_tool_step_is_not_the_answer() -> None:
    s = InteractionsState(None)
    s.handle(created())
    s.handle(start(0, "code_execution_call"))
    assert s.handle(text(0, "print(1)")) is None
    assert s.handle(text(1, "")) is None  # empty deltas carry nothing
    assert not s.text_seen


@pytest.mark.parametrize("iid", [None, "", "id with spaces", SECRET])
def test_a_created_event_without_a_usable_id(iid: Any) -> None:
    s = InteractionsState(None, secrets=(SECRET,))
    with pytest.raises(UpstreamUnavailable) as info:  # before any text (API.md)
        s.handle(created(iid))
    assert info.value.upstream_code == "missing_response_id"


@pytest.mark.parametrize(
    ("status", "final", "reason"),
    [
        ("incomplete", "incomplete", "other"),
        ("requires_continuation", "incomplete", "max_output_tokens"),
        ("requires_action", "incomplete", "other"),
    ],
)
def test_endings(status: str, final: str, reason: str) -> None:
    s = InteractionsState(None)
    s.handle(created())
    s.handle(text(0, "x"))
    done = s.handle(completed(status))
    assert isinstance(done, Finished)
    assert (done.status, done.reason, done.finish_reason) == (final, reason, status)


def test_completed_without_text_is_not_a_success() -> None:
    s = InteractionsState(None)
    s.handle(created())
    done = s.handle(completed())
    assert isinstance(done, Finished) and (done.status, done.reason) == ("incomplete", "other")


@pytest.mark.parametrize(
    ("status", "cls"),
    [("failed", UpstreamFailed), ("budget_exceeded", QuotaExceeded), ("cancelled", Interrupted)],
)
def test_failed_endings(status: str, cls: type[Exception]) -> None:
    s = InteractionsState(None)
    s.handle(created())
    with pytest.raises(cls):
        s.handle(completed(status))


@pytest.mark.parametrize(
    ("code", "chained", "cls"),
    [
        ("internal", False, UpstreamFailed),
        ("resource_exhausted", False, RateLimited),
        ("not_found", True, PreviousResponseNotFound),
        ("not_found", False, UpstreamFailed),
        ("context_length_exceeded", False, ContextTooLong),
        ("a message, not a code", False, UpstreamFailed),
    ],
)
def test_error_events(code: str, chained: bool, cls: type[Exception]) -> None:
    s = InteractionsState("req-9", chained=chained)
    with pytest.raises(cls) as info:
        s.handle({"event_type": "error", "error": {"code": code, "message": f"key {SECRET}"}})
    err = info.value
    assert type(err) is cls
    assert SECRET not in repr(err) and "message" not in (getattr(err, "upstream_code", "") or "")


def test_usage_ignores_odd_values() -> None:
    assert usage_from(None) is None
    assert usage_from({"total_input_tokens": -1, "total_output_tokens": "3"}) == {
        "input_tokens": 0,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "output_tokens": 0,
        "reasoning_tokens": 0,
        "total_tokens": 0,
    }


def test_odd_shapes_carry_nothing() -> None:
    s = InteractionsState(None)
    assert s.handle({"event_type": "step.delta", "delta": "text"}) is None
    assert s.handle({"event_type": "step.start", "index": 0, "step": None}) is None
    assert s.handle({"event_type": "something.new"}) is None
    assert s.handle({}) is None
