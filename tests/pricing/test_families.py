"""quote() per provider family: the arithmetic against the data's own rates, cache and reasoning.

Each case starts from the provider's own usage fields, normalises them as that family's adapter
must (events.Finished: input inclusive of cache reads and writes, output inclusive of reasoning),
and checks the cost against the bundled data's rates worked out by hand.
"""

from __future__ import annotations

import genai_prices
import pytest

from responses_client.pricing import quote
from tests.pricing.conftest import AT, data_price, expected_usd, first_tier, must, usage

SOURCE = f"genai-prices {genai_prices.__version__}"


def test_openai_cache_reads_and_reasoning_inside_output() -> None:
    # Responses usage: input_tokens 12,000 (of which input_tokens_details.cached_tokens 8,000),
    # output_tokens 1,500 (of which output_tokens_details.reasoning_tokens 1,200).
    got = quote("openai", "gpt-5.4-mini", usage(12_000, 8_000, 0, 1_500, 1_200), at=AT)
    price = data_price("openai", "gpt-5.4-mini")
    assert got.cost_usd == pytest.approx(
        expected_usd(price, input_tokens=12_000, cached=8_000, output=1_500)
    )
    assert got.price == {
        "input": float(must(price, "input_mtok")),
        "cached_input": float(must(price, "cache_read_mtok")),
        "cache_write": float(must(price, "input_mtok")),  # OpenAI bills no cache writes
        "output": float(must(price, "output_mtok")),
        "source": SOURCE,
    }
    # Reasoning is inside output: saying how much of it there was changes nothing.
    same = quote("openai", "gpt-5.4-mini", usage(12_000, 8_000, 0, 1_500, 0), at=AT)
    assert same.cost_usd == got.cost_usd


def test_anthropic_cache_reads_and_writes() -> None:
    # Messages usage: input_tokens 100 (exclusive!), cache_read_input_tokens 5,000,
    # cache_creation_input_tokens 2,000, output_tokens 300: the adapter sums the input to 7,100.
    raw_input, read, write, out = 100, 5_000, 2_000, 300
    normalised = usage(raw_input + read + write, read, write, out)
    got = quote("anthropic", "claude-opus-5-5", normalised, at=AT)
    price = data_price("anthropic", "claude-opus-5-5")
    want = (
        raw_input * must(price, "input_mtok")
        + read * must(price, "cache_read_mtok")
        + write * must(price, "cache_write_mtok")
        + out * must(price, "output_mtok")
    ) / 1_000_000
    assert got.cost_usd == pytest.approx(float(want))
    assert got.price is not None
    assert got.price["cache_write"] == float(must(price, "cache_write_mtok"))
    assert got.price["cached_input"] == float(must(price, "cache_read_mtok"))


def test_anthropic_exclusive_input_is_refused_not_clamped() -> None:
    # Passing Anthropic's raw exclusive input would make cache reads exceed the input: that is
    # an adapter's mistake, so the price is unknown rather than a clamped guess.
    got = quote("anthropic", "claude-opus-5-5", usage(100, 5_000, 2_000, 300), at=AT)
    assert got.cost_usd is None and got.price is None


def test_anthropic_dated_id_is_the_same_price() -> None:
    a = quote("anthropic", "claude-opus-5-5-20260928", usage(1_000, 0, 0, 100), at=AT)
    b = quote("anthropic", "claude-opus-5-5", usage(1_000, 0, 0, 100), at=AT)
    assert a == b and a.cost_usd is not None


def test_gemini_is_googles_and_thoughts_count_as_output() -> None:
    # usageMetadata: promptTokenCount 20,000 (cachedContentTokenCount 15,000 inside it),
    # candidatesTokenCount 400, thoughtsTokenCount 600: output is their sum.
    normalised = usage(20_000, 15_000, 0, 400 + 600, 600)
    got = quote("gemini", "models/gemini-3.5-flash", normalised, at=AT)
    price = data_price("google", "gemini-3.5-flash")
    assert got.cost_usd == pytest.approx(
        expected_usd(price, input_tokens=20_000, cached=15_000, output=1_000)
    )
    assert got.price is not None and got.price["source"] == SOURCE
    # Gemini's echoed model version is looked up first, and the data knows it.
    echoed = quote(
        "gemini", "gemini-3.5-flash", normalised, echoed_model="gemini-3.5-flash-001", at=AT
    )
    assert echoed == got


