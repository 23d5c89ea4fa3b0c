"""Upstream-chosen strings through the real adapter and the fake upstream: only short tokens survive."""

from __future__ import annotations

import pytest

from responses_client import (
    BadRequest,
    Finished,
    OpenAIProvider,
    ResponseRequest,
    ResponseStarted,
    UpstreamUnavailable,
)
from tests.fake_upstream import FakeUpstream, behaviour

from .conftest import SENTINEL_KEY


def req() -> ResponseRequest:
    return ResponseRequest("gpt-test", "hi", "Be brief.")


@pytest.mark.parametrize(
    ("reason", "code", "kept"),
    [
        (f"the key is {SENTINEL_KEY}", "other", None),
        (SENTINEL_KEY, "other", None),
        ("z" * 3000, "other", None),
        ("max_output_tokens", "max_output_tokens", "max_output_tokens"),
    ],
)
def test_incomplete_reason(
    provider: OpenAIProvider, fake: FakeUpstream, reason: str, code: str, kept: str | None
) -> None:
    fake.script([behaviour("incomplete", after=2, reason=reason)])
    events = list(provider.stream(req()))
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.status == "incomplete"
    assert fin.reason == code and fin.finish_reason == kept
    assert SENTINEL_KEY not in repr(events) and "zzzz" not in repr(events)


def test_configured_secret_redacted_too(fake: FakeUpstream) -> None:
    other = "tok-OTHER-SECRET-0123456789"
    p = OpenAIProvider("k", base_url=fake.base_url, secrets=[other])
    fake.script([behaviour("incomplete", after=1, reason=other)])
    try:
        fin = list(p.stream(req()))[-1]
    finally:
        p.close()
    assert isinstance(fin, Finished) and fin.finish_reason is None and fin.reason == "other"


@pytest.mark.parametrize("header", [f"req_{SENTINEL_KEY}", "<script>alert(1)</script>", "a" * 300])
def test_request_id_header_dropped(
    provider: OpenAIProvider, fake: FakeUpstream, header: str
) -> None:
    fake.script([behaviour("ok", request_id=header)])
    events = list(provider.stream(req()))
    started = events[0]
    assert isinstance(started, ResponseStarted) and started.request_id is None
    assert SENTINEL_KEY not in repr(events)


def test_request_id_header_on_an_error_dropped(
    provider: OpenAIProvider, fake: FakeUpstream
) -> None:
    fake.script([behaviour("400", request_id=f"req {SENTINEL_KEY}")])
    with pytest.raises(BadRequest) as info:
        list(provider.stream(req()))
    assert info.value.request_id is None and info.value.status == 400


def test_good_request_id_kept(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    fake.script([behaviour("ok", request_id="req_abc-123")])
    started = next(iter(provider.stream(req())))
    assert isinstance(started, ResponseStarted) and started.request_id == "req_abc-123"


@pytest.mark.parametrize("rid", [None, "", "not an id", SENTINEL_KEY])
def test_missing_or_junk_response_id_is_unavailable(
    provider: OpenAIProvider, fake: FakeUpstream, rid: str | None
) -> None:
    fake.script([behaviour("ok", response_id=rid)])
    events: list[object] = []
    with pytest.raises(UpstreamUnavailable) as info:  # before any text (API.md)
        for ev in provider.stream(req()):
            events.append(ev)
    assert events == []  # never ResponseStarted('None')
    assert info.value.upstream_code == "missing_response_id"
    assert len(fake.requests) == 1


def test_junk_model_echo_dropped(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    fake.resolved_model = "gpt 5 <b>" + SENTINEL_KEY
    events = list(provider.stream(req()))
    assert isinstance(events[0], ResponseStarted) and events[0].model is None
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.model is None
