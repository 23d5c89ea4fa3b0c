"""The app's retry policy over the in-process fake provider: what is retried, how long, and stops."""

from __future__ import annotations

import threading
import time

import pytest

from responses_client import (
    BadRequest,
    CancelToken,
    FakeProvider,
    Finished,
    Interrupted,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    ResponseRequest,
    ResponseStarted,
    RetryPolicy,
    TextDelta,
    UpstreamUnavailable,
    stream_with_retries,
)

FAST = RetryPolicy(max_retries=2, base_delay=0.0, max_delay=0.0)
REQ = ResponseRequest("m", "hi", None)


def run(fake: FakeProvider, policy: RetryPolicy = FAST, token: CancelToken | None = None):
    token = token or CancelToken()
    events: list[object] = []
    try:
        for ev in stream_with_retries(lambda: fake.stream(REQ, token), token, policy):
            events.append(ev)
    except ProviderError as err:
        return events, err
    return events, None


@pytest.mark.parametrize("err", [RateLimited(status=429), UpstreamUnavailable(status=503)])
def test_retryable_errors_are_retried(err: ProviderError) -> None:
    fake = FakeProvider()
    fake.enqueue_error(err)
    fake.enqueue_error(err)
    fake.enqueue_reply("ok")
    events, error = run(fake)
    assert error is None and isinstance(events[-1], Finished)
    assert fake.streams_opened == 3


def test_gives_up_after_max_retries() -> None:
    fake = FakeProvider()
    for _ in range(3):
        fake.enqueue_error(RateLimited(status=429))
    fake.enqueue_reply("never")
    _, error = run(fake)
    assert isinstance(error, RateLimited) and fake.streams_opened == 3


@pytest.mark.parametrize(
    "err", [QuotaExceeded(), BadRequest(status=400), Interrupted(), ProviderError()]
)
def test_other_errors_are_not_retried(err: ProviderError) -> None:
    fake = FakeProvider()
    fake.enqueue_error(err)
    _, error = run(fake)
    assert error is err and fake.streams_opened == 1


def test_should_retry_false_is_honoured() -> None:
    fake = FakeProvider()
    fake.enqueue_error(RateLimited(status=429, should_retry=False))
    _, error = run(fake)
    assert isinstance(error, RateLimited) and fake.streams_opened == 1


def test_retry_after_over_the_ceiling_raises_at_once() -> None:
    fake = FakeProvider()
    fake.enqueue_error(RateLimited(status=429, retry_after=30.0))
    started = time.monotonic()
    _, error = run(fake, RetryPolicy(max_retry_after=10.0))
    assert isinstance(error, RateLimited) and fake.streams_opened == 1
    assert time.monotonic() - started < 1


def test_retry_after_is_waited() -> None:
    fake = FakeProvider()
    fake.enqueue_error(RateLimited(status=429, retry_after=0.3))
    fake.enqueue_reply("ok")
    started = time.monotonic()
    _, error = run(fake, RetryPolicy(max_retry_after=10.0))
    assert error is None and time.monotonic() - started >= 0.3


def test_no_retry_once_text_was_relayed() -> None:
    fake = FakeProvider()
    fake.enqueue_events([ResponseStarted("resp_1", "m"), TextDelta("Hel"), UpstreamUnavailable()])
    fake.enqueue_reply("never")
    events, error = run(fake)
    assert isinstance(error, UpstreamUnavailable) and fake.streams_opened == 1
    assert TextDelta("Hel") in events


def test_retry_after_response_started_without_text() -> None:
    fake = FakeProvider()
    fake.enqueue_events([ResponseStarted("resp_1", "m"), RateLimited(upstream_code="rate_limited")])
    fake.enqueue_reply("ok")
    events, error = run(fake)
    assert error is None and fake.streams_opened == 2
    assert [e for e in events if isinstance(e, ResponseStarted)][-1].response_id != "resp_1"


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    for n, top in [(0, 0.5), (1, 1.0), (3, 4.0), (6, 8.0)]:
        delay = policy.backoff(n)
        assert 0.75 * top <= delay <= top


def test_stop_during_back_off_returns_at_once_and_starts_nothing() -> None:
    fake = FakeProvider()
    fake.enqueue_error(RateLimited(status=429, retry_after=5.0))
    fake.enqueue_reply("never")
    token = CancelToken()
    timer = threading.Timer(0.3, token.cancel)
    timer.start()
    started = time.monotonic()
    events, error = run(fake, RetryPolicy(), token)
    timer.join(5)
    assert error is None and events == []
    assert time.monotonic() - started < 2
    assert fake.streams_opened == 1 and fake.pending() == 1


def test_cancelled_before_start_opens_nothing() -> None:
    fake = FakeProvider()
    fake.enqueue_reply("x")
    token = CancelToken()
    token.cancel()
    assert run(fake, token=token) == ([], None)
    assert fake.streams_opened == 0
