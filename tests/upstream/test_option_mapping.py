"""Each protocol's body for each per-model option (API.md "Providers", **Options**), with the real SDK
against the fakes on 127.0.0.1: Responses `reasoning {effort, summary}`, `text.verbosity`,
sampling and `max_output_tokens`; Chat Completions per dialect; Anthropic `thinking`,
`output_config.effort`, `max_tokens`; Gemini `thinking_config` and the generation fields, on
generateContent and Interactions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from responses_client import OpenAIProvider
from responses_client.adapters.anthropic_messages import AnthropicProvider
from responses_client.adapters.gemini import GeminiProvider
from responses_client.adapters.openai_chat import ChatCompletionsProvider
from responses_client.events import ResponseRequest
from tests.fake_upstream import FakeUpstream
from tests.fakes import chat_completions as fake_chat
from tests.fakes.anthropic import FakeAnthropic, fake_anthropic  # noqa: F401  (the fixture)
from tests.fakes.gemini import FakeGemini, fake_gemini  # noqa: F401  (the fixture)

KEY = "sk-test-OPTIONS0123456789abcdef"
PLAIN = ("model", "input", "instructions", "stream", "store", "stream_options")


def req(model: str, **kw: Any) -> ResponseRequest:
    kw.setdefault("input", "hi")
    kw.setdefault("instructions", "Be brief.")
    return ResponseRequest(model=model, **kw)


def drain(provider: Any, request: ResponseRequest) -> None:
    """Stream `request` to its end (the body is what the fake recorded)."""
    list(provider.stream(request))


# -- Responses -------------------------------------------------------------------------------------


@pytest.fixture
def responses(fake_upstream: FakeUpstream) -> Iterator[OpenAIProvider]:
    p = OpenAIProvider(KEY, base_url=fake_upstream.base_url, read_timeout=2.0)
    yield p
    p.close()


@pytest.mark.parametrize(
    ("options", "fields"),
    [
        ({"reasoning_effort": "minimal"}, {"reasoning": {"effort": "minimal"}}),
        ({"reasoning_effort": "max"}, {"reasoning": {"effort": "max"}}),
        ({"reasoning_summary": "detailed"}, {"reasoning": {"summary": "detailed"}}),
        (
            {"reasoning_effort": "low", "reasoning_summary": "auto"},
            {"reasoning": {"effort": "low", "summary": "auto"}},
        ),
        # "none" is no summary: the API takes only auto/concise/detailed.
        (
            {"reasoning_effort": "low", "reasoning_summary": "none"},
            {"reasoning": {"effort": "low"}},
        ),
        ({"reasoning_summary": "none"}, {}),
        ({"verbosity": "high"}, {"text": {"verbosity": "high"}}),
        ({"temperature": 0}, {"temperature": 0}),
        ({"top_p": 0.25}, {"top_p": 0.25}),
        ({"max_output_tokens": 77}, {"max_output_tokens": 77}),
    ],
)
def test_responses_body(
    responses: OpenAIProvider,
    fake_upstream: FakeUpstream,
    options: dict[str, Any],
    fields: dict[str, Any],
) -> None:
    drain(responses, req("gpt-5.4-mini", options=options))
    body = fake_upstream.last().body
    assert {k: v for k, v in body.items() if k not in PLAIN} == fields


# -- Chat Completions ------------------------------------------------------------------------------


@pytest.fixture
def chat_fake() -> Iterator[fake_chat.FakeChat]:
    with fake_chat.running() as fake:
        yield fake


@pytest.mark.parametrize(
    ("flavour", "field", "options", "fields"),
    [
        ("generic", "max_tokens", {"reasoning_effort": "high"}, {"reasoning_effort": "high"}),
        ("generic", "max_tokens", {"verbosity": "medium"}, {"verbosity": "medium"}),
        (
            "generic",
            "max_completion_tokens",
            {"temperature": 1.5, "top_p": 0.5, "max_output_tokens": 64},
            {"temperature": 1.5, "top_p": 0.5, "max_completion_tokens": 64},
        ),
        ("deepseek", "max_tokens", {"max_output_tokens": 64}, {"max_tokens": 64}),
        ("deepseek", "max_tokens", {"reasoning_effort": "xhigh"}, {"reasoning_effort": "high"}),
        ("deepseek", "max_tokens", {"thinking": "adaptive"}, {"thinking": {"type": "enabled"}}),
        ("openrouter", "max_tokens", {"reasoning_effort": "low"}, {"reasoning": {"effort": "low"}}),
        ("openrouter", "max_tokens", {"thinking": "on"}, {"reasoning": {"enabled": True}}),
        # OpenRouter's way to leave the reasoning out of the reply: `exclude`.
        (
            "openrouter",
            "max_tokens",
            {"reasoning_effort": "high", "reasoning_summary": "none"},
            {"reasoning": {"effort": "high", "exclude": True}},
        ),
        ("ollama", "max_tokens", {"reasoning_effort": "low"}, {"reasoning_effort": "low"}),
    ],
)
def test_chat_completions_body(
    chat_fake: fake_chat.FakeChat,
    flavour: Any,
    field: str,
    options: dict[str, Any],
    fields: dict[str, Any],
) -> None:
    p = ChatCompletionsProvider(
        KEY, name=flavour, base_url=chat_fake.base_url, flavour=flavour, max_tokens_field=field
    )
    try:
        drain(p, req("m-1", options=options))
    finally:
        p.close()
    body = chat_fake.last().body
    assert {k: v for k, v in body.items() if k not in (*PLAIN, "messages")} == fields


# -- Anthropic -------------------------------------------------------------------------------------


@pytest.fixture
def claude(fake_anthropic: FakeAnthropic) -> Iterator[AnthropicProvider]:  # noqa: F811
    p = AnthropicProvider(KEY, base_url=fake_anthropic.base_url, read_timeout=2.0)
    yield p
    p.close()


@pytest.mark.parametrize(
    ("model", "options", "fields"),
    [
        ("claude-sonnet-5-5", {"max_output_tokens": 300}, {"max_tokens": 300}),
        (
            "claude-sonnet-5-5",
            {"reasoning_effort": "xhigh"},
            {"output_config": {"effort": "xhigh"}},
        ),
        (
            "claude-sonnet-5-5",
            {"reasoning_effort": "minimal"},
            {"output_config": {"effort": "low"}},
        ),
        (
            "claude-opus-5-5",
            {"thinking": "adaptive"},
            {"thinking": {"type": "adaptive", "display": "summarized"}},
        ),
        # Sonnet 5.5 turns thinking off with between_tools (providers.md §1.8).
        ("claude-sonnet-5-5", {"thinking": "off"}, {"thinking": {"type": "between_tools"}}),
        (
            "claude-sonnet-5-5-20260928",
            {"thinking": "off"},
            {"thinking": {"type": "between_tools"}},
        ),
        ("claude-haiku-4-5", {"thinking": "off"}, {"thinking": {"type": "disabled"}}),
        (
            "claude-haiku-4-5",
            {"thinking": "on", "max_output_tokens": 4000},
            {
                "max_tokens": 4000,
                "thinking": {"type": "enabled", "budget_tokens": 2000, "display": "summarized"},
            },
        ),
        # The 5.5 family thinks by default: a summary setting alone says how it is shown.
        (
            "claude-sonnet-5-5",
            {"reasoning_summary": "none"},
            {"thinking": {"type": "adaptive", "display": "omitted"}},
        ),
        (
            "claude-opus-5-5",
            {"reasoning_summary": "detailed"},
            {"thinking": {"type": "adaptive", "display": "summarized"}},
        ),
        ("claude-haiku-4-5", {"reasoning_summary": "detailed"}, {}),  # no thinking unless asked
    ],
)
def test_anthropic_body(
    claude: AnthropicProvider,
    fake_anthropic: FakeAnthropic,  # noqa: F811
    model: str,
    options: dict[str, Any],
    fields: dict[str, Any],
) -> None:
    drain(claude, req(model, options=options))
    body = fake_anthropic.last().body
    expected = {"max_tokens": 8192, **fields}
    assert {k: v for k, v in body.items() if k not in (*PLAIN, "messages", "system")} == expected


# -- Gemini ----------------------------------------------------------------------------------------


@pytest.fixture
def gemini(fake_gemini: FakeGemini) -> Iterator[GeminiProvider]:  # noqa: F811
    p = GeminiProvider(KEY, base_url=fake_gemini.base_url, read_timeout=2.0)
    yield p
    p.close()


@pytest.fixture
def interactions(fake_gemini: FakeGemini) -> Iterator[GeminiProvider]:  # noqa: F811
    p = GeminiProvider(KEY, base_url=fake_gemini.base_url, stateful=True, read_timeout=2.0)
    yield p
    p.close()


@pytest.mark.parametrize(
    ("model", "options", "config"),
    [
        (
            "gemini-3.5-flash",
            {"temperature": 1.2, "top_p": 0.4, "max_output_tokens": 99},
            {"temperature": 1.2, "topP": 0.4, "maxOutputTokens": 99,
             "thinkingConfig": {"include_thoughts": True}},
        ),
        ("gemini-3.5-flash", {"reasoning_effort": "minimal"},
         {"thinkingConfig": {"include_thoughts": True, "thinking_level": "MINIMAL"}}),
        ("gemini-3.5-flash", {"reasoning_effort": "max"},
         {"thinkingConfig": {"include_thoughts": True, "thinking_level": "XHIGH"}}),
        ("gemini-3.5-flash", {"thinking": "off"},
         {"thinkingConfig": {"include_thoughts": False, "thinking_level": "MINIMAL"}}),
        ("gemini-3.5-flash", {"reasoning_summary": "none"},
         {"thinkingConfig": {"include_thoughts": False}}),
        ("gemini-2.5-flash", {"thinking": "adaptive"},
         {"thinkingConfig": {"include_thoughts": True, "thinking_budget": -1}}),
        ("gemini-2.5-flash", {"reasoning_effort": "medium"},
         {"thinkingConfig": {"include_thoughts": True, "thinking_budget": 8192}}),
    ],
)  # fmt: skip
def test_gemini_generation_config(
    gemini: GeminiProvider,
    fake_gemini: FakeGemini,  # noqa: F811
    model: str,
    options: dict[str, Any],
    config: dict[str, Any],
) -> None:
    drain(gemini, req(model, options=options))
    assert fake_gemini.last().body["generationConfig"] == config


@pytest.mark.parametrize(
    ("model", "options", "config"),
    [
        ("gemini-3.5-flash", {"temperature": 0.1, "top_p": 0.2, "max_output_tokens": 10},
         {"temperature": 0.1, "top_p": 0.2, "max_output_tokens": 10,
          "thinking_summaries": "auto"}),
        ("gemini-3.5-flash", {"reasoning_effort": "max"},
         {"thinking_level": "xhigh", "thinking_summaries": "auto"}),
        ("gemini-3.5-flash", {"thinking": "off"},
         {"thinking_level": "minimal", "thinking_summaries": "none"}),
        # Gemini 2.5 thinks by a budget, which Interactions has no field for: no thinking_level.
        ("gemini-2.5-flash", {"reasoning_effort": "high"}, {"thinking_summaries": "auto"}),
    ],
)  # fmt: skip
def test_gemini_interactions_generation_config(
    interactions: GeminiProvider,
    fake_gemini: FakeGemini,  # noqa: F811
    model: str,
    options: dict[str, Any],
    config: dict[str, Any],
) -> None:
    drain(interactions, req(model, options=options))
    assert fake_gemini.last().body["generation_config"] == config