def test_xai_is_x_ai_and_tiered_on_the_whole_request() -> None:
    price = data_price("x-ai", "grok-4.7")
    start, upper = first_tier(price)
    below = quote("xai", "grok-4.7", usage(start, 1_000, 0, 2_000, 500), at=AT)
    above = quote("xai", "grok-4.7", usage(start + 1, 1_000, 0, 2_000, 500), at=AT)
    assert below.cost_usd == pytest.approx(
        expected_usd(price, input_tokens=start, cached=1_000, output=2_000)
    )
    assert above.cost_usd == pytest.approx(
        expected_usd(price, input_tokens=start + 1, cached=1_000, output=2_000)
    )
    assert below.price is not None and above.price is not None
    assert "tier" not in below.price
    assert above.price["tier"] == start
    assert above.price["input"] == float(upper) != below.price["input"]
    # Every token pays the upper tier's rate once the input passes the start.
    assert above.price["output"] == float(must(price, "output_mtok", start + 1))


def test_deepseek_cache_hits_at_the_cache_rate() -> None:
    # DeepSeek usage: prompt_tokens 50,000 = prompt_cache_hit_tokens 40,000 + miss 10,000;
    # the adapter reports the hits as cached_tokens (genai-prices' own extractor misses them).
    normalised = usage(50_000, 40_000, 0, 2_000, 1_500)
    got = quote("deepseek", "deepseek-v4-flash", normalised, at=AT)
    price = data_price("deepseek", "deepseek-v4-flash")
    want = expected_usd(price, input_tokens=50_000, cached=40_000, output=2_000)
    assert got.cost_usd == pytest.approx(want)
    full = quote("deepseek", "deepseek-v4-flash", usage(50_000, 0, 0, 2_000), at=AT)
    assert full.cost_usd is not None and got.cost_usd is not None
    assert full.cost_usd > got.cost_usd


def test_deepseek_rates_of_the_hour_of_the_request() -> None:
    # The data prices some hours differently: the record keeps the rates that applied then.
    peak = AT.replace(hour=7)
    price = data_price("deepseek", "deepseek-v4-pro", at=peak)
    got = quote("deepseek", "deepseek-v4-pro", usage(10_000, 2_000, 0, 500), at=peak)
    assert got.price is not None and got.price["input"] == float(must(price, "input_mtok"))
    assert got.cost_usd == pytest.approx(
        expected_usd(price, input_tokens=10_000, cached=2_000, output=500)
    )
    calm = quote("deepseek", "deepseek-v4-pro", usage(10_000, 2_000, 0, 500), at=AT)
    assert calm.price is not None
    assert calm.price["input"] == float(
        must(data_price("deepseek", "deepseek-v4-pro"), "input_mtok")
    )


def test_openrouter_billed_cost_is_used_as_is() -> None:
    got = quote(
        "openrouter",
        "anthropic/claude-sonnet-5.5",
        usage(1_000, 0, 0, 100),
        billed_cost_usd=0.0031415,
    )
    assert got.cost_usd == 0.0031415
    assert got.price == {
        "input": None,
        "cached_input": None,
        "cache_write": None,
        "output": None,
        "source": "provider",
    }
    # A free model's bill of 0 is a real 0, not an unknown price.
    free = quote("openrouter", "x/some-model:free", usage(10, 0, 0, 10), billed_cost_usd=0)
    assert free.cost_usd == 0.0 and free.price is not None and free.price["source"] == "provider"


def test_openrouter_without_a_bill_uses_the_data_dotted_id() -> None:
    normalised = usage(3_000, 1_000, 500, 200)
    price = data_price("openrouter", "anthropic/claude-sonnet-5.5")
    want = expected_usd(price, input_tokens=3_000, cached=1_000, cache_write=500, output=200)
    dotted = quote("openrouter", "anthropic/claude-sonnet-5.5", normalised, at=AT)
    dashed = quote("openrouter", "anthropic/claude-sonnet-5-5", normalised, at=AT)
    assert dotted.cost_usd == pytest.approx(want)
    assert dashed == dotted


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "no-such-model"),
        ("anthropic", "claude-sonnet-5-5-but-not"),
        ("gemini", "models/gemini-unknown"),
        ("xai", "grok-4-7"),  # the data knows grok-4.7, not this spelling
        ("deepseek", "deepseek-nope"),
        ("openrouter", "vendor/unknown-model"),
        ("ollama", "llama3"),  # a local server: no price data, nothing configured
        ("local", "gpt-5.5"),  # a further provider is never priced by a name it happens to share
    ],
)
def test_an_unknown_price_is_null_both(provider: str, model: str) -> None:
    got = quote(provider, model, usage(1_000, 0, 0, 1_000), at=AT)
    assert got.cost_usd is None and got.price is None


def test_xai_echoed_snapshot_unknown_to_the_data_falls_back_to_the_requested() -> None:
    # xAI may echo a dated build (`grok-4.7-0916`) the data does not list: the requested name
    # prices it.
    u = usage(5_000, 1_000, 0, 800, 300)
    echoed = quote("xai", "grok-4.7", u, echoed_model="grok-4.7-0916", at=AT)
    assert echoed == quote("xai", "grok-4.7", u, at=AT) and echoed.cost_usd is not None
