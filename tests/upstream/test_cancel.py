"""Stop: a CancelToken or closing the generator closes the upstream connection, even while silent."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from responses_client import (
    CancelToken,
    Finished,
    OpenAIProvider,
    ResponseRequest,
    RetryPolicy,
    TextDelta,
    stream_with_retries,
)
from tests.fake_upstream import FakeUpstream, behaviour


def req(model: str = "gpt-test") -> ResponseRequest:
    return ResponseRequest(model=model, input="hi", instructions="Be brief.")


class Consumer(threading.Thread):
    """Iterates a stream in another thread, as the turn worker does."""

    def __init__(self, provider: OpenAIProvider, request: ResponseRequest, token: CancelToken):
        super().__init__(daemon=True)
        self.gen = provider.stream(request, token)
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


def wait_for_request(fake: FakeUpstream, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not fake.requests and time.monotonic() < end:
        time.sleep(0.01)
    assert fake.requests


def test_cancel_before_stream_sends_nothing(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    token = CancelToken()
    token.cancel()
    assert list(provider.stream(req(), token)) == []
    assert fake.requests == []


def test_cancel_before_first_event(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    provider_long = OpenAIProvider("k", base_url=fake.base_url, read_timeout=30.0)
    token = CancelToken()
    c = Consumer(provider_long, req("fake-stall_start"), token)
    c.start()
    wait_for_request(fake)
    time.sleep(0.2)  # the read is now blocked on a silent upstream
    started = time.monotonic()
    token.cancel()
    c.join(5)
    assert not c.is_alive() and c.error is None
    assert time.monotonic() - started < 2
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and rec.events_written == 0
    provider_long.close()


def test_cancel_mid_answer(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    fake.n_deltas = 400
    fake.delta_delay = 0.01
    token = CancelToken()
    c = Consumer(provider, req(), token)
    c.start()
    for _ in range(5):
        assert c.texts.acquire(timeout=5)
    token.cancel()
    c.join(5)
    assert not c.is_alive() and c.error is None
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed
    assert rec.events_written < 400
    assert not rec.completed
    assert len(fake.requests) == 1


def test_cancel_while_model_is_silent(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    long = OpenAIProvider("k", base_url=fake.base_url, read_timeout=60.0)
    fake.script([behaviour("gap", seconds=30, after=2)])
    token = CancelToken()
    c = Consumer(long, req(), token)
    c.start()
    for _ in range(2):
        assert c.texts.acquire(timeout=5)
    time.sleep(0.2)
    started = time.monotonic()
    token.cancel()
    c.join(5)
    assert not c.is_alive() and c.error is None
    assert time.monotonic() - started < 2
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and not rec.completed
    long.close()


def test_generator_close_closes_connection(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    fake.n_deltas = 400
    fake.delta_delay = 0.01
    gen = provider.stream(req())
    seen = 0
    for ev in gen:
        seen += isinstance(ev, TextDelta)
        if seen == 3:
            break
    gen.close()
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and not rec.completed
    assert rec.events_written < 400


def test_cancel_after_finish_is_harmless(provider: OpenAIProvider, fake: FakeUpstream) -> None:
    token = CancelToken()
    assert list(provider.stream(req(), token))
    token.cancel()  # the pooled connection must not be shut down under the next request
    assert list(provider.stream(req()))
    # The adapter returns at the terminal event; the fake's handler records `completed` just after.
    assert all(r.wait_done(5) for r in fake.requests)
    assert [r.completed for r in fake.requests] == [True, True]


# -- a stop at every stage (issue 10 item 1) -----------------------------------------------------


class PolicyConsumer(Consumer):
    """A Consumer whose stream goes through the app's retry policy, as the turn does."""

    def __init__(self, provider: OpenAIProvider, request: ResponseRequest, token: CancelToken):
        super().__init__(provider, request, token)
        self.gen = stream_with_retries(
            lambda: provider.stream(request, token), token, RetryPolicy()
        )


