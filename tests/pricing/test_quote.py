"""quote(): where a price comes from, which name is looked up, the record's shape, and no network."""

from __future__ import annotations

import json
import math
from typing import Any

import genai_prices
import pytest

from responses_client import pricing
from responses_client.pricing import Quote, price_of, quote
from tests.pricing.conftest import AT, data_price, expected_usd, first_tier, must, usage

SOURCE = f"genai-prices {genai_prices.__version__}"
RATES = {"input", "cached_input", "cache_write", "output"}


def test_record_shape_is_api_md_and_json() -> None:
    got = quote("openai", "gpt-5.5", usage(1_000, 100, 0, 10), at=AT)
    assert isinstance(got, Quote) and isinstance(got.cost_usd, float)
    assert got.price is not None and set(got.price) == RATES | {"source"}
    assert all(isinstance(got.price[k], float) for k in RATES)
    assert json.loads(json.dumps(got.price)) == got.price
    assert got.price["source"] == SOURCE == pricing.PRICE_DATA


def test_tiered_record_names_the_tier_that_applied() -> None:
    price = data_price("openai", "gpt-5.5")
    start, _ = first_tier(price)
    low = quote("openai", "gpt-5.5", usage(start, 0, 0, 100), at=AT)
    high = quote("openai", "gpt-5.5", usage(start + 1, 0, 0, 100), at=AT)
    assert low.price is not None and "tier" not in low.price
    assert high.price is not None and high.price["tier"] == start
    assert high.price["output"] == float(must(price, "output_mtok", start + 1))
    assert high.cost_usd == pytest.approx(expected_usd(price, input_tokens=start + 1, output=100))


def test_the_echoed_model_is_looked_up_first() -> None:
    u = usage(10_000, 0, 0, 1_000)
    requested = quote("openai", "gpt-5.4-mini", u, at=AT)
    # The provider said another model answered, and the data knows it: its price applies.
    echoed = quote("openai", "gpt-5.4-mini", u, echoed_model="gpt-5.5", at=AT)
    assert echoed == quote("openai", "gpt-5.5", u, at=AT) != requested
    # An echoed name the data does not know falls back to the requested one.
    odd = quote("openai", "gpt-5.4-mini", u, echoed_model="gpt-5.4-mini-experimental-x", at=AT)
    assert odd == requested


def test_the_service_tier_reported_selects_its_rates() -> None:
    u = usage(10_000, 2_000, 0, 1_000)
    flex_price = data_price("openai", "gpt-5.5", context={"service_tier": "flex"})
    flex = quote("openai", "gpt-5.5", u, service_tier="flex", at=AT)
    default = quote("openai", "gpt-5.5", u, service_tier="default", at=AT)
    assert flex.cost_usd == pytest.approx(
        expected_usd(flex_price, input_tokens=10_000, cached=2_000, output=1_000)
    )
    assert default == quote("openai", "gpt-5.5", u, at=AT)
    assert flex.cost_usd is not None and default.cost_usd is not None
    assert flex.cost_usd < default.cost_usd


def test_override_is_configured_and_beats_the_data() -> None:
    rates = {"input": 1.0, "output": 4.0, "cached_input": 0.25, "cache_write": 1.5}
    got = quote("openai", "gpt-5.5", usage(10_000, 4_000, 1_000, 2_000), override=rates, at=AT)
    want = (5_000 * 1.0 + 4_000 * 0.25 + 1_000 * 1.5 + 2_000 * 4.0) / 1e6
    assert got.cost_usd == pytest.approx(want)
    assert got.price == {**rates, "source": "configured"}


def test_override_without_cache_rates_charges_the_input_rate() -> None:
    got = quote(
        "local", "llama-4-8b", usage(1_000, 600, 0, 100), override={"input": 2, "output": 8}
    )
    assert got.cost_usd == pytest.approx((1_000 * 2 + 100 * 8) / 1e6)
    assert got.price == {
        "input": 2.0,
        "cached_input": 2.0,
        "cache_write": 2.0,
        "output": 8.0,
        "source": "configured",
    }


