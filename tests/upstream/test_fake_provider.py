"""The in-process FakeProvider: scripts, what it records, holds, thread safety, the Provider protocol."""

from __future__ import annotations

import threading
import time

import pytest

from responses_client import (
    CancelToken,
    Capabilities,
    ContextTooLong,
    FakeProvider,
    Finished,
    Idle,
    OpenAIProvider,
    Provider,
    RateLimited,
    ReasoningDelta,
    ResponseRequest,
    ResponseStarted,
    TextDelta,
)


def req(model: str = "m", text: str = "hi") -> ResponseRequest:
    return ResponseRequest(model, text, "Be brief.")


def test_both_providers_satisfy_the_protocol() -> None:
    fake = FakeProvider()
    real = OpenAIProvider("k", base_url="http://127.0.0.1:9/v1")
    try:
        for p in (fake, real):
            assert isinstance(p, Provider)
            assert isinstance(p.capabilities, Capabilities)
            assert p.capabilities.stateful is p.stateful
        assert fake.capabilities.protocol == "fake" and real.capabilities.protocol == "responses"
    finally:
        real.close()


def test_reply_streams_words_then_idle_then_finished() -> None:
    fake = FakeProvider()
    fake.enqueue_reply("Hello there world", reasoning="Thinking.")
    events = list(fake.stream(req()))
    assert events[0] == ResponseStarted("resp_fake_1", "m", "req_fake_1")
    assert events[1] == ReasoningDelta("Thinking.")
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello ", "there ", "world"]
    assert isinstance(events[-2], Idle)
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.status == "completed"
    assert fin.response_id == "resp_fake_1" and fin.model == "m"
    assert fin.usage is not None and fin.usage["total_tokens"] > 0
    assert fake.requests == [req()] and fake.streams_opened == 1


def test_reply_options() -> None:
    fake = FakeProvider(name="other", stateful=False)
    usage = {
        "input_tokens": 1,
        "cached_tokens": 0,
        "output_tokens": 2,
        "reasoning_tokens": 0,
        "total_tokens": 3,
    }
    fake.enqueue_reply(
        "abcdef", response_id="resp_x", usage=usage, status="incomplete", chunks=["ab", "cdef"]
    )
    events = list(fake.stream(req()))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["ab", "cdef"]
    fin = events[-1]
    assert isinstance(fin, Finished)
    assert (fin.response_id, fin.usage, fin.status, fin.reason) == (
        "resp_x",
        usage,
        "incomplete",
        "max_output_tokens",
    )
    with pytest.raises(ValueError):
        fake.enqueue_reply("abc", chunks=["x"])


def test_events_and_errors_in_order() -> None:
    fake = FakeProvider()
    fake.enqueue_events([ResponseStarted("r", "m"), TextDelta("a"), RateLimited(status=429)])
    fake.enqueue_error(RateLimited(retry_after=1.0))
    got: list[object] = []
    with pytest.raises(RateLimited) as first:
        for ev in fake.stream(req()):
            got.append(ev)
    assert got == [ResponseStarted("r", "m"), TextDelta("a")] and first.value.status == 429
    with pytest.raises(RateLimited) as second:
        next(iter(fake.stream(req())))
    assert second.value.retry_after == 1.0
    assert len(fake.requests) == 2


def test_nothing_enqueued_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="FakeProvider: nothing enqueued"):
        list(FakeProvider().stream(req()))


def test_hold_blocks_until_cancelled() -> None:
    fake = FakeProvider()
    fake.enqueue_hold()
    token = CancelToken()
    events: list[object] = []
    t = threading.Thread(target=lambda: events.extend(fake.stream(req(), token)))
    t.start()
    time.sleep(0.2)
    assert t.is_alive() and len(events) == 1 and isinstance(events[0], ResponseStarted)
    token.cancel()
    t.join(5)
    assert not t.is_alive() and len(events) == 1


def test_capabilities_checked_before_anything_is_sent() -> None:
    fake = FakeProvider(
        capabilities=Capabilities("fake", True, context_window=100, max_output_tokens=50)
    )
    fake.enqueue_reply("never")
    with pytest.raises(ContextTooLong):
        list(fake.stream(req(text="x" * 400)))
    assert fake.requests == [] and fake.pending() == 1
    assert list(fake.stream(req(text="short")))[-1]


def test_thread_safe_under_concurrent_streams() -> None:
    fake = FakeProvider()
    for i in range(50):
        fake.enqueue_reply(f"reply {i}")
    texts: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        text = "".join(e.text for e in fake.stream(req()) if isinstance(e, TextDelta))
        with lock:
            texts.append(text)

    threads = [threading.Thread(target=one) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(texts) == sorted(f"reply {i}" for i in range(50))
    assert fake.streams_opened == 50 and len(fake.requests) == 50 and fake.pending() == 0
