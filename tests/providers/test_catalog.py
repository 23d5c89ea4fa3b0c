"""The built-in catalog: the seven providers of API.md's table and model facts from providers.md."""

from __future__ import annotations

from responses_client.catalog import (
    BUILTIN_PROVIDERS,
    EFFORTS,
    INPUT_KINDS,
    OPTION_NAMES,
    PROTOCOLS,
    family_of,
    known_models,
    model_facts,
)


def test_the_table_of_providers_is_the_contracts() -> None:
    rows = [
        (p.name, p.protocol, p.key_env, p.base_url_env, p.default_model) for p in BUILTIN_PROVIDERS
    ]
    assert rows == [
        ("openai", "responses", "OPENAI_API_KEY", "OPENAI_BASE_URL", "gpt-5.4-mini"),
        ("anthropic", "anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "claude-sonnet-5-5"),
        ("gemini", "gemini", "GEMINI_API_KEY", "GEMINI_BASE_URL", "gemini-3.5-flash"),
        ("xai", "responses", "XAI_API_KEY", "XAI_BASE_URL", "grok-4.7"),
        (
            "deepseek",
            "chat_completions",
            "DEEPSEEK_API_KEY",
            "DEEPSEEK_BASE_URL",
            "deepseek-v4-flash",
        ),
        ("openrouter", "chat_completions", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", None),
        ("ollama", "chat_completions", None, "OLLAMA_BASE_URL", None),
    ]
    assert all(p.protocol in PROTOCOLS for p in BUILTIN_PROVIDERS)


def test_known_facts_and_unknown_ones() -> None:
    sonnet = model_facts("anthropic", "claude-sonnet-5-5")
    assert sonnet is not None
    assert (sonnet.context_window, sonnet.max_output_tokens) == (1_000_000, 128_000)
    assert "temperature" not in (sonnet.options or ()) and "top_p" not in (sonnet.options or ())
    # A dated Anthropic id is its model; an unknown Claude model has only the family's facts.
    assert model_facts("anthropic", "claude-sonnet-5-5-20260928") == sonnet
    other = model_facts("anthropic", "claude-next")
    assert other is not None and other.context_window is None and other.options == sonnet.options
    assert model_facts("gemini", "models/gemini-3.5-flash") == model_facts(
        "gemini", "gemini-3.5-flash"
    )
    assert model_facts("gemini", "gemini-9") is None
    assert model_facts("openai", "gpt-5.4-mini") is None  # the reference gives no figure
    assert model_facts(None, "anything") is None
    grok3 = model_facts("xai", "grok-3")
    assert (
        grok3 is not None
        and grok3.reasoning == ()
        and "reasoning_effort" not in (grok3.options or ())
    )


def test_families() -> None:
    assert family_of("anthropic", "anthropic") == "anthropic"
    assert family_of("claude2", "anthropic") == "anthropic"  # a further provider of that protocol
    assert family_of("gateway", "responses") is None
    assert family_of("deepseek", "chat_completions") == "deepseek"
    assert "grok-4.7" in known_models("xai") and "" not in known_models("anthropic")


def test_every_fact_uses_the_contracts_words() -> None:
    for family in ("anthropic", "gemini", "xai", "deepseek"):
        for model in known_models(family):
            facts = model_facts(family, model)
            assert facts is not None
            assert set(facts.input or ()) <= set(INPUT_KINDS)
            assert set(facts.reasoning or ()) <= set(EFFORTS)
            assert set(facts.options or ()) <= set(OPTION_NAMES)
            if facts.context_window and facts.max_output_tokens:
                assert facts.max_output_tokens <= facts.context_window