def test_a_free_local_model_configured_costs_zero() -> None:
    got = quote("ollama", "llama3", usage(1_000, 0, 0, 1_000), override={"input": 0, "output": 0})
    assert got.cost_usd == 0.0 and got.price is not None and got.price["source"] == "configured"


@pytest.mark.parametrize(
    "override",
    [
        {"input": 1.0},
        {"output": 1.0},
        {"input": -1.0, "output": 1.0},
        {"input": math.nan, "output": 1.0},
        {"input": True, "output": 1.0},
        {"input": "1", "output": 1.0},
        {"input": 1.0, "output": 1.0, "cached_input": None},
    ],
)
def test_a_broken_override_is_unknown_not_the_data(override: dict[str, object]) -> None:
    assert quote("openai", "gpt-5.5", usage(10, 0, 0, 10), override=override) == pricing.UNKNOWN


def test_the_providers_bill_beats_the_override() -> None:
    got = quote(
        "openrouter",
        "x/y",
        usage(10, 0, 0, 10),
        billed_cost_usd=0.5,
        override={"input": 1, "output": 1},
    )
    assert got.cost_usd == 0.5 and got.price is not None and got.price["source"] == "provider"


@pytest.mark.parametrize("bill", [None, -0.1, math.inf, math.nan, True, "0.1"])
def test_a_bill_that_is_not_a_figure_is_ignored(bill: object) -> None:
    bill_as_sent: Any = bill  # whatever an adapter might carry
    got = quote(
        "openrouter", "openai/gpt-5.5", usage(1_000, 0, 0, 10), billed_cost_usd=bill_as_sent, at=AT
    )
    assert got.price is not None and got.price["source"] == SOURCE


def test_price_provider_prices_a_further_provider() -> None:
    u = usage(1_000, 0, 0, 100)
    assert quote("work", "gpt-5.5", u, at=AT) == pricing.UNKNOWN
    assert quote("work", "gpt-5.5", u, price_provider="openai", at=AT) == quote(
        "openai", "gpt-5.5", u, at=AT
    )
    # Our names are accepted there too (gemini is the data's google).
    assert quote("work", "gemini-3.5-flash", u, price_provider="gemini", at=AT).price is not None
    assert quote("work", "gpt-5.5", u, price_provider="no-such-data-provider") == pricing.UNKNOWN


def test_no_usage_is_unknown_and_no_tokens_cost_nothing() -> None:
    assert quote("openai", "gpt-5.5", None) == pricing.UNKNOWN
    empty = quote("openai", "gpt-5.5", {}, at=AT)
    assert empty.cost_usd == 0.0 and empty.price is not None


def test_odd_counts_count_as_nothing() -> None:
    odd = {"input_tokens": -5, "cached_tokens": True, "output_tokens": 1_000, "x": "y"}
    assert quote("openai", "gpt-5.5", odd, at=AT) == quote(
        "openai", "gpt-5.5", {"output_tokens": 1_000}, at=AT
    )


def test_price_of_is_the_list_price() -> None:
    listed = price_of("gemini", "gemini-3.5-flash")
    price = data_price("google", "gemini-3.5-flash")
    assert listed is not None and listed["input"] == float(must(price, "input_mtok"))
    assert "tier" not in (price_of("openai", "gpt-5.5") or {"tier": 1})
    assert price_of("ollama", "llama3") is None
    assert price_of("ollama", "llama3", override={"input": 0, "output": 0}) == {
        "input": 0.0,
        "cached_input": 0.0,
        "cache_write": 0.0,
        "output": 0.0,
        "source": "configured",
    }


def test_the_updater_is_never_started() -> None:
    # The autouse fixture refuses sockets and UpdatePrices; a quote still works, from the
    # bundled data, and no custom snapshot (what the updater installs) appears.
    from genai_prices import data_snapshot

    assert quote("openai", "gpt-5.5", usage(1, 0, 0, 1)).cost_usd is not None
    assert data_snapshot.get_snapshot().from_auto_update is False


def test_the_price_data_can_be_loaded_ahead() -> None:
    pricing.load_price_data()
    assert quote("openai", "gpt-5.5", usage(1, 0, 0, 1)).price is not None
