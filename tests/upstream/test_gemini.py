"""GeminiProvider (generateContent) with the real google-genai SDK against the fake Gemini upstream.

The exact request (path, version, key header, body casing), text, reasoning, usage and ids, the
options and the operator's safety settings, every error before and after HTTP 200, the blocked
prompt, the SAFETY cut and the stream's ends. Stops at each stage are in test_gemini_cancel.py.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from responses_client.adapters.gemini import GeminiProvider
from responses_client.errors import (
    AuthFailed,
    BadRequest,
    ContentBlocked,
    ContextTooLong,
    Interrupted,
    ProviderError,
    RateLimited,
    UnknownModel,
    UpstreamFailed,
    UpstreamUnavailable,
)
from responses_client.events import (
    Event,
    Finished,
    Idle,
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
    fake_gemini,  # noqa: F401  (the fixture)
)

KEY = "AIzaSyTEST-SENTINEL-0123456789abcdefXYZ"
MODEL = "gemini-3.5-flash"


@pytest.fixture
def fake(fake_gemini: FakeGemini) -> FakeGemini:  # noqa: F811
    """The started fake (alias)."""
    return fake_gemini


@pytest.fixture
def gemini(fake: FakeGemini) -> Iterator[GeminiProvider]:
    """A provider on the fake with the sentinel key and a 2 s read timeout."""
    p = GeminiProvider(KEY, base_url=fake.base_url, read_timeout=2.0)
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


# -- the request ---------------------------------------------------------------------------------


def test_request_path_headers_and_body(gemini: GeminiProvider, fake: FakeGemini) -> None:
    turns = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Again"},
    ]
    run(gemini, req(input=turns, max_output_tokens=300))
    rec = fake.last()
    # v1beta, not the SDK's default v1; the SSE form of the streaming method.
    assert rec.path == f"/v1beta/models/{MODEL}:streamGenerateContent"
    assert rec.query == {"alt": ["sse"]}
    assert rec.headers["x-goog-api-key"] == KEY
    assert "authorization" not in rec.headers
    assert rec.headers["user-agent"].startswith("google-genai-sdk/3.6.1 ")
    assert "x-server-timeout" not in rec.headers  # no whole-call deadline sent to the server
    body = rec.body
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "Hello."}]},
        {"role": "user", "parts": [{"text": "Again"}]},
    ]
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}], "role": "user"}
    assert body["generationConfig"] == {
        "maxOutputTokens": 300,
        "thinkingConfig": {"include_thoughts": True},  # snake case inside, as sent by the SDK
    }
    # Continuation and the tool loop are client-side switches: nothing of them is sent.
    raw = json.dumps(body)
    assert "continuation" not in raw.lower() and "function" not in raw.lower()
    assert set(body) == {"contents", "systemInstruction", "generationConfig"}


def test_models_prefix_and_api_version(fake: FakeGemini) -> None:
    p = GeminiProvider(KEY, base_url=fake.base_url, api_version="v1")
    try:
        run(p, req(model="models/gemini-3.5-flash"))
    finally:
        p.close()
    assert fake.last().path == "/v1/models/gemini-3.5-flash:streamGenerateContent"


def test_base_url_with_a_trailing_path_is_a_root(fake: FakeGemini) -> None:
    p = GeminiProvider(KEY, base_url=fake.base_url + "/")
    try:
        run(p, req())
    finally:
        p.close()
    assert fake.last().path == f"/v1beta/models/{MODEL}:streamGenerateContent"


def test_options_map_to_the_generation_config(gemini: GeminiProvider, fake: FakeGemini) -> None:
    options = {
        "temperature": 0.3,
        "top_p": 0.9,
        "reasoning_effort": "high",
        "max_output_tokens": 50,
        "verbosity": "low",  # not Gemini's: left out
    }
    run(gemini, req(options=options, max_output_tokens=200))
    config = fake.last().body["generationConfig"]
    assert config == {
        "temperature": 0.3,
        "topP": 0.9,
        "maxOutputTokens": 50,  # the user's option within the app's cap
        "thinkingConfig": {"include_thoughts": True, "thinking_level": "HIGH"},
    }


def test_gemini_2_takes_a_thinking_budget(gemini: GeminiProvider, fake: FakeGemini) -> None:
    run(gemini, req(model="gemini-2.5-flash", options={"thinking": "off"}))
    thinking = fake.last().body["generationConfig"]["thinkingConfig"]
    assert thinking == {"include_thoughts": False, "thinking_budget": 0}
    run(gemini, req(model="gemini-2.5-pro", options={"reasoning_effort": "low"}))
    thinking = fake.last().body["generationConfig"]["thinkingConfig"]
    assert thinking == {"include_thoughts": True, "thinking_budget": 1024}


def test_reasoning_summary_none_leaves_thoughts_out(
    gemini: GeminiProvider, fake: FakeGemini
) -> None:
    run(gemini, req(options={"reasoning_summary": "none"}))
    assert fake.last().body["generationConfig"]["thinkingConfig"] == {"include_thoughts": False}


def test_operator_safety_settings_from_the_providers_file(fake: FakeGemini) -> None:
    table = {"HARM_CATEGORY_HARASSMENT": "BLOCK_ONLY_HIGH"}  # the providers file's form
    p = GeminiProvider(KEY, base_url=fake.base_url)
    try:
        # The operator's options come with the request (the turn passes the file's section).
        run(p, req(provider_options={"safety_settings": table}))
        assert fake.last().body["safetySettings"] == [
            {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}
        ]
        mine = [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
        run(p, req(provider_options={"safety_settings": mine}))
        assert fake.last().body["safetySettings"] == mine
        run(p, req())
        assert "safetySettings" not in fake.last().body
    finally:
        p.close()


def test_unknown_operator_option_left_out(
    fake: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    p = GeminiProvider(KEY, base_url=fake.base_url)
    try:
        with caplog.at_level(logging.WARNING, "responses_client"):
            run(p, req(provider_options={"bogus": 1, "seed": 7}))
    finally:
        p.close()
    config = fake.last().body["generationConfig"]
    assert config["seed"] == 7 and "bogus" not in json.dumps(fake.last().body)
    assert "key=bogus" in caplog.text


# -- the answer ----------------------------------------------------------------------------------


def test_text_usage_and_identifiers(gemini: GeminiProvider, fake: FakeGemini) -> None:
    fake.model_version = "gemini-3.5-flash-002"
    fake.cached_tokens = 3
    events = run(gemini, req(model=MODEL))
    rec = fake.last()
    started = events[0]
    assert isinstance(started, ResponseStarted)
    assert started.response_id == rec.response_id
    assert started.model == "gemini-3.5-flash-002"
    assert started.request_id and started.request_id.startswith("req")
    assert texts(events) == DEFAULT_REPLY
    assert any(isinstance(e, Idle) for e in events)
    done = events[-1]
    assert isinstance(done, Finished)
    assert done.status == "completed" and done.reason is None and done.finish_reason == "STOP"
    assert done.response_id == rec.response_id
    n_out = len(fake.pieces(DEFAULT_REPLY))
    n_in = done.usage["input_tokens"] if done.usage else 0
    assert done.usage == {
        "input_tokens": n_in,
        "cached_tokens": 3,
        "cache_write_tokens": 0,
        "output_tokens": n_out,
        "reasoning_tokens": 0,
        "total_tokens": n_in + n_out,
    }
    assert done.metadata == {"service_tier": "ON_DEMAND"}
    assert sum(isinstance(e, Finished) for e in events) == 1


def test_request_id_header_is_kept(gemini: GeminiProvider, fake: FakeGemini) -> None:
    fake.script([behaviour("ok", request_id="req-abc123")])
    events = run(gemini, req())
    assert isinstance(events[0], ResponseStarted) and events[0].request_id == "req-abc123"


def test_thought_parts_are_reasoning(gemini: GeminiProvider, fake: FakeGemini) -> None:
    events = run(gemini, req(model="fake-thinking"))
    assert texts(events, ReasoningDelta) == DEFAULT_THOUGHT
    assert texts(events) == DEFAULT_REPLY  # the signed first part's text is the answer's
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    assert all(not isinstance(e, ReasoningDelta) for e in events[first_text:])
    done = events[-1]
    assert isinstance(done, Finished) and done.usage is not None
    thoughts = done.usage["reasoning_tokens"]
    assert thoughts > 0 and done.usage["output_tokens"] == thoughts + len(
        fake.pieces(DEFAULT_REPLY)
    )


def test_long_reply_of_many_deltas(gemini: GeminiProvider, fake: FakeGemini) -> None:
    fake.n_deltas = 500
    events = run(gemini, req())
    assert sum(isinstance(e, TextDelta) for e in events) == 500
    assert isinstance(events[-1], Finished) and events[-1].status == "completed"


def test_blocked_prompt_is_content_blocked(gemini: GeminiProvider, fake: FakeGemini) -> None:
    fake.script([behaviour("blocked", reason="PROHIBITED_CONTENT", request_id="req-blocked1")])
    events, err = fail(gemini, req())
    assert isinstance(err, ContentBlocked) and err.code == "content_blocked"
    assert err.upstream_code == "PROHIBITED_CONTENT" and err.request_id == "req-blocked1"
    assert not err.retryable and events == []  # never an empty success


def test_safety_cut_is_incomplete_content_filter(gemini: GeminiProvider, fake: FakeGemini) -> None:
    events = run(gemini, req(model="fake-safety-2"))
    assert texts(events) == "".join(fake.pieces(DEFAULT_REPLY)[:2])
    done = events[-1]
    assert isinstance(done, Finished)
    assert (done.status, done.reason, done.finish_reason) == (
        "incomplete",
        "content_filter",
        "SAFETY",
    )


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("SPII", "content_filter"),
        ("LANGUAGE", "other"),
        ("MALFORMED_FUNCTION_CALL", "other"),
        ("SOMETHING_NEW", "other"),
    ],
)
@pytest.mark.filterwarnings("ignore:SOMETHING_NEW is not a valid FinishReason")
def test_other_finish_reasons(
    gemini: GeminiProvider, fake: FakeGemini, finish: str, reason: str
) -> None:
    fake.script([behaviour("safety", reason=finish)])
    done = run(gemini, req())[-1]
    assert isinstance(done, Finished)
    assert (done.status, done.reason, done.finish_reason) == ("incomplete", reason, finish)


def test_max_tokens_is_incomplete(gemini: GeminiProvider, fake: FakeGemini) -> None:
    done = run(gemini, req(model="fake-max_tokens"))[-1]
    assert isinstance(done, Finished)
    assert (done.status, done.reason, done.finish_reason) == (
        "incomplete",
        "max_output_tokens",
        "MAX_TOKENS",
    )


def test_stop_without_any_text_is_not_a_success(gemini: GeminiProvider, fake: FakeGemini) -> None:
    done = run(gemini, req(model="fake-empty"))[-1]
    assert isinstance(done, Finished)
    assert (done.status, done.reason, done.finish_reason) == ("incomplete", "other", "STOP")


# -- errors before HTTP 200 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "cls", "status", "upstream_code", "cause"),
    [
        ("429", RateLimited, 429, "RESOURCE_EXHAUSTED", None),
        ("500", UpstreamUnavailable, 500, "INTERNAL", "server_error"),
        ("503", UpstreamUnavailable, 503, "UNAVAILABLE", "overloaded"),
        ("504", UpstreamUnavailable, 504, "DEADLINE_EXCEEDED", "timeout"),
        ("badkey", AuthFailed, 400, "API_KEY_INVALID", None),
        ("401", AuthFailed, 401, "UNAUTHENTICATED", None),
        ("403", AuthFailed, 403, "PERMISSION_DENIED", None),
        ("404", UnknownModel, 404, "NOT_FOUND", None),
        ("context", ContextTooLong, 400, "INVALID_ARGUMENT", None),
        ("400", BadRequest, 400, "INVALID_ARGUMENT", None),
    ],
)
def test_status_errors(
    gemini: GeminiProvider,
    fake: FakeGemini,
    kind: str,
    cls: type[ProviderError],
    status: int,
    upstream_code: str,
    cause: str | None,
) -> None:
    fake.script([behaviour(kind, request_id="req-err-1")])
    events, err = fail(gemini, req())
    assert type(err) is cls
    assert (err.status, err.upstream_code, err.cause) == (status, upstream_code, cause)
    assert err.request_id == "req-err-1" and events == []
    assert len(fake.requests) == 1  # the SDK never retries (HttpRetryOptions(attempts=1))
    assert KEY not in str(err) and KEY not in repr(err)
    assert str(err) == cls.safe_message  # no upstream text
    assert err.__cause__ is None and err.__suppress_context__  # no SDK exception behind it


def test_429_retry_after_header_or_retry_info(gemini: GeminiProvider, fake: FakeGemini) -> None:
    fake.script([behaviour("429", retry_after="3"), behaviour("429", retry_delay="12s")])
    _, first = fail(gemini, req())
    _, second = fail(gemini, req())
    assert first.retry_after == 3.0  # the header wins
    assert second.retry_after == 12.0  # google.rpc.RetryInfo.retryDelay
    assert first.retryable and second.retryable


def test_connection_refused_is_unreachable() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    p = GeminiProvider(KEY, base_url=f"http://127.0.0.1:{port}")
    try:
        _, err = fail(p, req())
    finally:
        p.close()
    assert isinstance(err, UpstreamUnavailable) and err.cause == "unreachable"


def test_silent_before_first_chunk_times_out(fake: FakeGemini) -> None:
    # The SDK sends every request with timeout=None (no limit); the adapter's own read timeout
    # still applies.
    p = GeminiProvider(KEY, base_url=fake.base_url, read_timeout=0.5)
    fake.script([behaviour("stall_start", seconds=10)])
    try:
        _, err = fail(p, req())
    finally:
        p.close()
    assert isinstance(err, UpstreamUnavailable) and err.cause == "timeout"


# -- after HTTP 200 ------------------------------------------------------------------------------


def test_error_chunk_after_200_is_upstream_error(gemini: GeminiProvider, fake: FakeGemini) -> None:
    events, err = fail(gemini, req(model="fake-error_after-2"))
    assert type(err) is UpstreamFailed and err.code == "upstream_error"
    assert err.status is None and err.upstream_code == "INTERNAL"
    assert texts(events) == "".join(fake.pieces(DEFAULT_REPLY)[:2])


def test_rate_limit_chunk_after_200(gemini: GeminiProvider, fake: FakeGemini) -> None:
    fake.script([behaviour("error_after", after=0, code=429)])
    _events, err = fail(gemini, req())
    assert type(err) is RateLimited and err.upstream_code == "RESOURCE_EXHAUSTED"


def test_dropped_connection(gemini: GeminiProvider, fake: FakeGemini) -> None:
    events, err = fail(gemini, req(model="fake-reset-3"))
    assert type(err) is Interrupted and texts(events)
    fake.script([behaviour("reset", after=0)])
    events, err = fail(gemini, req())
    # Nothing of the answer had come: the app may fall back or retry.
    assert type(err) is UpstreamUnavailable and not texts(events)
    assert len(fake.requests) == 2  # no automatic continuation after the drop


def test_stream_ending_without_finish_reason(gemini: GeminiProvider, fake: FakeGemini) -> None:
    _events, err = fail(gemini, req(model="fake-truncated-2"))
    assert type(err) is Interrupted and err.upstream_code == "stream_ended_early"
    fake.script([behaviour("truncated", after=0)])
    _, err = fail(gemini, req())
    assert type(err) is UpstreamUnavailable and err.upstream_code == "stream_ended_early"


def test_unreadable_thought_signature(gemini: GeminiProvider, fake: FakeGemini) -> None:
    # The SDK validates thoughtSignature as base64 bytes: a bad one fails the chunk.
    events, err = fail(gemini, req(model="fake-bad_signature"))
    assert type(err) is UpstreamUnavailable and err.upstream_code == "malformed_event"
    assert not texts(events)


def test_missing_response_id(gemini: GeminiProvider, fake: FakeGemini) -> None:
    events, err = fail(gemini, req(model="fake-no_id"))
    assert type(err) is UpstreamUnavailable and err.upstream_code == "missing_response_id"
    assert events == []


def test_stall_mid_answer_times_out(fake: FakeGemini) -> None:
    p = GeminiProvider(KEY, base_url=fake.base_url, read_timeout=0.5)
    try:
        events, err = fail(p, req(model="fake-stall-2"))
    finally:
        p.close()
    assert type(err) is Interrupted and texts(events)
    rec = fake.last()
    assert rec.wait_done(5) and rec.client_closed


def test_only_our_objects_come_out(gemini: GeminiProvider, fake: FakeGemini) -> None:
    events = run(gemini, req(model="fake-thinking"))
    for ev in events:
        assert type(ev).__module__ == "responses_client.events"
        for value in vars(ev).values():
            assert type(value).__module__ in ("builtins",), (ev, value)


def test_an_operator_option_the_sdk_refuses_is_a_bad_request(fake: FakeGemini) -> None:
    p = GeminiProvider(KEY, base_url=fake.base_url)
    try:
        events, err = fail(p, req(provider_options={"seed": "not a number"}))
    finally:
        p.close()
    assert type(err) is BadRequest and err.upstream_code == "invalid_request"
    assert events == [] and fake.requests == []  # refused before anything was sent


def test_echoed_strings_holding_the_key_are_dropped(
    gemini: GeminiProvider, fake: FakeGemini
) -> None:
    fake.model_version = f"gemini-{KEY}"
    fake.script([behaviour("ok", request_id=f"req-{KEY}")])
    events = run(gemini, req())
    started, done = events[0], events[-1]
    assert isinstance(started, ResponseStarted) and isinstance(done, Finished)
    assert started.model is None and started.request_id is None
    assert done.model is None
    assert KEY not in repr(events)


@pytest.mark.parametrize("model", ["gemini-2.0-flash", "gemma-3-27b-it", "models/gemini-1.5-pro"])
def test_no_thinking_config_for_models_that_do_not_think(
    gemini: GeminiProvider, fake: FakeGemini, model: str
) -> None:
    run(gemini, req(model=model, options={"reasoning_effort": "high"}))
    assert "thinkingConfig" not in fake.last().body.get("generationConfig", {})
