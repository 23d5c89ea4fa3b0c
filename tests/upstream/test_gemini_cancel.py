"""Stops: the turn's CancelToken closes the Gemini upstream at every stage, for generateContent and Interactions.

Connecting (a listener that never accepts), before the headers (the fake reads the request and
says nothing), after the headers before the first chunk, mid-answer and while the model is
silent; closing the generator does the same. The fake sees its connection closed within 5 s.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Generator, Iterator

import pytest

from responses_client.adapters.gemini import GeminiProvider
from responses_client.cancel import CancelToken
from responses_client.events import Finished, ResponseRequest, TextDelta
from tests.fakes.gemini import FakeGemini, behaviour, fake_gemini  # noqa: F401

KEY = "AIzaSyTEST-SENTINEL-0123456789abcdefXYZ"


@pytest.fixture
def fake(fake_gemini: FakeGemini) -> FakeGemini:  # noqa: F811
    """The started fake (alias)."""
    return fake_gemini


@pytest.fixture(params=[False, True], ids=["generate", "interactions"])
def stateful(request: pytest.FixtureRequest) -> bool:
    """Both surfaces: generateContent and (stateful) Interactions."""
    return bool(request.param)


def req(model: str = "gemini-3.5-flash") -> ResponseRequest:
    return ResponseRequest(model=model, input="hi", instructions="Be brief.")


class Consumer(threading.Thread):
    """Iterates a stream in another thread, as the turn worker does."""

    def __init__(self, provider: GeminiProvider, request: ResponseRequest, token: CancelToken):
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


def wait_for_request(fake: FakeGemini, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not fake.requests and time.monotonic() < end:
        time.sleep(0.01)
    assert fake.requests


def stop_and_time(c: Consumer, token: CancelToken) -> float:
    started = time.monotonic()
    token.cancel()
    c.join(5)
    assert not c.is_alive() and c.error is None  # a stopped stream simply ends
    return time.monotonic() - started


def provider(fake: FakeGemini, stateful: bool) -> GeminiProvider:
    return GeminiProvider(KEY, base_url=fake.base_url, read_timeout=30.0, stateful=stateful)


def test_cancelled_before_the_call_sends_nothing(fake: FakeGemini, stateful: bool) -> None:
    p = provider(fake, stateful)
    token = CancelToken()
    token.cancel()
    assert list(p.stream(req(), token)) == []
    assert fake.requests == []
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


def test_stop_while_connecting(blackhole: str, stateful: bool) -> None:
    p = GeminiProvider(KEY, base_url=blackhole, connect_timeout=30.0, stateful=stateful)
    token = CancelToken()
    c = Consumer(p, req(), token)
    c.start()
    time.sleep(0.5)  # connecting: the SYN sits unanswered
    assert c.is_alive()
    assert stop_and_time(c, token) < 2
    assert c.events == []
    p.close()


def test_stop_before_headers(fake: FakeGemini, stateful: bool) -> None:
    p = provider(fake, stateful)
    fake.script([behaviour("silent", seconds=25)])
    token = CancelToken()
    c = Consumer(p, req(), token)
    c.start()
    wait_for_request(fake)
    time.sleep(0.5)  # the request is sent; the upstream says nothing, not even a status line
    assert stop_and_time(c, token) < 2
    assert c.events == []
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and rec.events_written == 0
    time.sleep(0.3)
    assert len(fake.requests) == 1  # no retry, no continuation after the stop
    p.close()


def test_stop_after_headers_before_the_first_chunk(fake: FakeGemini, stateful: bool) -> None:
    p = provider(fake, stateful)
    fake.script([behaviour("stall_start")])
    token = CancelToken()
    c = Consumer(p, req(), token)
    c.start()
    wait_for_request(fake)
    time.sleep(0.5)
    assert stop_and_time(c, token) < 2
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed
    p.close()


def test_stop_mid_answer_while_the_model_is_silent(fake: FakeGemini, stateful: bool) -> None:
    p = provider(fake, stateful)
    token = CancelToken()
    c = Consumer(p, req("fake-stall-2"), token)
    c.start()
    assert c.texts.acquire(timeout=5)  # text arrived, then the upstream went silent
    time.sleep(0.3)
    assert stop_and_time(c, token) < 2
    assert not any(isinstance(e, Finished) for e in c.events)
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed
    time.sleep(0.3)
    assert len(fake.requests) == 1
    p.close()


def test_stop_mid_stream_of_many_deltas(fake: FakeGemini, stateful: bool) -> None:
    p = provider(fake, stateful)
    fake.n_deltas = 100_000
    fake.delta_delay = 0.001
    token = CancelToken()
    c = Consumer(p, req(), token)
    c.start()
    assert c.texts.acquire(timeout=5)
    assert stop_and_time(c, token) < 2
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and not rec.completed
    p.close()


def test_closing_the_generator_closes_the_connection(fake: FakeGemini, stateful: bool) -> None:
    p = provider(fake, stateful)
    gen = p.stream(req("fake-stall-2"), CancelToken())
    assert isinstance(gen, Generator)
    for ev in gen:
        if isinstance(ev, TextDelta):
            break
    gen.close()
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed
    p.close()


def test_cancel_after_finish_leaves_the_pool_usable(fake: FakeGemini, stateful: bool) -> None:
    p = provider(fake, stateful)
    token = CancelToken()
    events = list(p.stream(req(), token))
    assert isinstance(events[-1], Finished)
    token.cancel()  # late: must not shut a pooled socket under the next request
    events = list(p.stream(req(), CancelToken()))
    assert isinstance(events[-1], Finished)
    p.close()


def test_concurrent_streams_and_stops_stay_apart(fake: FakeGemini, stateful: bool) -> None:
    """One provider, several turns at once: each gets its own answer; a stop ends only its own."""
    p = provider(fake, stateful)
    fake.delta_delay = 0.01
    tokens = [CancelToken() for _ in range(6)]
    # The first holds after two deltas until stopped; the others answer in full meanwhile.
    consumers = [Consumer(p, req("fake-stall-2" if i == 0 else "gemini-3.5-flash"), t)
                 for i, t in enumerate(tokens)]  # fmt: skip
    for c in consumers:
        c.start()
    for c in consumers:
        assert c.texts.acquire(timeout=5)
    for c in consumers[1:]:
        c.join(10)
    assert consumers[0].is_alive()  # still held by the silent upstream
    tokens[0].cancel()
    for c in consumers:
        c.join(10)
        assert not c.is_alive() and c.error is None
    assert not any(isinstance(e, Finished) for e in consumers[0].events)
    ids = set()
    for c in consumers[1:]:
        done = c.events[-1]
        assert isinstance(done, Finished) and done.status == "completed"
        ids.add(done.response_id)
    assert len(ids) == 5
    p.close()


def test_turns_reuse_the_pooled_connection(fake: FakeGemini, stateful: bool) -> None:
    """The body is read past its last event, so the next turn needs no new TCP (or TLS) handshake."""
    p = provider(fake, stateful)
    for _ in range(3):
        events = list(p.stream(req(), CancelToken()))
        assert isinstance(events[-1], Finished)
    p.close()
    assert len(fake.requests) == 3 and len(set(fake.connections)) == 1
