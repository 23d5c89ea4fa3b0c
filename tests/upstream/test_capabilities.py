"""Capabilities as data and the check before any call (the adapter refuses without a request)."""

from __future__ import annotations

import pytest

from responses_client import (
    Capabilities,
    ContextTooLong,
    OpenAIProvider,
    ResponseRequest,
    check_request,
    estimate_input_tokens,
)
from tests.fake_upstream import FakeUpstream

WINDOW = Capabilities("responses", True, context_window=1000, max_output_tokens=200)


def req(chars: int, max_output_tokens: int | None = None) -> ResponseRequest:
    turns = [{"role": "user", "content": "x" * chars}]
    return ResponseRequest("m", turns, "ins", max_output_tokens=max_output_tokens)


def test_estimate_counts_instructions_and_text_parts() -> None:
    r = ResponseRequest(
        "m", [{"role": "user", "content": [{"type": "input_text", "text": "abcd" * 10}]}], "abcd"
    )
    assert estimate_input_tokens(r) == 11


def test_fits_and_does_not_fit() -> None:
    check_request(WINDOW, req(3000))  # 751 + 200 <= 1000
    with pytest.raises(ContextTooLong) as info:
        check_request(WINDOW, req(3300))
    assert info.value.status is None and info.value.retryable is False
    check_request(WINDOW, req(3300, max_output_tokens=100))  # the request's own cap is smaller
    with pytest.raises(ContextTooLong):
        check_request(WINDOW, req(10), input_tokens=900)  # the caller's exact count wins


@pytest.mark.parametrize(
    "caps",
    [
        Capabilities("responses", True),
        Capabilities("responses", True, context_window=1000),
        Capabilities("responses", True, max_output_tokens=10),
    ],
)
def test_unknown_figures_are_never_guessed(caps: Capabilities) -> None:
    check_request(caps, req(100_000))


def test_adapter_refuses_before_any_request(fake: FakeUpstream) -> None:
    p = OpenAIProvider("k", base_url=fake.base_url, capabilities=WINDOW)
    try:
        with pytest.raises(ContextTooLong):
            list(p.stream(req(5000)))
        assert fake.requests == []
        assert list(p.stream(req(100)))
    finally:
        p.close()