def stop_and_time(c: Consumer, token: CancelToken) -> float:
    started = time.monotonic()
    token.cancel()
    c.join(5)
    assert not c.is_alive() and c.error is None
    return time.monotonic() - started


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
    yield f"http://127.0.0.1:{port}/v1"
    for s in [*fillers, srv]:
        s.close()


def test_stop_while_connecting(blackhole: str) -> None:
    p = OpenAIProvider("k", base_url=blackhole, connect_timeout=30.0, read_timeout=30.0)
    token = CancelToken()
    c = PolicyConsumer(p, req(), token)
    c.start()
    time.sleep(0.5)  # connecting: the SYN sits unanswered
    assert c.is_alive()
    assert stop_and_time(c, token) < 2
    assert c.events == []
    p.close()


def test_stop_before_headers(fake: FakeUpstream) -> None:
    p = OpenAIProvider("k", base_url=fake.base_url, read_timeout=30.0)
    fake.script([behaviour("silent", seconds=25)])
    token = CancelToken()
    c = PolicyConsumer(p, req(), token)
    c.start()
    wait_for_request(fake)
    time.sleep(0.5)  # the request is sent; the upstream says nothing, not even a status line
    assert stop_and_time(c, token) < 2
    assert c.events == []
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and rec.events_written == 0
    time.sleep(0.3)  # no retry may start after the stop
    assert len(fake.requests) == 1
    p.close()


def test_stop_during_back_off(fake: FakeUpstream) -> None:
    p = OpenAIProvider("k", base_url=fake.base_url)
    fake.script(["429:5"])  # Retry-After: 5, under the policy's 10 s ceiling: the turn waits
    token = CancelToken()
    c = PolicyConsumer(p, req(), token)
    c.start()
    wait_for_request(fake)
    assert fake.requests[0].wait_done(5) and fake.requests[0].status == 429
    time.sleep(0.5)
    assert c.is_alive()  # backing off
    assert stop_and_time(c, token) < 1
    assert c.events == []
    assert len(fake.requests) == 1
    p.close()


def test_stop_mid_stream_through_the_policy(fake: FakeUpstream) -> None:
    fake.n_deltas = 400
    fake.delta_delay = 0.01
    p = OpenAIProvider("k", base_url=fake.base_url)
    token = CancelToken()
    c = PolicyConsumer(p, req(), token)
    c.start()
    for _ in range(3):
        assert c.texts.acquire(timeout=5)
    assert stop_and_time(c, token) < 2
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and not rec.completed
    assert len(fake.requests) == 1
    p.close()


def test_pool_reused_after_a_stopped_request(fake: FakeUpstream) -> None:
    # A stop shuts only the stopped request's socket: the next turn on the same provider works.
    p = OpenAIProvider("k", base_url=fake.base_url, read_timeout=30.0)
    fake.script([behaviour("silent", seconds=25)])
    token = CancelToken()
    c = Consumer(p, req(), token)
    c.start()
    wait_for_request(fake)
    time.sleep(0.2)
    stop_and_time(c, token)
    for _ in range(3):
        assert isinstance(list(p.stream(req()))[-1], Finished)
    p.close()


def test_stops_reach_only_their_own_streams(fake: FakeUpstream) -> None:
    # Concurrent turns over one pooled provider: stopping half of them (and their tokens being
    # cancelled again later) never ends one of the others.
    fake.n_deltas = 60
    fake.delta_delay = 0.005
    p = OpenAIProvider("k", base_url=fake.base_url)
    for _ in range(2):
        pairs = []
        for _ in range(10):
            token = CancelToken()
            pairs.append((Consumer(p, req(), token), token))
        for c, _ in pairs:
            c.start()
        for c, token in pairs[::2]:
            assert c.texts.acquire(timeout=5)
            token.cancel()
        for c, _ in pairs:
            c.join(10)
            assert not c.is_alive() and c.error is None
        for c, token in pairs[1::2]:
            assert isinstance(c.events[-1], Finished)
            token.cancel()  # after the end: must not touch a socket back in the pool
    assert len(fake.requests) == 20
    p.close()
