"""ChatCompletionsProvider: the real openai SDK against the Chat Completions fake on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from responses_client.adapters.openai_chat import ChatCompletionsProvider
from responses_client.events import (
    Finished,
    Idle,
    ReasoningDelta,
    ResponseRequest,
    ResponseStarted,
    TextDelta,
)
from responses_client.provider import Provider
from tests.fakes.chat_completions import DEFAULT_REPLY, FakeChat, behaviour, running

KEY = "sk-test-CHATKEY0123456789abcdef"


@pytest.fixture
def fake() -> Iterator[FakeChat]:
    with running() as f:
        yield f


def make(fake: FakeChat, flavour: Any = "generic", **kw: Any) -> ChatCompletionsProvider:
    kw.setdefault("read_timeout", 2.0)
    base = kw.pop("base_url", fake.base_url)
    return ChatCompletionsProvider(KEY, name=flavour, base_url=base, flavour=flavour, **kw)


@pytest.fixture
def provider(fake: FakeChat) -> Iterator[ChatCompletionsProvider]:
    p = make(fake)
    yield p
    p.close()


def req(model: str = "m-1", **kw: Any) -> ResponseRequest:
    kw.setdefault("input", "hi")
    kw.setdefault("instructions", "Be brief.")
    return ResponseRequest(model=model, **kw)


def run(p: Any, request: ResponseRequest | None = None) -> list[object]:
    return [e for e in p.stream(request or req()) if not isinstance(e, Idle)]


def text_of(events: list[object]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# -- the request -------------------------------------------------------------------------------


def test_plain_stream_and_the_exact_request(
    provider: ChatCompletionsProvider, fake: FakeChat
) -> None:
    events = run(provider)
    started, done = events[0], events[-1]
    assert isinstance(started, ResponseStarted) and started.response_id.startswith("chatcmpl-")
    assert started.request_id and started.request_id.startswith("req_")
    assert started.metadata == {"system_fingerprint": "fp_fake01", "service_tier": "default"}
    assert text_of(events) == DEFAULT_REPLY
    assert isinstance(done, Finished) and done.status == "completed"
    assert done.response_id == started.response_id and done.usage is not None
    assert done.usage["input_tokens"] > 0 and done.usage["output_tokens"] > 0
    rec = fake.last()
    assert rec.path == "/v1/chat/completions"
    assert rec.body == {
        "model": "m-1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert rec.headers["authorization"] == f"Bearer {KEY}"
    assert rec.headers["x-stainless-retry-count"] == "0"
    assert len(fake.requests) == 1


def test_turns_become_messages_and_no_chain_id_is_sent(
    provider: ChatCompletionsProvider, fake: FakeChat
) -> None:
    turns = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
    ]
    run(provider, req(input=turns, previous_response_id="chatcmpl-old", max_output_tokens=50))
    body = fake.last().body
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, *turns]
    assert "previous_response_id" not in body and "store" not in body
    assert body["max_tokens"] == 50


def test_no_instructions_no_system_message(
    provider: ChatCompletionsProvider, fake: FakeChat
) -> None:
    run(provider, req(instructions=None))
    assert fake.last().body["messages"] == [{"role": "user", "content": "hi"}]


def test_root_base_url_deepseek_style(fake: FakeChat) -> None:
    p = make(fake, "deepseek", base_url=fake.root_url)
    run(p)
    assert fake.last().path == "/chat/completions"
    p.close()


@pytest.mark.parametrize(
    ("flavour", "options", "expected"),
    [
        (
            "deepseek",
            {"reasoning_effort": "medium", "temperature": 0.5},
            {"reasoning_effort": "high", "temperature": 0.5},
        ),
        (
            "deepseek",
            {"thinking": "off", "reasoning_effort": "max"},
            {"thinking": {"type": "disabled"}},
        ),
        (
            "deepseek",
            {"thinking": "on", "reasoning_effort": "minimal"},
            {"thinking": {"type": "enabled"}, "reasoning_effort": "low"},
        ),
        (
            "openrouter",
            {"reasoning_effort": "high", "top_p": 0.9},
            {"reasoning": {"effort": "high"}, "top_p": 0.9},
        ),
        ("openrouter", {"thinking": "off"}, {"reasoning": {"enabled": False}}),
        ("ollama", {"thinking": "off"}, {"reasoning_effort": "none"}),
        (
            "generic",
            {"reasoning_effort": "low", "verbosity": "low"},
            {"reasoning_effort": "low", "verbosity": "low"},
        ),
        ("deepseek", {"verbosity": "low", "reasoning_summary": "auto"}, {}),
    ],
)
def test_options_per_flavour(
    fake: FakeChat, flavour: Any, options: dict[str, Any], expected: dict[str, Any]
) -> None:
    p = make(fake, flavour)
    run(p, req(options=options))
    body = fake.last().body
    sent = {
        k: v for k, v in body.items() if k not in ("model", "messages", "stream", "stream_options")
    }
    assert sent == expected
    p.close()


def test_output_cap_is_the_smaller_and_operator_options_are_sent(fake: FakeChat) -> None:
    p = make(fake, "openrouter")
    operator = {"provider": {"order": ["Anthropic"]}, "transforms": []}
    run(
        p,
        req(
            max_output_tokens=100,
            options={"max_output_tokens": 300},
            provider_options=operator,
        ),
    )
    body = fake.last().body
    assert body["max_tokens"] == 100
    assert body["provider"] == {"order": ["Anthropic"]} and body["transforms"] == []
    p.close()
    p = make(fake, "generic", max_tokens_field="max_completion_tokens")
    run(p, req(max_output_tokens=100, options={"max_output_tokens": 30}))
    assert fake.last().body["max_completion_tokens"] == 30 and "max_tokens" not in fake.last().body
    p.close()


def test_ollama_needs_no_key_and_never_shows_the_placeholder(fake: FakeChat) -> None:
    p = ChatCompletionsProvider(None, name="ollama", base_url=fake.base_url, flavour="ollama")
    run(p)
    assert fake.last().headers["authorization"] == "Bearer ollama"
    assert "ollama" not in repr(p).replace("name='ollama'", "").replace("flavour='ollama'", "")
    p.close()


def test_stream_options_can_be_left_out(fake: FakeChat) -> None:
    p = make(fake, send_stream_options=False)
    done = run(p)[-1]
    assert "stream_options" not in fake.last().body
    assert isinstance(done, Finished) and done.usage is None  # the fake sends none unasked
    p.close()


def test_a_generic_local_server_may_have_no_key(fake: FakeChat) -> None:
    p = ChatCompletionsProvider("", name="local", base_url=fake.base_url)
    assert isinstance(run(p)[-1], Finished)
    assert fake.last().headers["authorization"] == "Bearer no-key"
    p.close()


def test_constructor_refusals(fake: FakeChat) -> None:
    with pytest.raises(ValueError):
        ChatCompletionsProvider(KEY, flavour="generic")  # no base URL
    for flavour in ("deepseek", "openrouter"):
        with pytest.raises(ValueError):
            ChatCompletionsProvider(None, flavour=flavour)  # type: ignore[arg-type]  # no key
    with pytest.raises(ValueError):
        ChatCompletionsProvider(KEY, base_url=fake.base_url, stateful=True)
    with pytest.raises(ValueError):
        ChatCompletionsProvider(KEY, base_url=fake.base_url, flavour="nope")  # type: ignore[arg-type]
    p = ChatCompletionsProvider(KEY, flavour="deepseek")
    assert p.base_url == "https://api.deepseek.com" and not p.stateful
    assert p.capabilities.protocol == "chat_completions" and isinstance(p, Provider)
    assert KEY not in repr(p)
    p.close()


def test_environment_changes_nothing(fake: FakeChat, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-WRONGKEY-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-env")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "Authorization: Bearer env-key\nX-Env: 1")
    p = make(fake, "deepseek")
    events = run(p)
    assert isinstance(events[-1], Finished)
    headers = fake.last().headers
    assert headers["authorization"] == f"Bearer {KEY}"
    for name in ("openai-organization", "openai-project", "x-env"):
        assert name not in headers
    p.close()


# -- what comes back ---------------------------------------------------------------------------


def test_deepseek_reasoning_content_and_cache_hits(fake: FakeChat) -> None:
    fake.style = "deepseek"
    p = make(fake, "deepseek")
    fake.script([behaviour("reasoning", reasoning="Think first.")])
    events = run(p)
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == "Think first." and text_of(events) == DEFAULT_REPLY
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    assert all(not isinstance(e, ReasoningDelta) for e in events[first_text:])
    done = events[-1]
    assert isinstance(done, Finished) and done.usage is not None
    assert done.usage["cached_tokens"] > 0 and done.usage["reasoning_tokens"] == 2
    assert done.metadata["system_fingerprint"] == "fp_ds_0001"
    p.close()


def test_openrouter_generation_id_cost_and_reasoning(fake: FakeChat) -> None:
    fake.style = "openrouter"
    p = make(fake, "openrouter")
    fake.script([behaviour("reasoning")])
    events = run(p)
    started, done = events[0], events[-1]
    rec = fake.last()
    assert isinstance(started, ResponseStarted) and started.response_id == rec.response_id
    assert started.response_id.startswith("gen-") and started.request_id == rec.response_id
    assert any(isinstance(e, ReasoningDelta) for e in events)
    assert isinstance(done, Finished) and done.cost_usd == 0.00123
    assert done.usage is not None and done.usage["cache_write_tokens"] == 3
    p.close()


def test_usage_on_the_finish_chunk(provider: ChatCompletionsProvider, fake: FakeChat) -> None:
    fake.script([behaviour("usage_on_finish")])
    done = run(provider)[-1]
    assert isinstance(done, Finished) and done.usage is not None and done.usage["total_tokens"]


def test_keepalive_comments_are_skipped(provider: ChatCompletionsProvider, fake: FakeChat) -> None:
    fake.script([behaviour("keepalive")])
    events = run(provider)
    assert text_of(events) == DEFAULT_REPLY and isinstance(events[-1], Finished)


def test_no_done_after_the_finish_still_finishes(
    provider: ChatCompletionsProvider, fake: FakeChat
) -> None:
    fake.script([behaviour("no_done")])
    done = run(provider)[-1]
    assert isinstance(done, Finished) and done.usage is not None


@pytest.mark.parametrize(
    ("kind", "reason", "raw"),
    [
        ("length", "max_output_tokens", "length"),
        ("content_filter", "content_filter", "content_filter"),
    ],
)
def test_incomplete(
    provider: ChatCompletionsProvider, fake: FakeChat, kind: str, reason: str, raw: str
) -> None:
    fake.script([behaviour(kind)])
    done = run(provider)[-1]
    assert isinstance(done, Finished) and done.status == "incomplete"
    assert done.reason == reason and done.finish_reason == raw
    assert done.metadata["finish_reason"] == raw


def test_refusal(provider: ChatCompletionsProvider, fake: FakeChat) -> None:
    fake.script([behaviour("refusal")])
    events = run(provider)
    assert "can't" in text_of(events)
    done = events[-1]
    assert isinstance(done, Finished) and done.refusal


def test_long_answer(provider: ChatCompletionsProvider, fake: FakeChat) -> None:
    fake.long_reply(500)
    events = run(provider)
    assert sum(isinstance(e, TextDelta) for e in events) == 500
    assert isinstance(events[-1], Finished)


def test_rate_limit_headers_and_the_identifier_rule_on_headers(
    provider: ChatCompletionsProvider, fake: FakeChat
) -> None:
    headers = {"x-ratelimit-remaining-requests": "99", "x-ratelimit-remaining-tokens": "12345"}
    fake.script([behaviour("ok", headers=headers, request_id=f"req_{KEY}")])
    events = run(provider)
    started = events[0]
    assert isinstance(started, ResponseStarted) and started.request_id is None  # held the key
    assert started.metadata["ratelimit_remaining_requests"] == 99
    assert started.metadata["ratelimit_remaining_tokens"] == 12345
    done = events[-1]
    assert isinstance(done, Finished) and done.metadata["ratelimit_remaining_tokens"] == 12345


def test_the_connection_is_reused(provider: ChatCompletionsProvider, fake: FakeChat) -> None:
    # The body is read to its end after `[DONE]`, so the pooled connection serves the next turn
    # (a body left unread closes it: a new TCP and TLS handshake on every turn).
    for _ in range(3):
        assert isinstance(run(provider)[-1], Finished)
    assert len(fake.requests) == 3
    assert fake.connections == 1
