"""A stateful GeminiProvider speaks the Interactions API: real SDK, fake upstream.

The request (path, key header, snake_case body, steps, safety settings in the Interactions form),
chaining by `previous_interaction_id` (an unknown one is `PreviousResponseNotFound`), thought
summaries as reasoning, usage, every error before and after HTTP 200, and the stream's ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from responses_client.adapters.gemini import GeminiProvider
from responses_client.adapters.gemini_interactions import InteractionsCall
from responses_client.errors import (
    AuthFailed,
    BadRequest,
    Interrupted,
    PreviousResponseNotFound,
    ProviderError,
    RateLimited,
    UnknownModel,
    UpstreamFailed,
    UpstreamUnavailable,
)
from responses_client.events import (
    Event,
    Finished,
    ReasoningDelta,
    ResponseRequest,
    ResponseStarted,
    TextDelta,
)
from tests.fakes.gemini import (
    DEFAULT_REPLY,
    DEFAULT_THOUGHT,
    FakeGemini,
    behaviour,
    fake_gemini,  # noqa: F401
)

KEY = "AIzaSyTEST-SENTINEL-0123456789abcdefXYZ"
MODEL = "gemini-3.5-flash"


@pytest.fixture
def fake(fake_gemini: FakeGemini) -> FakeGemini:  # noqa: F811
    """The started fake (alias)."""
    return fake_gemini


@pytest.fixture
def gemini(fake: FakeGemini) -> Iterator[GeminiProvider]:
    """A stateful provider on the fake."""
    p = GeminiProvider(KEY, base_url=fake.base_url, stateful=True, read_timeout=2.0)
    yield p
    p.close()


def req(model: str = MODEL, **kw: Any) -> ResponseRequest:
    fields: dict[str, Any] = {"input": "hi", "instructions": "Be brief."}
    fields.update(kw)
    return ResponseRequest(model=model, **fields)


def run(provider: GeminiProvider, request: ResponseRequest) -> list[Event]:
    return list(provider.stream(request))


def texts(events: list[Event], kind: type[TextDelta] | type[ReasoningDelta] = TextDelta) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


def fail(provider: GeminiProvider, request: ResponseRequest) -> tuple[list[Event], ProviderError]:
    events: list[Event] = []
    with pytest.raises(ProviderError) as info:
        for ev in provider.stream(request):
            events.append(ev)
    return events, info.value


def test_capabilities_say_stateful(gemini: GeminiProvider) -> None:
    assert gemini.stateful and gemini.capabilities.stateful
    assert gemini.capabilities.protocol == "gemini"


def test_request_shape(gemini: GeminiProvider, fake: FakeGemini) -> None:
    turns = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Again"},
    ]
    options = {"temperature": 0.2, "reasoning_effort": "low", "max_output_tokens": 64}
    run(gemini, req(model="models/gemini-3.5-flash", input=turns, options=options))
    rec = fake.last()
    assert rec.path == "/v1beta/interactions"
    assert rec.headers["x-goog-api-key"] == KEY and "authorization" not in rec.headers
    assert rec.headers["accept"] == "text/event-stream"
    assert "api-revision" not in rec.headers  # the SDK (3.6.1) sends none
    assert rec.body == {
        "model": MODEL,  # no `models/` prefix on Interactions
        "input": [
            {"type": "user_input", "content": [{"type": "text", "text": "hi"}]},
            {"type": "model_output", "content": [{"type": "text", "text": "Hello."}]},
            {"type": "user_input", "content": [{"type": "text", "text": "Again"}]},
        ],
        "system_instruction": "Be brief.",
        "generation_config": {
            "max_output_tokens": 64,
            "temperature": 0.2,
            "thinking_level": "low",
            "thinking_summaries": "auto",
        },
        "store": True,
        "stream": True,
    }


def test_safety_settings_in_the_interactions_form(fake: FakeGemini) -> None:
    table = {"HARM_CATEGORY_HARASSMENT": "BLOCK_ONLY_HIGH"}
    p = GeminiProvider(KEY, base_url=fake.base_url, stateful=True)
    try:
        run(p, req(provider_options={"safety_settings": table}))
    finally:
        p.close()
    assert fake.last().body["safety_settings"] == [
        {"type": "harassment", "threshold": "block_only_high"}
    ]


def test_text_usage_ids_and_chaining(gemini: GeminiProvider, fake: FakeGemini) -> None:
    first = run(gemini, req())
    started, done = first[0], first[-1]
    assert isinstance(started, ResponseStarted) and isinstance(done, Finished)
    assert started.response_id == fake.last().response_id
    assert started.response_id.startswith("v1_")
    assert started.request_id and started.model == MODEL
    assert texts(first) == DEFAULT_REPLY
    assert done.status == "completed" and done.response_id == started.response_id
    assert done.metadata == {"service_tier": "standard"}
    assert done.usage is not None and done.usage["output_tokens"] == len(fake.pieces(DEFAULT_REPLY))
    # The next turn chains from it: only the new message is sent.
    second = run(gemini, req(input="And then?", previous_response_id=started.response_id))
    body = fake.last().body
    assert body["previous_interaction_id"] == started.response_id
    assert body["input"] == "And then?"
    assert isinstance(second[-1], Finished) and second[-1].status == "completed"


def test_an_expired_chain_is_previous_response_not_found(
    gemini: GeminiProvider, fake: FakeGemini
) -> None:
    events = run(gemini, req())
    rid = events[0].response_id if isinstance(events[0], ResponseStarted) else ""
    fake.forget(rid)
    events, err = fail(gemini, req(previous_response_id=rid))
    assert type(err) is PreviousResponseNotFound and err.status == 404
    assert err.upstream_code == "not_found" and events == []
    assert len(fake.requests) == 2  # no retry


def test_a_404_without_a_chain_is_unknown_model(gemini: GeminiProvider, fake: FakeGemini) -> None:
    _, err = fail(gemini, req(model="fake-404"))
    assert type(err) is UnknownModel


def test_store_false_is_sent(gemini: GeminiProvider, fake: FakeGemini) -> None:
    run(gemini, req(store=False))
    assert fake.last().body["store"] is False


def test_thought_summaries_are_reasoning(gemini: GeminiProvider, fake: FakeGemini) -> None:
    events = run(gemini, req(model="fake-thinking"))
    assert texts(events, ReasoningDelta) == DEFAULT_THOUGHT
    assert texts(events) == DEFAULT_REPLY
    done = events[-1]
    assert isinstance(done, Finished) and done.usage is not None
    assert done.usage["reasoning_tokens"] > 0
    assert done.usage["output_tokens"] == done.usage["reasoning_tokens"] + len(
        fake.pieces(DEFAULT_REPLY)
    )


def test_incomplete_and_empty(gemini: GeminiProvider, fake: FakeGemini) -> None:
    done = run(gemini, req(model="fake-max_tokens"))[-1]
    assert isinstance(done, Finished)
    assert (done.status, done.reason, done.finish_reason) == ("incomplete", "other", "incomplete")
    done = run(gemini, req(model="fake-empty"))[-1]
    assert isinstance(done, Finished)
    assert (done.status, done.reason) == ("incomplete", "other")  # never an empty success


@pytest.mark.parametrize(
    ("kind", "cls", "status", "upstream_code"),
    [
        ("429", RateLimited, 429, "RESOURCE_EXHAUSTED"),
        ("503", UpstreamUnavailable, 503, "UNAVAILABLE"),
        ("badkey", AuthFailed, 400, "API_KEY_INVALID"),
        ("401", AuthFailed, 401, "UNAUTHENTICATED"),
        ("403", AuthFailed, 403, "PERMISSION_DENIED"),
        ("400", BadRequest, 400, "INVALID_ARGUMENT"),
    ],
)
def test_status_errors(
    gemini: GeminiProvider,
    fake: FakeGemini,
    kind: str,
    cls: type[ProviderError],
    status: int,
    upstream_code: str,
) -> None:
    fake.script([behaviour(kind, request_id="req-int-1")])
    events, err = fail(gemini, req())
    assert type(err) is cls and (err.status, err.upstream_code) == (status, upstream_code)
    assert err.request_id == "req-int-1" and events == []
    # The Interactions client's own default is 4 retries; the adapter turns them off.
    assert len(fake.requests) == 1
    assert KEY not in str(err) and KEY not in repr(err) and str(err) == cls.safe_message
    assert err.__cause__ is None and err.__suppress_context__


def test_error_event_after_200(gemini: GeminiProvider, fake: FakeGemini) -> None:
    events, err = fail(gemini, req(model="fake-error_after-2"))
    assert type(err) is UpstreamFailed and err.upstream_code == "internal"
    assert texts(events) == "".join(fake.pieces(DEFAULT_REPLY)[:2])
    fake.script([behaviour("error_after", after=0, error_code="resource_exhausted")])
    _, err = fail(gemini, req())
    assert type(err) is RateLimited


def test_dropped_and_truncated_streams(gemini: GeminiProvider, fake: FakeGemini) -> None:
    events, err = fail(gemini, req(model="fake-reset-3"))
    assert type(err) is Interrupted and texts(events)
    fake.script([behaviour("truncated", after=0)])
    _, err = fail(gemini, req())
    assert type(err) is UpstreamUnavailable and err.upstream_code == "stream_ended_early"
    assert len(fake.requests) == 2  # no automatic continuation


def test_connection_refused(fake: FakeGemini) -> None:
    fake.stop()
    p = GeminiProvider(KEY, base_url=fake.base_url, stateful=True)
    try:
        _, err = fail(p, req())
    finally:
        p.close()
    assert type(err) is UpstreamUnavailable and err.cause == "unreachable"


def test_read_timeout_mid_answer(fake: FakeGemini) -> None:
    p = GeminiProvider(KEY, base_url=fake.base_url, stateful=True, read_timeout=0.5)
    try:
        events, err = fail(p, req(model="fake-stall-2"))
    finally:
        p.close()
    assert type(err) is Interrupted and texts(events)


def test_only_our_objects_come_out(gemini: GeminiProvider) -> None:
    for ev in run(gemini, req(model="fake-thinking")):
        assert type(ev).__module__ == "responses_client.events"
        for value in vars(ev).values():
            assert type(value).__module__ == "builtins", (ev, value)


def test_a_not_found_event_on_a_chained_turn(gemini: GeminiProvider, fake: FakeGemini) -> None:
    first = run(gemini, req())
    rid = first[0].response_id if isinstance(first[0], ResponseStarted) else ""
    fake.script([behaviour("error_after", after=0, error_code="not_found")])
    _, err = fail(gemini, req(previous_response_id=rid))
    assert type(err) is PreviousResponseNotFound and err.upstream_code == "not_found"


def test_thinking_fields_follow_the_options(gemini: GeminiProvider, fake: FakeGemini) -> None:
    run(gemini, req(options={"reasoning_summary": "none"}))
    assert fake.last().body["generation_config"] == {"thinking_summaries": "none"}
    run(gemini, req(model="gemini-2.0-flash", options={"reasoning_effort": "high"}))
    assert "generation_config" not in fake.last().body


def test_other_operator_options_are_forwarded(
    gemini: GeminiProvider, fake: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    operator = {
        "service_tier": "flex",
        "response_modalities": ["text"],
        "model": "gemini-other",  # the adapter's own field: left out, named by key only
        "store": "SECRET-VALUE",
    }
    with caplog.at_level(logging.WARNING, "responses_client"):
        run(gemini, req(provider_options=operator))
    body = fake.last().body
    assert body["service_tier"] == "flex" and body["response_modalities"] == ["text"]
    assert body["model"] == MODEL and body["store"] is True
    assert "key=model" in caplog.text and "key=store" in caplog.text
    assert "SECRET-VALUE" not in caplog.text and "gemini-other" not in caplog.text


def test_our_own_bug_is_not_disguised_as_upstream_unavailable(
    gemini: GeminiProvider, fake: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bug while building the call (here a KeyError) must surface as itself, not as a
    # retryable upstream_unavailable that hides it behind retries and a fallback.
    def broken(self: InteractionsCall, request: ResponseRequest, operator: Any) -> dict[str, Any]:
        raise KeyError("bug")

    monkeypatch.setattr(InteractionsCall, "body", broken)
    with pytest.raises(KeyError):
        run(gemini, req())
    assert fake.requests == []
