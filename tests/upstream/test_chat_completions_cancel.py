"""ChatCompletionsProvider: a CancelToken closes the upstream at every stage (the fake sees it go)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from responses_client.adapters.openai_chat import ChatCompletionsProvider
from responses_client.cancel import CancelToken
from responses_client.events import Finished, ResponseRequest, TextDelta
from responses_client.retry import RetryPolicy, stream_with_retries
from tests.fakes.chat_completions import FakeChat, behaviour, running
from tests.upstream.test_cancel import blackhole  # noqa: F401  (the fixture)

KEY = "sk-test-CHATKEY0123456789abcdef"


@pytest.fixture
def fake() -> Iterator[FakeChat]:
    with running() as f:
        yield f


def make(base_url: str, **kw: Any) -> ChatCompletionsProvider:
    kw.setdefault("read_timeout", 30.0)
    return ChatCompletionsProvider(KEY, base_url=base_url, flavour="deepseek", **kw)


def req() -> ResponseRequest:
    return ResponseRequest(model="deepseek-v4-flash", input="hi", instructions="Be brief.")


class Consumer(threading.Thread):
    """Iterates a stream in another thread (through the app's retry policy, as the turn does)."""

    def __init__(self, provider: ChatCompletionsProvider, token: CancelToken) -> None:
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


def wait_for_request(fake: FakeChat) -> None:
    end = time.monotonic() + 5
    while not fake.requests and time.monotonic() < end:
        time.sleep(0.01)
    assert fake.requests


def stop(c: Consumer, token: CancelToken) -> float:
    started = time.monotonic()
    token.cancel()
    c.join(5)
    assert not c.is_alive() and c.error is None
    return time.monotonic() - started


def test_cancelled_before_the_call_sends_nothing(fake: FakeChat) -> None:
    p = make(fake.base_url)
    token = CancelToken()
    token.cancel()
    assert list(p.stream(req(), token)) == []
    assert fake.requests == []
    p.close()


def test_stop_while_connecting(blackhole: str) -> None:  # noqa: F811
    p = make(blackhole, connect_timeout=30.0)
    token = CancelToken()
    c = Consumer(p, token)
    c.start()
    time.sleep(0.5)  # the SYN sits unanswered
    assert c.is_alive()
    assert stop(c, token) < 5
    assert c.events == []
    p.close()


def test_stop_before_headers(fake: FakeChat) -> None:
    p = make(fake.base_url)
    fake.script([behaviour("silent", seconds=25)])
    token = CancelToken()
    c = Consumer(p, token)
    c.start()
    wait_for_request(fake)
    time.sleep(0.2)
    assert stop(c, token) < 5
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and rec.status == 0
    assert len(fake.requests) == 1
    p.close()


def test_stop_after_headers_before_the_first_chunk(fake: FakeChat) -> None:
    p = make(fake.base_url)
    fake.script([behaviour("stall_start")])
    token = CancelToken()
    c = Consumer(p, token)
    c.start()
    wait_for_request(fake)
    time.sleep(0.3)
    assert stop(c, token) < 5
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and rec.events_written == 0
    p.close()


def test_stop_mid_answer(fake: FakeChat) -> None:
    p = make(fake.base_url)
    fake.n_deltas = 400
    fake.delta_delay = 0.01
    token = CancelToken()
    c = Consumer(p, token)
    c.start()
    for _ in range(5):
        assert c.texts.acquire(timeout=5)
    assert stop(c, token) < 5
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and not rec.completed
    assert rec.events_written < 400 and len(fake.requests) == 1
    assert not any(isinstance(e, Finished) for e in c.events)
    p.close()


def test_stop_while_the_model_is_silent_mid_answer(fake: FakeChat) -> None:
    p = make(fake.base_url)
    fake.script([behaviour("stall", after=2)])
    token = CancelToken()
    c = Consumer(p, token)
    c.start()
    for _ in range(2):
        assert c.texts.acquire(timeout=5)
    time.sleep(0.2)
    assert stop(c, token) < 5
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and not rec.completed
    p.close()


def test_closing_the_generator_closes_the_connection(fake: FakeChat) -> None:
    p = make(fake.base_url)
    fake.n_deltas = 400
    fake.delta_delay = 0.01
    gen = p.stream(req())
    seen = 0
    for ev in gen:
        seen += isinstance(ev, TextDelta)
        if seen == 3:
            break
    gen.close()
    rec = fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and not rec.completed
    p.close()


def test_cancel_after_finish_is_harmless(fake: FakeChat) -> None:
    p = make(fake.base_url)
    token = CancelToken()
    assert isinstance(list(p.stream(req(), token))[-1], Finished)
    token.cancel()  # the pooled connection must not be shut under the next request
    assert isinstance(list(p.stream(req()))[-1], Finished)
    assert all(r.wait_done(5) for r in fake.requests)
    assert [r.completed for r in fake.requests] == [True, True]
    p.close()
