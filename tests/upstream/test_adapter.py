"""The adapter through the real openai SDK against the fake upstream: events, requests sent, U1-U13."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from responses_client import (
    AuthFailed,
    BadRequest,
    CancelToken,
    ContextTooLong,
    Finished,
    Idle,
    Interrupted,
    OpenAIProvider,
    PreviousResponseNotFound,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    ReasoningDelta,
    ResponseRequest,
    ResponseStarted,
    RetryPolicy,
    TextDelta,
    UnknownModel,
    UpstreamFailed,
    UpstreamUnavailable,
    stream_with_retries,
)
from tests.fake_upstream import INJECTION_TEXT, FakeUpstream, behaviour

from .conftest import SENTINEL_KEY


def req(model: str = "gpt-test", **kw: object) -> ResponseRequest:
    return ResponseRequest(model=model, input="hi there", instructions="Be brief.", **kw)  # type: ignore[arg-type]


def text_of(events: list[object]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def reasoning_of(events: list[object]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def run(
    provider: OpenAIProvider, request: ResponseRequest
) -> tuple[list[object], ProviderError | None]:
    events: list[object] = []
    try:
        for ev in provider.stream(request):
            events.append(ev)
    except ProviderError as err:
        return events, err
    return events, None


# -- the happy path and what is sent ------------------------------------------------------------


def test_plain_stream_events_and_request(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    events = list(provider.stream(req()))
    assert isinstance(events[0], ResponseStarted)
    assert events[0].response_id.startswith("resp_")
    assert events[0].request_id.startswith("req_")
    assert text_of(events) == "Hello! How can I help?"
    assert any(isinstance(e, Idle) for e in events)
    fin = events[-1]
    assert isinstance(fin, Finished)
    assert fin.status == "completed" and fin.response_id == events[0].response_id
    assert fin.reason is None and fin.refusal is False and fin.model == "gpt-test"
    assert set(fin.usage) == {
        "input_tokens",
        "cached_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
        "total_tokens",
    }
    assert fin.usage["output_tokens"] == 6
    (rec,) = fake.requests
    assert rec.method == "POST" and rec.path == "/v1/responses"
    assert rec.headers["Authorization"] == f"Bearer {SENTINEL_KEY}"
    assert rec.body["model"] == "gpt-test"
    assert rec.body["input"] == "hi there"
    assert rec.body["instructions"] == "Be brief."
    assert rec.body["store"] is True and rec.body["stream"] is True
    assert rec.body["stream_options"] == {"include_obfuscation": False}
    assert "previous_response_id" not in rec.body and "max_output_tokens" not in rec.body
    assert rec.wait_done(5) and rec.completed and not rec.client_closed


def test_metadata_from_the_headers_and_the_response(
    provider: OpenAIProvider, fake: FakeUpstream
) -> None:
    # The rate-limit counts from the headers, the served tier from response.created (`auto`)
    # and response.completed (`default`: what the pricing picks its rates from).
    headers = {
        "x-ratelimit-remaining-requests": "4999",
        "x-ratelimit-remaining-tokens": "3999000",
    }
    fake.script([behaviour("ok", headers=headers)])
    events, err = run(provider, req())
    assert err is None
    started, fin = events[0], events[-1]
    assert isinstance(started, ResponseStarted) and isinstance(fin, Finished)
    counts = {"ratelimit_remaining_requests": 4999, "ratelimit_remaining_tokens": 3999000}
    assert started.metadata == {**counts, "service_tier": "auto"}
    assert fin.metadata == {**counts, "service_tier": "default"}


def test_metadata_drops_junk(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    headers = {"x-ratelimit-remaining-requests": "lots", "x-ratelimit-remaining-tokens": "-1"}
    fake.script([behaviour("ok", headers=headers)])
    events, err = run(provider, req())
    assert err is None
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.metadata == {"service_tier": "default"}


def test_consecutive_streams_reuse_one_connection(
    provider: OpenAIProvider, fake: FakeUpstream
) -> None:
    # The body is read past response.completed, so the pooled connection is reused (as the SDK
    # alone does) instead of a new TCP handshake every turn.
    for _ in range(5):
        assert text_of(list(provider.stream(req()))) == "Hello! How can I help?"
    assert len(fake.requests) == 5
    assert fake.connections == 1


def test_chained_turn_sends_previous_id_and_instructions_again(
    provider: OpenAIProvider, fake: FakeUpstream
) -> None:
    first = list(provider.stream(req()))
    rid = first[-1].response_id
    turns = [{"role": "user", "content": "again"}]
    request = ResponseRequest(
        "gpt-test", turns, "Be brief.", previous_response_id=rid, max_output_tokens=50
    )
    second = list(provider.stream(request))
    assert isinstance(second[-1], Finished)
    body = fake.requests[-1].body
    assert body["previous_response_id"] == rid
    assert body["instructions"] == "Be brief."
    assert body["max_output_tokens"] == 50
    assert body["input"] == turns
    assert second[-1].usage["cached_tokens"] > 0
    assert fake.responses[second[-1].response_id]["previous_response_id"] == rid


def test_stateless_provider_sends_store_false(fake: FakeUpstream) -> None:
    p = OpenAIProvider("k", base_url=fake.base_url, stateful=False, send_stream_options=False)
    try:
        list(p.stream(req()))
    finally:
        p.close()
    body = fake.requests[-1].body
    assert body["store"] is False and "stream_options" not in body


# -- U8 previous_response_not_found ------------------------------------------------------------


def test_unknown_previous_id_raises_after_one_request(
    provider: OpenAIProvider, fake: FakeUpstream
) -> None:
    events, err = run(provider, req(previous_response_id="resp_gone"))
    assert events == []
    assert isinstance(err, PreviousResponseNotFound)
    assert err.status == 400 and err.upstream_code == "previous_response_not_found"
    assert err.retryable is False and err.request_id.startswith("req_")
    assert len(fake.requests) == 1


def test_forgotten_id_and_invalid_variant(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    rid = list(provider.stream(req()))[-1].response_id
    fake.forget(rid)
    _, err = run(provider, req(previous_response_id=rid))
    assert isinstance(err, PreviousResponseNotFound)
    fake.script(["prev_invalid"])
    _, err = run(provider, req(previous_response_id="resp_x"))
    assert isinstance(err, PreviousResponseNotFound)
    assert err.upstream_code == "invalid_request_error"
    fake.forget_all()
    assert fake.responses == {}


# -- U1, U2 before the stream -------------------------------------------------------------------


def retried(
    provider: OpenAIProvider, request: ResponseRequest, **policy: float
) -> tuple[list[object], ProviderError | None]:
    """Run `request` through the app's retry policy (zero back-off unless the upstream asks)."""
    token = CancelToken()
    rules = dataclasses.replace(RetryPolicy(base_delay=0.0, max_delay=0.0), **policy)
    events: list[object] = []
    try:
        for ev in stream_with_retries(lambda: provider.stream(request, token), token, rules):
            events.append(ev)
    except ProviderError as err:
        return events, err
    return events, None


