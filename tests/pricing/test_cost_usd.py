"""pricing.quote's cost: offline genai-prices, cache reads, reasoning in output, None when unknown."""

from __future__ import annotations

import pytest

from responses_client import pricing


def cost_usd(model: str, provider: str, usage: dict[str, int] | None) -> float | None:
    return pricing.quote(provider, model, usage).cost_usd


def usage(inp: int = 0, cached: int = 0, out: int = 0, reasoning: int = 0) -> dict[str, int]:
    return {
        "input_tokens": inp,
        "cached_tokens": cached,
        "output_tokens": out,
        "reasoning_tokens": reasoning,
        "total_tokens": inp + out,
    }


def test_known_model_input_and_output() -> None:
    # gpt-4.1-mini: $0.40 / M input, $1.60 / M output.
    assert cost_usd("gpt-4.1-mini", "openai", usage(1_000_000, 0, 0)) == pytest.approx(0.4)
    assert cost_usd("gpt-4.1-mini", "openai", usage(0, 0, 1_000_000)) == pytest.approx(1.6)


def test_cached_tokens_priced_as_cache_reads() -> None:
    full = cost_usd("gpt-4.1-mini", "openai", usage(1000, 0, 500))
    cached = cost_usd("gpt-4.1-mini", "openai", usage(1000, 200, 500))
    assert full is not None and cached is not None
    # 200 tokens move from $0.40/M to $0.10/M.
    assert full - cached == pytest.approx(200 * (0.40 - 0.10) / 1e6)


def test_reasoning_is_inside_output_not_added_again() -> None:
    a = cost_usd("gpt-5", "openai", usage(100, 0, 1000, reasoning=0))
    b = cost_usd("gpt-5", "openai", usage(100, 0, 1000, reasoning=800))
    assert a == b


def test_snapshot_names_resolve() -> None:
    assert cost_usd("gpt-4.1-mini-2025-04-14", "openai", usage(10, 0, 10)) == cost_usd(
        "gpt-4.1-mini", "openai", usage(10, 0, 10)
    )


@pytest.mark.parametrize(
    ("model", "provider"),
    [("fake-model", "openai"), ("llama3", "openai"), ("gpt-4.1-mini", "no-such-provider")],
)
def test_unknown_price_is_none(model: str, provider: str) -> None:
    assert cost_usd(model, provider, usage(1000, 0, 1000)) is None


def test_no_usage_is_none() -> None:
    assert cost_usd("gpt-4.1-mini", "openai", None) is None


def test_a_local_model_priced_free_in_the_file_costs_zero() -> None:
    free = {"input": 0.0, "output": 0.0}
    assert pricing.quote("ollama", "llama3", usage(1000, 0, 1000), override=free).cost_usd == 0.0
    assert pricing.quote("ollama", "llama3", usage(1000, 0, 1000)).cost_usd is None


def test_rounded_to_10_places_and_float() -> None:
    c = cost_usd("gpt-4.1-mini", "openai", usage(19, 0, 8))
    assert isinstance(c, float)
    assert c == round(c, 10) and c > 0


def test_missing_fields_count_as_zero() -> None:
    assert cost_usd("gpt-4.1-mini", "openai", {"output_tokens": 1_000_000}) == pytest.approx(1.6)


def test_updater_not_started() -> None:
    import genai_prices.data_snapshot as snap

    cost_usd("gpt-4.1-mini", "openai", usage(1, 0, 1))
    assert snap._custom_snapshot is None
    assert pricing.PROVIDER_IDS["openai"] == "openai"


def test_gemini_resource_name_is_priced() -> None:
    # Defect in the first cost_usd: `models/gemini-3.5-flash` was unknown (the data lacks the prefix).
    assert cost_usd("models/gemini-3.5-flash", "gemini", usage(1000, 0, 100)) == cost_usd(
        "gemini-3.5-flash", "gemini", usage(1000, 0, 100)
    )
    assert cost_usd("models/gemini-3.5-flash", "gemini", usage(1000, 0, 100)) is not None


def test_cache_reads_above_the_input_are_unknown_not_clamped() -> None:
    # Defect in the first cost_usd: Anthropic's exclusive input (100) with 5,000 cache reads was
    # clamped to 100 cached tokens, a guess far below the bill.
    assert cost_usd("claude-opus-5-5", "anthropic", usage(100, 5000, 300)) is None
