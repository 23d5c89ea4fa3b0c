"""Per-model options (API.md "Providers", **Options**): the value checks, and what each model family
takes per providers.md and responses-api.md, with the providers file's override."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.turns import BadOptionRequest, ChatSettings
from app.turns.turn_options import candidate_options, turn_options
from responses_client.adapters import gemini_options
from responses_client.adapters.anthropic_messages import EFFORTS as ANTHROPIC_EFFORTS
from responses_client.adapters.openai_chat import DEEPSEEK_EFFORT
from responses_client.catalog import EFFORT_MAPS, EFFORTS, OPTION_NAMES
from responses_client.configure import build_registry
from responses_client.options import (
    BadOption,
    OptionRules,
    accepted,
    check_options,
    rules_for,
)
from responses_client.registry import ProviderRegistry

KEY = "sk-test-options-0000"
SETTINGS = ChatSettings(default_model="gpt-5.4-mini", default_provider="openai", instructions="")
FILE = """
[models."openai:gpt-5.4-mini"]
options = ["temperature", "max_output_tokens"]
max_output_tokens = 8000

[models."anthropic:claude-sonnet-5-5"]
options = ["temperature", "thinking"]
"""


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[ProviderRegistry]:
    path = tmp_path / "providers.toml"
    path.write_text(FILE)
    env = {
        "CHAT_PROVIDERS_FILE": str(path),
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "GEMINI_API_KEY": KEY,
        "GEMINI_BASE_URL": "http://127.0.0.1:9",
        "XAI_API_KEY": KEY,
        "XAI_BASE_URL": "http://127.0.0.1:9/v1",
        "DEEPSEEK_API_KEY": KEY,
        "DEEPSEEK_BASE_URL": "http://127.0.0.1:9",
        "OPENROUTER_API_KEY": KEY,
        "OPENROUTER_BASE_URL": "http://127.0.0.1:9/api/v1",
    }
    built = build_registry(env)
    yield built
    built.close()


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[ProviderRegistry]:
    """The same providers with no providers file: the built-in tables alone."""
    env = {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
    }
    built = build_registry(env)
    yield built
    built.close()


def refused(registry: ProviderRegistry, provider: str, model: str, options: dict[str, Any]) -> str:
    """The option named by the 400 the turn gets for `options` on `provider:model`."""
    chosen = (registry.providers[provider], model)
    with pytest.raises(BadOptionRequest) as caught:
        turn_options(registry, options, {}, chosen, SETTINGS)
    assert caught.value.code == "bad_option"
    return caught.value.option


def taken(registry: ProviderRegistry, provider: str, model: str, options: dict[str, Any]) -> Any:
    return turn_options(registry, options, {}, (registry.providers[provider], model), SETTINGS)


# -- values ---------------------------------------------------------------------------------------


def test_every_value_of_the_contract_is_accepted() -> None:
    options = {
        "reasoning_effort": "xhigh",
        "reasoning_summary": "concise",
        "verbosity": "low",
        "temperature": 0.7,
        "top_p": 1,
        "max_output_tokens": 1,
        "thinking": "adaptive",
    }
    assert check_options(options) == options
    for effort in EFFORTS:
        assert check_options({"reasoning_effort": effort}) == {"reasoning_effort": effort}
    assert check_options({"temperature": 0, "top_p": 0}) == {"temperature": 0, "top_p": 0}
    assert check_options({"temperature": 2}) == {"temperature": 2}
    assert check_options({"temperature": None}) == {}  # null: not set
    # The contract's order, whatever the body's.
    assert list(check_options({"thinking": "on", "temperature": 1})) == ["temperature", "thinking"]


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"seed": 3}, "seed"),
        ({"reasoning_effort": "none"}, "reasoning_effort"),
        ({"reasoning_effort": "HIGH"}, "reasoning_effort"),
        ({"reasoning_summary": "short"}, "reasoning_summary"),
        ({"verbosity": 2}, "verbosity"),
        ({"thinking": True}, "thinking"),
        ({"temperature": 2.01}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": "0.5"}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": 12.0}, "max_output_tokens"),
        ({"max_output_tokens": False}, "max_output_tokens"),
        ({"temperature": 0.5, "safety_settings": {}}, "safety_settings"),
    ],
)
def test_unknown_keys_values_types_and_ranges_name_the_option(
    options: dict[str, Any], name: str
) -> None:
    with pytest.raises(BadOption) as caught:
        check_options(options)
    assert caught.value.option == name


def test_max_output_tokens_is_bounded_by_the_smaller_limit(
    registry: ProviderRegistry, plain: ProviderRegistry
) -> None:
    assert check_options({"max_output_tokens": 500}, max_output_tokens=500)
    with pytest.raises(BadOption):
        check_options({"max_output_tokens": 501}, max_output_tokens=500)
    # CHAT_MAX_OUTPUT_TOKENS (16,000 here) under the model's 128k (Sonnet 5.5)...
    assert taken(plain, "anthropic", "claude-sonnet-5-5", {"max_output_tokens": 16_000})
    name = refused(plain, "anthropic", "claude-sonnet-5-5", {"max_output_tokens": 16_001})
    assert name == "max_output_tokens"
    # ... and the model's limit (the file's 8,000) under CHAT_MAX_OUTPUT_TOKENS.
    assert taken(registry, "openai", "gpt-5.4-mini", {"max_output_tokens": 8000})
    assert refused(registry, "openai", "gpt-5.4-mini", {"max_output_tokens": 8001})


# -- families -------------------------------------------------------------------------------------


def test_claude_refuses_temperature_top_p_and_verbosity(plain: ProviderRegistry) -> None:
    for model in ("claude-sonnet-5-5", "claude-opus-5-5", "claude-next-7", "claude-haiku-4-5"):
        assert refused(plain, "anthropic", model, {"temperature": 0.2}) == "temperature"
        assert refused(plain, "anthropic", model, {"top_p": 0.9}) == "top_p"
        assert refused(plain, "anthropic", model, {"verbosity": "low"}) == "verbosity"
    ok = {"reasoning_effort": "high", "thinking": "on", "max_output_tokens": 100}
    assert taken(plain, "anthropic", "claude-sonnet-5-5", ok) == ok


def test_claude_efforts_and_thinking(plain: ProviderRegistry) -> None:
    # "minimal" is sent as "low" (no minimal in output_config.effort): taken.
    assert taken(plain, "anthropic", "claude-sonnet-5-5", {"reasoning_effort": "minimal"})
    assert taken(plain, "anthropic", "claude-sonnet-5-5", {"thinking": "off"})
    # Opus 5.5 cannot turn thinking off (providers.md §1.8).
    assert refused(plain, "anthropic", "claude-opus-5-5", {"thinking": "off"}) == "thinking"
    assert taken(plain, "anthropic", "claude-opus-5-5", {"thinking": "adaptive"})
    # A dated id is its model.
    assert refused(plain, "anthropic", "claude-opus-5-5-20260928", {"thinking": "off"})


def test_openai_reasoning_models_per_the_reference(plain: ProviderRegistry) -> None:
    # o4-mini: temperature/top_p rejected, efforts low/medium/high, summaries auto/detailed.
    assert refused(plain, "openai", "o4-mini", {"temperature": 1}) == "temperature"
    assert refused(plain, "openai", "o4-mini", {"top_p": 0.5}) == "top_p"
    assert refused(plain, "openai", "o4-mini", {"reasoning_effort": "minimal"}) == (
        "reasoning_effort"
    )
    assert refused(plain, "openai", "o4-mini-2025-04-16", {"reasoning_effort": "xhigh"})
    assert refused(plain, "openai", "o4-mini", {"reasoning_summary": "concise"}) == (
        "reasoning_summary"
    )
    ok = {"reasoning_effort": "high", "reasoning_summary": "detailed", "verbosity": "low"}
    assert taken(plain, "openai", "o4-mini", ok) == ok
    # o1-mini: no effort, no summaries, no sampling.
    assert refused(plain, "openai", "o1-mini", {"reasoning_effort": "low"}) == "reasoning_effort"
    # A model the reference says nothing of takes every option the protocol can send...
    anything = {"temperature": 1.5, "top_p": 0.3, "reasoning_effort": "max", "verbosity": "high"}
    assert taken(plain, "openai", "gpt-5.4-mini", anything) == anything
    # ... but Responses has no thinking switch.
    assert refused(plain, "openai", "gpt-5.4-mini", {"thinking": "on"}) == "thinking"


def test_gemini_thinking_values(registry: ProviderRegistry) -> None:
    for effort in EFFORTS:  # "max" is Gemini 3's XHIGH
        assert taken(registry, "gemini", "gemini-3.5-flash", {"reasoning_effort": effort})
    for mode in ("on", "off", "adaptive"):
        assert taken(registry, "gemini", "gemini-3.5-flash", {"thinking": mode})
    ok = {"temperature": 0.2, "top_p": 0.8, "reasoning_summary": "none"}
    assert taken(registry, "gemini", "gemini-2.5-flash", ok) == ok
    assert refused(registry, "gemini", "gemini-3.5-flash", {"verbosity": "low"}) == "verbosity"


def test_efforts_per_model(registry: ProviderRegistry) -> None:
    # grok-4.5 takes low/medium/high; grok-4.7 up to xhigh; grok-3 no effort at all.
    assert refused(registry, "xai", "grok-4.5", {"reasoning_effort": "xhigh"})
    assert taken(registry, "xai", "grok-4.7", {"reasoning_effort": "xhigh"})
    assert refused(registry, "xai", "grok-4.7", {"reasoning_effort": "max"})
    assert refused(registry, "xai", "grok-3", {"reasoning_effort": "low"}) == "reasoning_effort"
    # DeepSeek maps minimal/medium/xhigh onto low/high (its docs): taken.
    for effort in EFFORTS:
        assert taken(registry, "deepseek", "deepseek-v4-flash", {"reasoning_effort": effort})
    assert refused(registry, "deepseek", "deepseek-v4-flash", {"verbosity": "low"})
    # OpenRouter passes efforts through (nothing known of the model).
    assert taken(registry, "openrouter", "some/model", {"reasoning_effort": "minimal"})


def test_the_providers_file_overrides_the_tables(registry: ProviderRegistry) -> None:
    # The file says gpt-5.4-mini takes temperature and max_output_tokens only.
    assert taken(registry, "openai", "gpt-5.4-mini", {"temperature": 0.3})
    assert refused(registry, "openai", "gpt-5.4-mini", {"top_p": 0.3}) == "top_p"
    assert refused(registry, "openai", "gpt-5.4-mini", {"verbosity": "low"}) == "verbosity"
    # The file lets Sonnet take temperature, but the Messages API cannot send it: still refused.
    assert refused(registry, "anthropic", "claude-sonnet-5-5", {"temperature": 0.3})
    assert taken(registry, "anthropic", "claude-sonnet-5-5", {"thinking": "on"})
    assert refused(registry, "anthropic", "claude-sonnet-5-5", {"reasoning_effort": "low"})


def test_a_turn_without_options_keeps_the_conversations(registry: ProviderRegistry) -> None:
    kept = {"temperature": 0.5}
    chosen = (registry.providers["anthropic"], "claude-sonnet-5-5")
    # Never refused: they are the conversation's, dropped per candidate instead.
    assert turn_options(registry, None, kept, chosen, SETTINGS) == kept
    assert turn_options(registry, {}, kept, chosen, SETTINGS) == {}  # an empty object clears


def test_candidates_get_only_what_they_take(plain: ProviderRegistry) -> None:
    options = {"temperature": 0.5, "reasoning_effort": "minimal", "max_output_tokens": 200_000}
    sent, dropped = candidate_options(plain, options, "anthropic", "claude-sonnet-5-5")
    # Over Sonnet's 128k output limit: lowered to it.
    assert sent == {"reasoning_effort": "minimal", "max_output_tokens": 128_000}
    assert dropped == ("temperature",)
    sent, dropped = candidate_options(plain, options, "openai", "o4-mini")
    assert sent == {"max_output_tokens": 200_000} and dropped == (
        "temperature",
        "reasoning_effort",
    )
    assert candidate_options(plain, {}, "openai", "o4-mini") == ({}, ())


def test_accepted_with_plain_tables() -> None:
    options = {"temperature": 1.0, "reasoning_effort": "xhigh", "verbosity": "low"}
    assert accepted(options) == (options, [])
    assert accepted(options, ("verbosity", "reasoning_effort"), ("low", "high")) == (
        {"verbosity": "low"},
        ["temperature", "reasoning_effort"],
    )
    assert accepted(options, None, ()) == (
        {"temperature": 1.0, "verbosity": "low"},
        ["reasoning_effort"],
    )
    rules = OptionRules(efforts=("low", "high"), effort_map={"xhigh": "high"})
    assert accepted(options, rules=rules) == (options, [])


def test_rules_for_a_provider_the_tables_do_not_know(plain: ProviderRegistry) -> None:
    rules = rules_for(plain, "openai", "gpt-5.4-mini")
    assert rules.efforts is None
    assert set(rules.takes or ()) == set(OPTION_NAMES) - {"thinking"}
    assert rules_for(plain, "nowhere", "x") == OptionRules()


def test_the_effort_maps_are_the_adapters() -> None:
    # One mapping for the check and the wire: what the check maps is what the adapter sends.
    for effort, mapped in EFFORT_MAPS["anthropic"].items():
        assert ANTHROPIC_EFFORTS[effort] == mapped
    for effort, mapped in EFFORT_MAPS["deepseek"].items():
        assert DEEPSEEK_EFFORT[effort] == mapped
    for effort, mapped in EFFORT_MAPS["gemini"].items():
        assert gemini_options.THINKING_LEVELS[effort] == mapped.upper()
