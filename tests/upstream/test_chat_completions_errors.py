"""ChatCompletionsProvider's errors, before and after HTTP 200, and xAI's bad-key 400 (real SDK, fake upstream)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from responses_client import OpenAIProvider
from responses_client.adapters.openai_chat import ChatCompletionsProvider
from responses_client.cancel import CancelToken
from responses_client.errors import (
    AuthFailed,
    BadRequest,
    ContentBlocked,
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
from responses_client.events import Finished, TextDelta
from responses_client.retry import RetryPolicy, stream_with_retries
from tests.fakes.chat_completions import DEFAULT_REPLY, FakeChat, behaviour, running
from tests.upstream.test_chat_completions_adapter import KEY, make, req, run, text_of


@pytest.fixture
def fake() -> Iterator[FakeChat]:
    with running() as f:
        yield f


@pytest.fixture
def provider(fake: FakeChat) -> Iterator[ChatCompletionsProvider]:
    p = make(fake)
    yield p
    p.close()


# -- errors before HTTP 200 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "flavour", "cls", "status", "cause"),
    [
        ("401", "deepseek", AuthFailed, 401, None),
        ("403", "openrouter", ContentBlocked, 403, None),
        ("403", "generic", AuthFailed, 403, None),
        ("402", "deepseek", QuotaExceeded, 402, None),
        ("credits", "openrouter", QuotaExceeded, 402, None),
        ("400", "deepseek", BadRequest, 400, None),
        ("422", "deepseek", BadRequest, 422, None),
        ("context", "deepseek", ContextTooLong, 400, None),
        ("nomodel", "deepseek", UnknownModel, 400, None),
        ("404", "ollama", UnknownModel, 404, None),
        ("429", "deepseek", RateLimited, 429, None),
        ("500", "deepseek", UpstreamUnavailable, 500, "server_error"),
        ("502", "openrouter", UpstreamUnavailable, 502, "server_error"),
        ("503", "deepseek", UpstreamUnavailable, 503, "overloaded"),
        ("529", "generic", UpstreamUnavailable, 529, "overloaded"),
        ("xai_bad_key", "generic", AuthFailed, 400, None),
    ],
)
def test_refused_before_200(
    fake: FakeChat,
    kind: str,
    flavour: Any,
    cls: type[ProviderError],
    status: int,
    cause: str | None,
) -> None:
    p = make(fake, flavour)
    fake.script([behaviour(kind)])
    with pytest.raises(cls) as info:
        run(p)
    err = info.value
    assert type(err) is cls and err.status == status and err.cause == cause
    assert "sk-test" not in repr(err) and "leaked" not in repr(err)
    assert str(err) == cls.safe_message
    assert err.__cause__ is None and err.__suppress_context__
    assert len(fake.requests) == 1  # one request: the SDK never retries
    p.close()


def test_429_retry_after_and_should_retry(
    provider: ChatCompletionsProvider, fake: FakeChat
) -> None:
    fake.script([behaviour("429", retry_after="7", headers={"x-should-retry": "false"})])
    with pytest.raises(RateLimited) as info:
        run(provider)
    assert info.value.retry_after == 7.0 and info.value.should_retry is False
    assert info.value.request_id and info.value.request_id.startswith("req_")


def test_the_app_policy_retries_a_503_then_succeeds(
    provider: ChatCompletionsProvider, fake: FakeChat
) -> None:
    token = CancelToken()
    policy = RetryPolicy(base_delay=0.01)
    events = list(
        stream_with_retries(lambda: provider.stream(req("fake-503-x1"), token), token, policy)
    )
    assert isinstance(events[-1], Finished) and len(fake.requests) == 2


def test_connection_refused() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = ChatCompletionsProvider(KEY, base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(UpstreamUnavailable) as info:
        run(p)
    assert info.value.cause == "unreachable"
    p.close()


# -- errors after HTTP 200 -----------------------------------------------------------------------


def _consume(p: Any) -> tuple[list[object], ProviderError]:
    seen: list[object] = []
    with pytest.raises(ProviderError) as info:
        for ev in p.stream(req()):
            seen.append(ev)
    return seen, info.value


def test_error_chunk_after_text(fake: FakeChat) -> None:
    fake.style = "openrouter"
    p = make(fake, "openrouter")
    fake.script([behaviour("error_after", after=2)])
    seen, err = _consume(p)
    assert isinstance(err, UpstreamFailed) and err.upstream_code == "server_error"
    assert text_of(seen) == DEFAULT_REPLY[:8]
    assert "leaked" not in repr(err) and err.request_id == fake.last().response_id
    p.close()


def test_error_chunk_before_text(fake: FakeChat) -> None:
    fake.style = "openrouter"
    p = make(fake, "openrouter")
    fake.script([behaviour("error_first")])
    seen, err = _consume(p)
    assert isinstance(err, UpstreamFailed) and err.upstream_code == "502"
    assert not any(isinstance(e, TextDelta) for e in seen)
    p.close()


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("reset", Interrupted),
        ("truncated", Interrupted),
        ("malformed", Interrupted),
        ("stall", Interrupted),
    ],
)
def test_broken_streams_after_text(
    provider: ChatCompletionsProvider, fake: FakeChat, kind: str, cls: type[ProviderError]
) -> None:
    fake.script([behaviour(kind, after=2)])
    seen, err = _consume(provider)
    assert type(err) is cls and text_of(seen) == DEFAULT_REPLY[:8]
    if kind == "stall":
        assert err.cause == "timeout"


def test_stall_before_any_chunk_is_unavailable(fake: FakeChat) -> None:
    p = make(fake, read_timeout=0.5)
    fake.script([behaviour("stall_start")])
    seen, err = _consume(p)
    assert isinstance(err, UpstreamUnavailable) and err.cause == "timeout" and seen == []
    p.close()


def test_empty_and_idless_streams(provider: ChatCompletionsProvider, fake: FakeChat) -> None:
    fake.script([behaviour("empty"), behaviour("no_id")])
    _, err = _consume(provider)
    assert isinstance(err, UpstreamUnavailable) and err.upstream_code == "empty_stream"
    _, err = _consume(provider)
    assert isinstance(err, UpstreamUnavailable) and err.upstream_code == "missing_response_id"


def test_errors_are_logged_without_upstream_text(
    fake: FakeChat, caplog: pytest.LogCaptureFixture
) -> None:
    p = make(fake, "deepseek")
    fake.script([behaviour("401")])
    with caplog.at_level(logging.WARNING, logger="responses_client"), pytest.raises(AuthFailed):
        run(p)
    assert "upstream_auth" in caplog.text
    assert "leaked" not in caplog.text and KEY not in caplog.text
    p.close()


# -- xAI through the Responses adapter -----------------------------------------------------------


def test_xai_bad_key_400_is_upstream_auth_through_the_responses_adapter(fake: FakeChat) -> None:
    p = OpenAIProvider("xai-WRONGKEY0123456789abcdef", name="xai", base_url=fake.base_url)
    fake.script([behaviour("xai_bad_key")])
    with pytest.raises(AuthFailed) as info:
        list(p.stream(req("grok-4.7")))
    err = info.value
    assert err.status == 400 and not err.retryable and err.upstream_code is None
    assert "Incorrect" not in repr(err) and fake.last().path == "/v1/responses"
    p.close()


def test_an_ordinary_400_through_the_responses_adapter_stays_bad_request(fake: FakeChat) -> None:
    p = OpenAIProvider("xai-key0123456789abcdef", name="xai", base_url=fake.base_url)
    fake.script([behaviour("400")])
    with pytest.raises(BadRequest) as info:
        list(p.stream(req("grok-4.7")))
    assert type(info.value) is BadRequest
    p.close()


def test_xai_chain_gone_is_previous_response_not_found(fake: FakeChat) -> None:
    p = OpenAIProvider("xai-key0123456789abcdef", name="xai", base_url=fake.base_url)
    fake.script([behaviour("xai_prev_gone"), behaviour("xai_prev_gone")])
    with pytest.raises(PreviousResponseNotFound):
        list(p.stream(req("grok-4.7", previous_response_id="resp_0123456789abcdef")))
    # Without a chain id in the request the same 404 is an unknown model, as any 404.
    with pytest.raises(UnknownModel):
        list(p.stream(req("grok-4.7")))
    p.close()