def test_sdk_never_retries(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    fake.script(["429:0.01", "429:0.01"])
    _, err = run(provider, req())
    assert isinstance(err, RateLimited)
    assert [r.status for r in fake.responses_requests()] == [429]
    assert fake.requests[0].headers.get("x-stainless-retry-count") == "0"


def test_429_retried_by_the_policy_then_ok(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    fake.script(["429:0.01", "429:0.01"])
    events, err = retried(provider, req())
    assert err is None
    assert text_of(events) == "Hello! How can I help?"
    recs = fake.responses_requests()
    assert [r.status for r in recs] == [429, 429, 200]
    # Each attempt is a fresh SDK call: the SDK's own retry counter stays at 0.
    assert [r.headers.get("x-stainless-retry-count") for r in recs] == ["0", "0", "0"]


def test_429_by_model_name_n_times(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    events, err = retried(provider, req("fake-429-x1"))
    assert err is None and isinstance(events[-1], Finished)
    assert len(fake.requests) == 2


def test_429_exhausted_is_rate_limited(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    _, err = retried(provider, req("fake-429-0.02"), max_retries=2)
    assert isinstance(err, RateLimited)
    assert err.code == "rate_limited" and err.retryable is True and err.status == 429
    assert err.retry_after == pytest.approx(0.02)
    assert err.upstream_code == "rate_limit_exceeded"
    assert len(fake.requests) == 3


def test_max_retries_zero_sends_one_request(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    _, err = retried(provider, req("fake-500"), max_retries=0)
    assert isinstance(err, UpstreamUnavailable) and len(fake.requests) == 1


def test_quota_429_is_not_retried(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    _, err = retried(provider, req("fake-quota"))
    assert isinstance(err, QuotaExceeded)
    assert err.code == "quota_exceeded" and err.retryable is False
    assert len(fake.requests) == 1


@pytest.mark.parametrize("model", ["fake-500", "fake-503"])
def test_5xx_always_is_unavailable_after_retries(
    provider: OpenAIProvider, fake: FakeUpstream, model: str
) -> None:
    _, err = retried(provider, req(model))
    assert isinstance(err, UpstreamUnavailable)
    assert err.code == "upstream_unavailable" and err.retryable is True
    assert err.status == int(model[-3:])
    assert len(fake.requests) == RetryPolicy().max_retries + 1


def test_503_once_then_ok(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    fake.script(["503"])
    events, err = retried(provider, req())
    assert err is None and isinstance(events[-1], Finished)
    assert [r.status for r in fake.requests] == [503, 200]


def test_connection_refused_is_unavailable() -> None:
    closed = FakeUpstream().start()
    url = closed.base_url
    closed.stop()  # nothing listens on that port any more
    p = OpenAIProvider(SENTINEL_KEY, base_url=url)
    try:
        _, err = run(p, req())
    finally:
        p.close()
    assert isinstance(err, UpstreamUnavailable) and err.retryable is True
    assert err.status is None


# -- U3, U4, U5 mid-stream: no retry ------------------------------------------------------------


def test_stall_after_text_is_interrupted_by_read_timeout(
    provider: OpenAIProvider, fake: FakeUpstream
) -> None:
    events, err = run(provider, req("fake-stall-2"))
    assert isinstance(err, Interrupted)
    assert err.code == "interrupted" and err.retryable is True
    assert err.request_id.startswith("req_")
    assert text_of(events) == "Hello! H"
    assert len(fake.requests) == 1


def test_stall_before_first_event_is_unavailable(
    provider: OpenAIProvider, fake: FakeUpstream
) -> None:
    events, err = run(provider, req("fake-stall_start"))
    assert isinstance(err, UpstreamUnavailable)
    assert events == []
    assert len(fake.requests) == 1


def test_reset_mid_stream_is_interrupted_without_retry(
    provider: OpenAIProvider, fake: FakeUpstream
) -> None:
    events, err = run(provider, req("fake-reset-3"))
    assert isinstance(err, Interrupted)
    assert text_of(events) == "Hello! How c"
    assert len(fake.requests) == 1


def test_malformed_line_is_interrupted(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    events, err = run(provider, req("fake-malformed-2"))
    assert isinstance(err, Interrupted) and err.upstream_code == "malformed_event"
    assert text_of(events) == "Hello! H"
    assert len(fake.requests) == 1


@pytest.mark.parametrize("after", [0, 3])
def test_stream_ending_without_terminal_event(
    provider: OpenAIProvider, fake: FakeUpstream, after: int
) -> None:
    fake.script([behaviour("truncated", after=after)])
    _, err = run(provider, req())
    assert isinstance(err, Interrupted if after else UpstreamUnavailable)
    assert err.upstream_code == "stream_ended_early"


# -- U6, U7 errors inside the stream -----------------------------------------------------------


def test_nested_error_event_quota(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    events, err = run(provider, req("fake-error_nested-2"))
    assert isinstance(err, QuotaExceeded)
    assert err.upstream_code == "insufficient_quota" and err.retryable is False
    assert text_of(events) == "Hello! H"


@pytest.mark.parametrize(
    ("kind", "code", "cls"),
    [
        ("error_nested", "credit_balance_exhausted", QuotaExceeded),
        ("error_nested", "rate_limit_exceeded", RateLimited),
        ("error_flat", "insufficient_quota", QuotaExceeded),
        ("error_flat", "rate_limit_exceeded", RateLimited),
        ("error_flat", "server_error", UpstreamFailed),
        ("error_nested", "server_error", UpstreamFailed),
    ],
)
def test_error_event_shapes(
    provider: OpenAIProvider, fake: FakeUpstream, kind: str, code: str, cls: type
) -> None:
    fake.script([behaviour(kind, code=code, after=1)])
    _, err = run(provider, req())
    assert type(err) is cls
    assert err.upstream_code == code
    assert len(fake.requests) == 1


def test_response_failed(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    events, err = run(provider, req("fake-failed-2"))
    assert isinstance(err, UpstreamFailed)
    assert err.code == "upstream_error" and err.retryable is True
    assert err.upstream_code == "server_error"
    assert isinstance(events[0], ResponseStarted)


@pytest.mark.parametrize(
    ("model", "reason"),
    [("fake-incomplete-3", "max_output_tokens"), ("fake-content_filter-1", "content_filter")],
)
def test_incomplete(provider: OpenAIProvider, model: str, reason: str) -> None:
    events = list(provider.stream(req(model)))
    fin = events[-1]
    assert isinstance(fin, Finished)
    assert fin.status == "incomplete" and fin.reason == reason
    assert fin.usage is not None
    assert text_of(events) == "Hello! How can I help?"[: 4 * int(model[-1])]


# -- U10, U11 and other refusals before the stream ----------------------------------------------


@pytest.mark.parametrize(
    ("model", "cls", "status", "code"),
    [
        ("fake-401", AuthFailed, 401, "upstream_auth"),
        ("fake-403", AuthFailed, 403, "upstream_auth"),
        ("fake-context", ContextTooLong, 400, "context_too_long"),
        ("fake-model404", UnknownModel, 404, "unknown_model"),
        ("fake-400", BadRequest, 400, "bad_request"),
    ],
)
def test_refused_requests(
    provider: OpenAIProvider, fake: FakeUpstream, model: str, cls: type, status: int, code: str
) -> None:
    _, err = run(provider, req(model))
    assert type(err) is cls
    assert err.status == status and err.code == code and err.retryable is False
    assert err.request_id.startswith("req_")
    assert len(fake.requests) == 1


# -- U13 sequence numbers, missing fields, other dialects ---------------------------------------


def test_duplicate_sequence_number_dropped(
    provider: OpenAIProvider, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="responses_client"):
        events = list(provider.stream(req("fake-dupseq-2")))
    assert text_of(events) == "Hello! How can I help?"
    assert "upstream_sequence_duplicate" in caplog.text


def test_sequence_gap_logged(provider: OpenAIProvider, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="responses_client"):
        events = list(provider.stream(req("fake-gapseq-2")))
    assert text_of(events) == "Hello! How can I help?"
    assert "upstream_sequence_gap" in caplog.text
    assert isinstance(events[-1], Finished)


def test_missing_sequence_numbers(provider: OpenAIProvider) -> None:
    events = list(provider.stream(req("fake-noseq")))
    assert text_of(events) == "Hello! How can I help?"
    assert isinstance(events[-1], Finished)


def test_openrouter_data_only_frames_and_done(provider: OpenAIProvider) -> None:
    events = list(provider.stream(req("fake-openrouter")))
    assert isinstance(events[0], ResponseStarted)
    assert text_of(events) == "Hello! How can I help?"
    assert isinstance(events[-1], Finished)


def test_reasoning_summary_then_text_at_output_index_1(
    provider: OpenAIProvider, fake: FakeUpstream
) -> None:
    fake.reasoning_summary = ["**Plan**\n\nThink.", "**Check**\n\nDone."]
    request = req(reasoning={"effort": "low", "summary": "auto"})
    events = list(provider.stream(request))
    assert reasoning_of(events) == "**Plan**\n\nThink.\n\n**Check**\n\nDone."
    assert text_of(events) == "Hello! How can I help?"
    assert fake.requests[-1].body["reasoning"] == {"effort": "low", "summary": "auto"}
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    last_reason = max(i for i, e in enumerate(events) if isinstance(e, ReasoningDelta))
    assert last_reason < first_text
    assert events[-1].usage["reasoning_tokens"] > 0


def test_raw_reasoning_text(provider: OpenAIProvider) -> None:
    events = list(provider.stream(req("fake-reasoning_raw")))
    assert reasoning_of(events) == "Let me think. The user says hello."
    assert text_of(events) == "Hello! How can I help?"


def test_commentary_phase_goes_to_reasoning(provider: OpenAIProvider) -> None:
    events = list(provider.stream(req("fake-commentary")))
    assert text_of(events) == "Hello! How can I help?"
    assert reasoning_of(events) == "Let me look at that first."


def test_refusal(provider: OpenAIProvider) -> None:
    events = list(provider.stream(req("fake-refusal")))
    assert text_of(events) == "I'm sorry, but I can't help with that."
    assert events[-1].refusal is True and events[-1].status == "completed"


def test_framing_injection_text_is_plain_text(provider: OpenAIProvider) -> None:
    events = list(provider.stream(req("fake-injection")))
    assert text_of(events) == INJECTION_TEXT
    assert isinstance(events[-1], Finished)


XSS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert('x')</script>",
    "[click](javascript:alert(1))",
    "</textarea><svg onload=alert(1)>",
    "\u2028\u2029 data: x\r\n\r\nevent: error",
]


@pytest.mark.parametrize("payload", XSS)
def test_caller_text_split_at_offsets(
    provider: OpenAIProvider, fake: FakeUpstream, payload: str
) -> None:
    offsets = [1, 3, len(payload) // 2, len(payload) - 1]
    fake.script([behaviour("text", text=payload, offsets=offsets)])
    events = list(provider.stream(req()))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(deltas) == payload
    assert len(deltas) == len(set(offsets)) + 1


def test_long_answer_many_deltas(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    fake.n_deltas = 500
    events = list(provider.stream(req()))
    assert sum(isinstance(e, TextDelta) for e in events) == 500
    assert fake.requests[-1].events_written == 500 + 8


def test_user_options_map_to_responses_fields_and_operator_options_go_as_given(
    provider: OpenAIProvider, fake: FakeUpstream
) -> None:
    request = req(
        max_output_tokens=500,
        options={
            "reasoning_effort": "high",
            "reasoning_summary": "concise",
            "verbosity": "low",
            "temperature": 0.5,
            "max_output_tokens": 9000,
        },
        provider_options={"service_tier": "flex", "metadata": {"team": "docs"}},
    )
    assert text_of(list(provider.stream(request))) == "Hello! How can I help?"
    (rec,) = fake.requests
    assert rec.body["reasoning"] == {"effort": "high", "summary": "concise"}
    assert rec.body["text"] == {"verbosity": "low"}
    assert rec.body["temperature"] == 0.5 and "top_p" not in rec.body
    assert rec.body["max_output_tokens"] == 500  # the app's cap bounds the user's option
    assert rec.body["service_tier"] == "flex" and rec.body["metadata"] == {"team": "docs"}
