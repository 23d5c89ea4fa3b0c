"""AnthropicProvider with the real anthropic SDK against the fake Messages API on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from responses_client.adapters.anthropic_messages import AnthropicProvider
from responses_client.cancel import CancelToken
from responses_client.capabilities import Capabilities
from responses_client.errors import (
    AuthFailed,
    BadRequest,
    ContextTooLong,
    Interrupted,
    PreviousResponseNotFound,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UnknownModel,
    UpstreamFailed,
    UpstreamUnavailable,
)
from responses_client.events import (
    Finished,
    Idle,
    ReasoningDelta,
    ResponseRequest,
    ResponseStarted,
    TextDelta,
)
from responses_client.retry import RetryPolicy, stream_with_retries
from tests.fakes.anthropic import (
    DEFAULT_REPLY,
    DEFAULT_THINKING,
    INJECTION_TEXT,
    THREADS_BETA,
    FakeAnthropic,
    behaviour,
    fake_anthropic,  # noqa: F401  (the fixture)
)

KEY = "sk-ant-test-SENTINEL0123456789abcdefXYZ"
NEUTRAL = (ResponseStarted, TextDelta, ReasoningDelta, Idle, Finished)


@pytest.fixture
def upstream(fake_anthropic: FakeAnthropic) -> FakeAnthropic:  # noqa: F811
    """The started fake (alias)."""
    return fake_anthropic


@pytest.fixture
def claude(upstream: FakeAnthropic) -> Iterator[AnthropicProvider]:
    """A stateless adapter with the sentinel key and a 2 s read timeout."""
    p = AnthropicProvider(KEY, base_url=upstream.base_url, read_timeout=2.0)
    yield p
    p.close()


@pytest.fixture
def threads(upstream: FakeAnthropic) -> Iterator[AnthropicProvider]:
    """A stateful adapter: replies chain through message threads."""
    p = AnthropicProvider(KEY, base_url=upstream.base_url, read_timeout=2.0, stateful=True)
    yield p
    p.close()


def req(model: str = "claude-sonnet-5-5", **kw: Any) -> ResponseRequest:
    kw.setdefault("input", "hi")
    kw.setdefault("instructions", "Be brief.")
    return ResponseRequest(model=model, **kw)


def collect(p: AnthropicProvider, request: ResponseRequest) -> list[Any]:
    events = list(p.stream(request))
    assert all(isinstance(e, NEUTRAL) for e in events)  # no SDK object escapes
    return [e for e in events if not isinstance(e, Idle)]


def texts(events: list[Any], kind: type = TextDelta) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


# -- the exact request -----------------------------------------------------------------------


def test_exact_request(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    collect(claude, req())
    rec = upstream.last()
    assert rec.method == "POST" and rec.path == "/v1/messages"
    assert rec.headers["authorization"] == f"Bearer {KEY}"
    assert "x-api-key" not in rec.headers
    assert rec.headers["anthropic-version"] == "2026-10-21"
    assert "anthropic-beta" not in rec.headers
    assert rec.headers["x-stainless-retry-count"] == "0"
    assert rec.body == {
        "model": "claude-sonnet-5-5",
        "max_tokens": 8192,
        "messages": [{"role": "user", "content": "hi"}],
        "system": "Be brief.",
        "stream": True,
    }


def test_never_temperature_or_top_p(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    options = {"temperature": 0.2, "top_p": 0.9, "verbosity": "low"}
    operator = {"temperature": 1.0, "top_k": 5, "metadata": {"user_id": "u1"}, "model": "x"}
    events = collect(claude, req(options=options, provider_options=operator))
    assert isinstance(events[-1], Finished)
    body = upstream.last().body
    assert not {"temperature", "top_p", "top_k", "verbosity"} & set(body)
    assert body["metadata"] == {"user_id": "u1"} and body["model"] == "claude-sonnet-5-5"


def test_operator_options_from_the_file(upstream: FakeAnthropic) -> None:
    operator = {"service_tier": "auto", "thinking": {"type": "disabled"}, "top_p": 0.5}
    p = AnthropicProvider(KEY, base_url=upstream.base_url)
    # The operator's options come with the request (the turn passes the file's section).
    collect(p, req(provider_options=operator))
    body = upstream.last().body
    assert body["service_tier"] == "auto" and body["thinking"] == {"type": "disabled"}
    assert "top_p" not in body
    collect(p, req(options={"thinking": "adaptive"}, provider_options=operator))
    body = upstream.last().body
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}  # the user's
    assert body["service_tier"] == "auto"
    collect(p, req())
    assert "service_tier" not in upstream.last().body
    p.close()


def test_turns_become_messages(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    turns = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "assistant", "content": ""},  # a reply with no text: the API refuses it
        {"role": "user", "content": "three"},
    ]
    collect(claude, req(input=turns, instructions=None))
    body = upstream.last().body
    assert body["messages"] == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
    ]
    assert "system" not in body


def test_max_tokens_always_set(upstream: FakeAnthropic) -> None:
    limits = {"claude-opus-5-5": 128_000}
    p = AnthropicProvider(KEY, base_url=upstream.base_url, output_limit=limits.get)
    collect(p, req(max_output_tokens=1000))
    assert upstream.last().body["max_tokens"] == 1000
    collect(p, req(max_output_tokens=1000, options={"max_output_tokens": 300}))
    assert upstream.last().body["max_tokens"] == 300
    collect(p, req(model="claude-opus-5-5"))
    assert upstream.last().body["max_tokens"] == 128_000
    collect(p, req(model="claude-unknown"))
    assert upstream.last().body["max_tokens"] == 8192
    p.close()
    caps = Capabilities(protocol="anthropic", stateful=False, max_output_tokens=64_000)
    q = AnthropicProvider(KEY, base_url=upstream.base_url, capabilities=caps, default_max_tokens=5)
    collect(q, req())
    assert upstream.last().body["max_tokens"] == 64_000
    q.close()


def test_max_tokens_model_limit_below_the_cap(upstream: FakeAnthropic) -> None:
    # The app's cap (or the user's option) above the model's limit would be refused with a 400.
    limits = {"claude-haiku-5-5": 4096}
    p = AnthropicProvider(KEY, base_url=upstream.base_url, output_limit=limits.get)
    collect(p, req(model="claude-haiku-5-5", max_output_tokens=32_000))
    assert upstream.last().body["max_tokens"] == 4096
    options = {"max_output_tokens": 10_000}
    collect(p, req(model="claude-haiku-5-5", max_output_tokens=32_000, options=options))
    assert upstream.last().body["max_tokens"] == 4096
    collect(p, req(model="claude-haiku-5-5", max_output_tokens=2000))
    assert upstream.last().body["max_tokens"] == 2000
    p.close()


@pytest.mark.parametrize(
    ("model", "options", "thinking", "effort"),
    [
        ("claude-sonnet-5-5", {"thinking": "on"}, {"type": "adaptive", "display": "summarized"}, None),
        ("claude-sonnet-5-5", {"thinking": "adaptive", "reasoning_summary": "none"},
         {"type": "adaptive", "display": "omitted"}, None),
        # Sonnet 5.5 turns thinking off with between_tools (providers.md §1.8); older: disabled.
        ("claude-sonnet-5-5", {"thinking": "off"}, {"type": "between_tools"}, None),
        ("claude-haiku-4-5", {"thinking": "off"}, {"type": "disabled"}, None),
        ("claude-sonnet-4-5", {"thinking": "on"},
         {"type": "enabled", "budget_tokens": 4096, "display": "summarized"}, None),
        ("claude-opus-4-6", {"thinking": "on"}, {"type": "adaptive", "display": "summarized"}, None),
        ("claude-sonnet-5-5", {"reasoning_effort": "minimal"}, None, "low"),
        ("claude-sonnet-5-5", {"reasoning_effort": "max"}, None, "max"),
        ("claude-sonnet-5-5", {"reasoning_effort": "bogus"}, None, None),
    ],
)  # fmt: skip
def test_thinking_and_effort_options(
    claude: AnthropicProvider,
    upstream: FakeAnthropic,
    model: str,
    options: dict[str, str],
    thinking: dict[str, Any] | None,
    effort: str | None,
) -> None:
    collect(claude, req(model=model, options=options))
    body = upstream.last().body
    assert body.get("thinking") == thinking
    assert body.get("output_config") == ({"effort": effort} if effort else None)


def test_the_environment_changes_nothing(
    upstream: FakeAnthropic, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    p = AnthropicProvider(KEY, base_url=upstream.base_url)
    collect(p, req())
    clean = upstream.last()
    p.close()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-key-0000000000")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "env-token-000000000")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv(
        "ANTHROPIC_CUSTOM_HEADERS",
        "X-Leak: 1\nanthropic-version: 2023-06-01\nAuthorization: Bearer env\nx-api-key: env",
    )
    monkeypatch.setenv("ANTHROPIC_PROFILE", "nope")
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE", "content")
    p = AnthropicProvider(KEY, base_url=upstream.base_url)
    assert isinstance(collect(p, req())[-1], Finished)
    env = upstream.last()
    p.close()
    assert env.body == clean.body
    assert {k: v for k, v in env.headers.items() if k not in ("host", "content-length")} == {
        k: v for k, v in clean.headers.items() if k not in ("host", "content-length")
    }
    assert "x-leak" not in env.headers and "x-api-key" not in env.headers
    assert env.headers["anthropic-version"] == "2026-10-21"
    assert env.headers["authorization"] == f"Bearer {KEY}"
    # Without a base URL the adapter names Anthropic's own, never ANTHROPIC_BASE_URL's.
    q = AnthropicProvider(KEY)
    assert q.base_url == "https://api.anthropic.com"
    q.close()


# -- what comes back ---------------------------------------------------------------------------


def test_text_ids_and_usage(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    upstream.cache_read, upstream.cache_write = 40, 12
    events = collect(claude, req())
    started, fin = events[0], events[-1]
    assert isinstance(started, ResponseStarted) and isinstance(fin, Finished)
    assert [type(e) for e in events].count(Finished) == 1
    rec = upstream.last()
    assert started.response_id == rec.response_id and started.response_id.startswith("msg_")
    assert started.request_id and started.request_id.startswith("req_")
    assert started.model == "claude-sonnet-5-5"
    assert started.metadata["ratelimit_remaining_requests"] == 49
    assert started.metadata["ratelimit_remaining_tokens"] == 79000
    assert started.metadata["service_tier"] == "standard"
    assert texts(events) == DEFAULT_REPLY
    assert fin.status == "completed" and fin.finish_reason == "end_turn"
    assert fin.response_id == started.response_id
    usage = fin.usage
    assert usage is not None
    fresh = usage["input_tokens"] - 40 - 12
    assert fresh > 0  # the wire's input_tokens, made inclusive of cache reads and writes
    assert usage["cached_tokens"] == 40 and usage["cache_write_tokens"] == 12
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["reasoning_tokens"] == 0


def test_thinking_is_reasoning(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    upstream.script(["thinking"])
    events = collect(claude, req())
    assert texts(events, ReasoningDelta) == "\n\n".join(DEFAULT_THINKING)
    assert texts(events) == DEFAULT_REPLY  # no thinking and no signature in the answer
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    assert all(not isinstance(e, ReasoningDelta) for e in events[first_text:])
    fin = events[-1]
    assert fin.usage["reasoning_tokens"] > 0
    assert fin.usage["reasoning_tokens"] <= fin.usage["output_tokens"]


@pytest.mark.parametrize(
    ("kind", "reason", "raw"),
    [
        ("max_tokens", "max_output_tokens", "max_tokens"),
        ("refusal", "refusal", "refusal"),
        ("context_window", "context_window", "model_context_window_exceeded"),
    ],
)
def test_incomplete(
    claude: AnthropicProvider, upstream: FakeAnthropic, kind: str, reason: str, raw: str
) -> None:
    upstream.script([kind])
    fin = collect(claude, req())[-1]
    assert isinstance(fin, Finished)
    assert (fin.status, fin.reason, fin.finish_reason) == ("incomplete", reason, raw)
    assert fin.refusal is (kind == "refusal")


def test_keepalive_and_injection(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    upstream.script(["keepalive", "injection"])
    assert texts(collect(claude, req())) == DEFAULT_REPLY
    assert texts(collect(claude, req())) == INJECTION_TEXT


def test_a_long_reply(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    upstream.long_reply(500)
    events = collect(claude, req())
    assert sum(isinstance(e, TextDelta) for e in events) == 500
    assert texts(events) == "word " * 500


def test_the_connection_is_reused(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    # The body is read to its end after message_stop, so the pooled connection serves the next
    # turn (a body left unread closes it: a new TCP and TLS handshake on every turn).
    for _ in range(5):
        assert isinstance(collect(claude, req())[-1], Finished)
    assert upstream.connections == 1


def test_a_body_that_lingers_after_message_stop(upstream: FakeAnthropic) -> None:
    p = AnthropicProvider(KEY, base_url=upstream.base_url, read_timeout=0.5)
    upstream.script([behaviour("linger")])
    started = time.monotonic()
    events = collect(p, req())  # the generator ends (no error) once the read times out
    assert time.monotonic() - started < 5
    assert isinstance(events[-1], Finished) and texts(events) == DEFAULT_REPLY
    assert upstream.requests[0].wait_done(5)
    assert isinstance(collect(p, req())[-1], Finished)
    p.close()


# -- errors before HTTP 200 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "cls", "status", "code", "cause"),
    [
        ("429", RateLimited, 429, "rate_limit_error", None),
        ("spend", QuotaExceeded, 429, "enforced_spend_limit_reached", None),
        ("529", UpstreamUnavailable, 529, "overloaded_error", "overloaded"),
        ("503", UpstreamUnavailable, 503, "api_error", "server_error"),
        ("500", UpstreamUnavailable, 500, "api_error", "server_error"),
        ("504", UpstreamUnavailable, 504, "timeout_error", "timeout"),
        ("401", AuthFailed, 401, "authentication_error", None),
        ("403", AuthFailed, 403, "permission_error", None),
        ("402", QuotaExceeded, 402, "billing_error", None),
        ("credit", QuotaExceeded, 400, "invalid_request_error", None),
        ("context", ContextTooLong, 400, "invalid_request_error", None),
        ("413", ContextTooLong, 413, "request_too_large", None),
        ("404", UnknownModel, 404, "not_found_error", None),
        ("400", BadRequest, 400, "invalid_request_error", None),
    ],
)
def test_status_errors(
    claude: AnthropicProvider,
    upstream: FakeAnthropic,
    kind: str,
    cls: type[ProviderError],
    status: int,
    code: str,
    cause: str | None,
) -> None:
    upstream.script([kind])
    with pytest.raises(ProviderError) as info:
        collect(claude, req())
    err = info.value
    assert type(err) is cls
    assert (err.status, err.upstream_code, err.cause) == (status, code, cause)
    assert err.request_id and err.request_id.startswith("req_")
    assert err.__cause__ is None and err.__suppress_context__  # no SDK exception behind it
    assert str(err) == cls.safe_message and KEY not in repr(err)
    assert len(upstream.requests) == 1  # the SDK never retried


def test_retry_after_and_should_retry(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    upstream.script(
        [
            behaviour("429", retry_after="7"),
            behaviour("429", retry_after_ms="1500", retry_after="9"),
            behaviour("529"),
            behaviour("503", headers={"x-should-retry": "false"}),
        ]
    )
    got = []
    for _ in range(4):
        with pytest.raises(ProviderError) as info:
            collect(claude, req())
        got.append((info.value.retry_after, info.value.should_retry))
    assert got == [(7.0, None), (1.5, None), (None, True), (None, False)]
    assert len(upstream.requests) == 4


def test_the_apps_policy_retries_a_529(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    upstream.script([behaviour("529", headers={"retry-after": "0"}), "429:0"])
    token = CancelToken()
    events = list(stream_with_retries(lambda: claude.stream(req(), token), token, RetryPolicy()))
    assert isinstance(events[-1], Finished) and texts(events) == DEFAULT_REPLY
    assert [r.status for r in upstream.requests] == [529, 429, 200]
    # x-should-retry: false forbids it.
    upstream.requests.clear()
    upstream.script([behaviour("503", headers={"x-should-retry": "false"})])
    with pytest.raises(UpstreamUnavailable):
        list(stream_with_retries(lambda: claude.stream(req(), token), token, RetryPolicy()))
    assert len(upstream.requests) == 1


def test_refused_connection_is_unreachable() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    p = AnthropicProvider(KEY, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(UpstreamUnavailable) as info:
        list(p.stream(req()))
    assert info.value.cause == "unreachable" and info.value.__cause__ is None
    p.close()


# -- errors after HTTP 200 ---------------------------------------------------------------------


def test_error_event_before_any_text(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    upstream.script([behaviour("error_event", after=0)])
    seen: list[Any] = []
    with pytest.raises(UpstreamFailed) as info:
        for ev in claude.stream(req()):
            seen.append(ev)
    err = info.value
    assert err.code == "upstream_error" and err.upstream_code == "overloaded_error"
    assert err.cause == "overloaded" and err.status == 200
    assert err.request_id and err.request_id.startswith("req_")
    assert "SECRET" not in repr(err) and "Overloaded" not in str(err)
    assert not any(isinstance(e, TextDelta) for e in seen)
    assert isinstance(seen[0], ResponseStarted)


def test_error_event_after_text(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    upstream.script([behaviour("error_event", after=3, error_type="api_error")])
    seen: list[Any] = []
    with pytest.raises(UpstreamFailed) as info:
        for ev in claude.stream(req()):
            seen.append(ev)
    assert info.value.upstream_code == "api_error" and info.value.cause == "server_error"
    assert texts(seen) == DEFAULT_REPLY[:12]  # what came before the error stays relayed


@pytest.mark.parametrize(
    ("kind", "after", "cls"),
    [
        ("reset", 2, Interrupted),
        ("truncated", 2, Interrupted),
        ("truncated", 0, UpstreamUnavailable),
        ("reset", 0, UpstreamUnavailable),
        ("malformed", 2, Interrupted),
    ],
)
def test_broken_streams(
    claude: AnthropicProvider, upstream: FakeAnthropic, kind: str, after: int, cls: type
) -> None:
    upstream.script([behaviour(kind, after=after)])
    seen: list[Any] = []
    with pytest.raises(ProviderError) as info:
        for ev in claude.stream(req()):
            seen.append(ev)
    assert type(info.value) is cls
    assert info.value.__cause__ is None or type(info.value.__cause__).__module__ == "json.decoder"
    assert info.value.request_id and info.value.request_id.startswith("req_")
    assert texts(seen) == DEFAULT_REPLY[: 4 * after]
    assert not any(isinstance(e, Finished) for e in seen)
    if cls is UpstreamUnavailable:
        assert info.value.cause == "server_error"  # the upstream broke it, before any text


def test_a_stall_after_text_is_interrupted(upstream: FakeAnthropic) -> None:
    p = AnthropicProvider(KEY, base_url=upstream.base_url, read_timeout=0.5)
    upstream.script([behaviour("stall", after=2)])
    seen: list[Any] = []
    with pytest.raises(Interrupted):
        for ev in p.stream(req()):
            seen.append(ev)
    assert texts(seen) == DEFAULT_REPLY[:8]
    upstream.script([behaviour("stall_start")])
    with pytest.raises(UpstreamUnavailable) as info:
        list(p.stream(req()))
    assert info.value.cause == "timeout"
    p.close()


def test_silent_until_the_read_timeout(upstream: FakeAnthropic) -> None:
    p = AnthropicProvider(KEY, base_url=upstream.base_url, read_timeout=0.5)
    upstream.script([behaviour("silent", seconds=10)])
    with pytest.raises(UpstreamUnavailable) as info:
        list(p.stream(req()))
    assert info.value.cause == "timeout"
    p.close()


# -- message threads (stateful = true) -----------------------------------------------------------


def test_threads_create_then_continue(threads: AnthropicProvider, upstream: FakeAnthropic) -> None:
    first = collect(threads, req(input="one"))
    rec = upstream.last()
    assert rec.body["thread"] == {"type": "create"}
    assert THREADS_BETA in rec.headers["anthropic-beta"].split(",")
    assert rec.body["system"] == "Be brief."
    msg_id = first[-1].response_id
    assert msg_id == rec.response_id
    second = collect(threads, req(input="two", previous_response_id=msg_id))
    rec = upstream.last()
    assert rec.body["thread"] == {"type": "continue", "previous_message_id": msg_id}
    assert rec.body["messages"] == [{"role": "user", "content": "two"}]
    assert "system" not in rec.body  # the thread keeps it; repeating it is refused
    assert isinstance(second[-1], Finished) and second[-1].usage["cached_tokens"] > 0


def test_continue_on_an_expired_thread(threads: AnthropicProvider, upstream: FakeAnthropic) -> None:
    msg_id = collect(threads, req())[-1].response_id
    upstream.forget(msg_id)
    with pytest.raises(PreviousResponseNotFound) as info:
        list(threads.stream(req(previous_response_id=msg_id)))
    assert info.value.status == 404 and info.value.upstream_code == "thread_not_found"
    # A 404 with no code while continuing is the thread gone too (the app replays once).
    upstream.script(["404"])
    with pytest.raises(PreviousResponseNotFound):
        list(threads.stream(req(previous_response_id="msg_01gone")))


def test_continue_twice_from_one_message(
    threads: AnthropicProvider, upstream: FakeAnthropic
) -> None:
    msg_id = collect(threads, req())[-1].response_id
    collect(threads, req(previous_response_id=msg_id))
    with pytest.raises(PreviousResponseNotFound) as info:
        list(threads.stream(req(previous_response_id=msg_id)))
    assert info.value.upstream_code == "thread_already_continued"


def test_stateless_never_sends_a_thread(claude: AnthropicProvider, upstream: FakeAnthropic) -> None:
    collect(claude, req(previous_response_id="msg_01abc"))
    rec = upstream.last()
    assert "thread" not in rec.body and "anthropic-beta" not in rec.headers
    assert rec.body["system"] == "Be brief."
    # A 404 from a stateless provider is an unknown model, whatever the request carried.
    upstream.script(["404"])
    with pytest.raises(UnknownModel):
        list(claude.stream(req(previous_response_id="msg_01abc")))


def test_a_stateful_provider_without_store(
    threads: AnthropicProvider, upstream: FakeAnthropic
) -> None:
    collect(threads, req(store=False, previous_response_id="msg_01abc"))
    rec = upstream.last()
    assert "thread" not in rec.body and "anthropic-beta" not in rec.headers


def test_a_hybrid_chain_continues_with_the_later_turns_as_text(
    threads: AnthropicProvider, upstream: FakeAnthropic
) -> None:
    # API.md rule 2: chain from this provider's own reply, send what others said after it as text.
    msg_id = collect(threads, req(input="one"))[-1].response_id
    later = [
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "an answer from another provider"},
        {"role": "user", "content": "three"},
    ]
    assert isinstance(collect(threads, req(input=later, previous_response_id=msg_id))[-1], Finished)
    body = upstream.last().body
    assert body["thread"] == {"type": "continue", "previous_message_id": msg_id}
    assert body["messages"] == later
