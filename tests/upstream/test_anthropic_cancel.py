"""A stop closes the Anthropic upstream at every stage: connecting, before headers, streaming."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from responses_client.adapters.anthropic_messages import AnthropicProvider
from responses_client.cancel import CancelToken
from responses_client.events import Finished, ResponseRequest, TextDelta
from responses_client.retry import RetryPolicy, stream_with_retries
from tests.fakes.anthropic import (
    FakeAnthropic,
    behaviour,
    fake_anthropic,  # noqa: F401  (the fixture)
)

KEY = "sk-ant-test-SENTINEL0123456789abcdefXYZ"


def req() -> ResponseRequest:
    return ResponseRequest(model="claude-sonnet-5-5", input="hi", instructions="Be brief.")


class Consumer(threading.Thread):
    """Iterates a stream in another thread (through the app's retry policy), as the turn does."""

    def __init__(self, provider: AnthropicProvider, token: CancelToken) -> None:
        super().__init__(daemon=True)
        self.gen = stream_with_retries(lambda: provider.stream(req(), token), token, RetryPolicy())
        self.events: list[object] = []
        self.error: BaseException | None = None
        self.texts = threading.Semaphore(0)

    def run(self) -> None:
        try:
            for ev in self.gen:
                self.events.append(ev)
                if isinstance(ev, TextDelta):
                    self.texts.release()
        except BaseException as exc:  # the test asserts there is none
            self.error = exc


def stop_and_time(c: Consumer, token: CancelToken) -> float:
    started = time.monotonic()
    token.cancel()
    c.join(5)
    assert not c.is_alive() and c.error is None
    return time.monotonic() - started


def wait_for_request(fake: FakeAnthropic, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not fake.requests and time.monotonic() < end:
        time.sleep(0.01)
    assert fake.requests


@pytest.fixture
def upstream(fake_anthropic: FakeAnthropic) -> FakeAnthropic:  # noqa: F811
    """The started fake (alias)."""
    return fake_anthropic


@pytest.fixture
def patient(upstream: FakeAnthropic) -> Iterator[AnthropicProvider]:
    """An adapter whose timeouts are far longer than any test: only a stop ends a wait."""
    p = AnthropicProvider(KEY, base_url=upstream.base_url, read_timeout=60.0)
    yield p
    p.close()


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A base URL whose connect never completes: a listener with a full backlog that never accepts."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    probe = socket.socket()
    probe.settimeout(0.3)
    with pytest.raises(TimeoutError):  # the precondition: a connect here hangs
        probe.connect(("127.0.0.1", port))
    probe.close()
    yield f"http://127.0.0.1:{port}"
    for s in [*fillers, srv]:
        s.close()


def test_a_cancelled_token_sends_nothing(
    patient: AnthropicProvider, upstream: FakeAnthropic
) -> None:
    token = CancelToken()
    token.cancel()
    assert list(patient.stream(req(), token)) == []
    assert upstream.requests == []


def test_stop_while_connecting(blackhole: str) -> None:
    p = AnthropicProvider(KEY, base_url=blackhole, connect_timeout=30.0, read_timeout=30.0)
    token = CancelToken()
    c = Consumer(p, token)
    c.start()
    time.sleep(0.5)  # connecting: the SYN sits unanswered
    assert c.is_alive()
    assert stop_and_time(c, token) < 5
    assert c.events == []
    p.close()


def test_stop_before_headers(patient: AnthropicProvider, upstream: FakeAnthropic) -> None:
    upstream.script([behaviour("silent", seconds=25)])
    token = CancelToken()
    c = Consumer(patient, token)
    c.start()
    wait_for_request(upstream)
    time.sleep(0.3)  # the request is sent; not even a status line comes back
    assert stop_and_time(c, token) < 5
    assert c.events == []
    rec = upstream.requests[0]
    assert rec.wait_done(5) and rec.client_closed and rec.events_written == 0
    time.sleep(0.2)
    assert len(upstream.requests) == 1  # no retry after a stop


def test_stop_after_headers_before_any_event(
    patient: AnthropicProvider, upstream: FakeAnthropic
) -> None:
    upstream.script([behaviour("stall_start")])
    token = CancelToken()
    c = Consumer(patient, token)
    c.start()
    wait_for_request(upstream)
    time.sleep(0.3)
    assert stop_and_time(c, token) < 5
    rec = upstream.requests[0]
    assert rec.wait_done(5) and rec.client_closed and rec.events_written == 0


def test_stop_mid_stream(patient: AnthropicProvider, upstream: FakeAnthropic) -> None:
    upstream.long_reply(400, delay=0.01)
    token = CancelToken()
    c = Consumer(patient, token)
    c.start()
    for _ in range(3):
        assert c.texts.acquire(timeout=5)
    assert stop_and_time(c, token) < 5
    assert not any(isinstance(e, Finished) for e in c.events)
    rec = upstream.requests[0]
    assert rec.wait_done(5) and rec.client_closed and not rec.completed
    assert rec.events_written < 400
    assert len(upstream.requests) == 1


def test_stop_while_the_model_is_silent(
    patient: AnthropicProvider, upstream: FakeAnthropic
) -> None:
    upstream.script([behaviour("stall", after=2)])
    token = CancelToken()
    c = Consumer(patient, token)
    c.start()
    for _ in range(2):
        assert c.texts.acquire(timeout=5)
    time.sleep(0.3)
    assert stop_and_time(c, token) < 5
    rec = upstream.requests[0]
    assert rec.wait_done(5) and rec.client_closed and not rec.completed


def test_closing_the_generator_closes_the_connection(
    patient: AnthropicProvider, upstream: FakeAnthropic
) -> None:
    upstream.long_reply(400, delay=0.01)
    gen = patient.stream(req())
    seen = 0
    for ev in gen:
        seen += isinstance(ev, TextDelta)
        if seen == 3:
            break
    gen.close()
    rec = upstream.requests[0]
    assert rec.wait_done(5) and rec.client_closed and not rec.completed


def test_the_pool_works_after_stops(patient: AnthropicProvider, upstream: FakeAnthropic) -> None:
    # A stop shuts only its own socket; a token cancelled after its stream ended touches nothing.
    upstream.script([behaviour("silent", seconds=25)])
    token = CancelToken()
    c = Consumer(patient, token)
    c.start()
    wait_for_request(upstream)
    time.sleep(0.2)
    stop_and_time(c, token)
    for _ in range(3):
        done = CancelToken()
        assert isinstance(list(patient.stream(req(), done))[-1], Finished)
        done.cancel()
    assert isinstance(list(patient.stream(req()))[-1], Finished)
