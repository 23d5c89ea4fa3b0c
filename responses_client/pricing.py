"""Usage -> an honest cost: the USD figure and the rates it was priced at, or None when unknown.

The price of a reply comes, in this order, from what the provider billed itself (OpenRouter's
`usage.cost`), the operator's override in the providers file (`{input, output, cached_input?,
cache_write?}`, USD per million tokens), or genai-prices' bundled offline data (API.md "Cost").
An unknown price is None, never 0 and never a guess.

Usage arrives normalised the same for every provider (see `events.Finished`): `input_tokens`
counts all input, cache reads (`cached_tokens`) and cache writes (`cache_write_tokens`) included;
`output_tokens` counts reasoning too. That is genai-prices' own convention, so the figures pass
through unchanged: summing Anthropic's exclusive input, or reading DeepSeek's
`prompt_cache_hit_tokens`, is each adapter's job, and a usage whose cache counts exceed its
input is refused here (priced None) rather than clamped into a guess.

Imports no Flask and no SDK; never starts genai-prices' updater (`UpdatePrices`), so nothing here
touches the network.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import genai_prices
from genai_prices import Usage, calc_price, data_snapshot
from genai_prices.types import ModelPrice, TieredPrices

logger = logging.getLogger(__name__)

# The price record's `source` for rates read from the bundled data.
PRICE_DATA = f"genai-prices {genai_prices.__version__}"
CONFIGURED = "configured"
BILLED = "provider"

# Our provider names -> genai-prices provider ids. Only these names are priced from the data: a
# further provider (a local server, a proxy) is priced only from its `price_provider` or the file.
PROVIDER_IDS: dict[str, str] = {
    "openai": "openai",
    "azure": "azure",
    "anthropic": "anthropic",
    "gemini": "google",
    "google": "google",
    "xai": "x-ai",
    "x-ai": "x-ai",
    "deepseek": "deepseek",
    "openrouter": "openrouter",
}

_PER_MILLION = Decimal(1_000_000)
# A version written with a dash between single digits (`claude-sonnet-5-5`), as OpenRouter's ids
# write it with a dot (`anthropic/claude-sonnet-5.5`); dates (`-20260928`) are left alone.
_DASHED_VERSION = re.compile(r"(?<!\d)(\d)-(\d)(?!\d)")


@dataclass(frozen=True)
class Quote:
    """A reply's cost in USD and the price record it was computed from; both None when unknown."""

    cost_usd: float | None
    price: dict[str, Any] | None


UNKNOWN = Quote(cost_usd=None, price=None)


@dataclass(frozen=True)
class _Tokens:
    """One reply's token counts as the price arithmetic needs them (all inclusive, see above)."""

    input: int
    cached: int
    cache_write: int
    output: int

    @property
    def plain_input(self) -> int:
        """Input that was neither read from nor written to a cache."""
        return self.input - self.cached - self.cache_write


def _count(usage: Mapping[str, object], key: str) -> int:
    value = usage.get(key)
    # bool is an int, and a negative count is nonsense: both count as nothing.
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _tokens(usage: Mapping[str, object]) -> _Tokens | None:
    tokens = _Tokens(
        input=_count(usage, "input_tokens"),
        cached=_count(usage, "cached_tokens"),
        cache_write=_count(usage, "cache_write_tokens"),
        output=_count(usage, "output_tokens"),
    )
    if tokens.plain_input < 0:
        return None  # cache counts beyond the input: the usage was not normalised
    return tokens


def _rate(value: object) -> Decimal | None:
    """An override's rate as a Decimal (finite, not negative), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    rate = Decimal(str(value))
    return rate if rate.is_finite() and rate >= 0 else None


def _usd(value: Decimal) -> float:
    return round(float(value), 10)


def _record(
    input_rate: Decimal,
    cached_rate: Decimal,
    write_rate: Decimal,
    output_rate: Decimal,
    source: str,
    tier: int | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "input": float(input_rate),
        "cached_input": float(cached_rate),
        "cache_write": float(write_rate),
        "output": float(output_rate),
        "source": source,
    }
    if tier is not None:
        record["tier"] = tier
    return record


def _arithmetic(tokens: _Tokens, record: Mapping[str, Any]) -> Decimal:
    """USD for `tokens` at a record's rates (each token counted once, in its own class)."""
    total = (
        tokens.plain_input * Decimal(str(record["input"]))
        + tokens.cached * Decimal(str(record["cached_input"]))
        + tokens.cache_write * Decimal(str(record["cache_write"]))
        + tokens.output * Decimal(str(record["output"]))
    )
    return total / _PER_MILLION


def _configured(tokens: _Tokens, override: Mapping[str, object]) -> Quote:
    """The operator's rates: cache reads and writes cost the input rate unless the file says."""
    input_rate, output_rate = _rate(override.get("input")), _rate(override.get("output"))
    if input_rate is None or output_rate is None:
        logger.warning("price override without a valid input and output rate: price unknown")
        return UNKNOWN
    cached = _rate(override.get("cached_input")) if "cached_input" in override else input_rate
    write = _rate(override.get("cache_write")) if "cache_write" in override else input_rate
    if cached is None or write is None:
        logger.warning("price override with an invalid cache rate: price unknown")
        return UNKNOWN
    record = _record(input_rate, cached, write, output_rate, CONFIGURED)
    return Quote(cost_usd=_usd(_arithmetic(tokens, record)), price=record)


def _billed(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _names(model: str, provider_id: str) -> Iterator[str]:
    """The spellings of one model id to look up, the id as given first."""
    # Gemini's resource names (`models/gemini-3.5-flash`) are unknown to the data under the prefix.
    name = model.removeprefix("models/")
    yield name
    if provider_id == "openrouter":
        dotted = _DASHED_VERSION.sub(r"\1.\2", name)
        if dotted != name:
            yield dotted


def _tiered(value: object, input_tokens: int) -> tuple[Decimal | None, int | None]:
    """The rate that applies at `input_tokens` and, for tiered prices, the tier's threshold.

    As genai-prices does: a tier applies to the whole request once the input passes its start.
    """
    if isinstance(value, TieredPrices):
        for tier in reversed(value.tiers):
            if input_tokens > tier.start:
                return tier.price, tier.start
        return value.base, None
    return (value, None) if isinstance(value, Decimal) else (None, None)


def _data_record(model_price: ModelPrice, input_tokens: int) -> dict[str, Any] | None:
    """The rates genai-prices used, or None when the data lacks a token rate for text in and out.

    A class of tokens without its own rate is charged by the data at the input rate (its parent
    unit), so the record says the input rate there too: the rates that actually applied.
    """
    input_rate, input_tier = _tiered(getattr(model_price, "input_mtok", None), input_tokens)
    output_rate, output_tier = _tiered(getattr(model_price, "output_mtok", None), input_tokens)
    if input_rate is None or output_rate is None:
        return None
    cached, cached_tier = _tiered(getattr(model_price, "cache_read_mtok", None), input_tokens)
    write, write_tier = _tiered(getattr(model_price, "cache_write_mtok", None), input_tokens)
    tiers = [t for t in (input_tier, output_tier, cached_tier, write_tier) if t is not None]
    return _record(
        input_rate,
        input_rate if cached is None else cached,
        input_rate if write is None else write,
        output_rate,
        PRICE_DATA,
        max(tiers) if tiers else None,
    )


def _from_data(
    tokens: _Tokens,
    provider_id: str,
    names: list[str],
    *,
    at: datetime,
    context: dict[str, str] | None,
) -> Quote:
    priced = Usage(
        input_tokens=tokens.input,
        cache_read_tokens=tokens.cached,
        cache_write_tokens=tokens.cache_write,
        output_tokens=tokens.output,
    )
    for name in names:
        try:
            calc = calc_price(
                priced,
                name,
                provider_id=provider_id,
                genai_request_timestamp=at,
                price_context=context,
            )
        except LookupError:
            continue
        except Exception:  # a data quirk must never break saving a reply
            logger.warning("price lookup failed for model=%r provider=%s", name, provider_id)
            return UNKNOWN
        record = _data_record(calc.model_price, tokens.input)
        if record is not None:
            return Quote(cost_usd=_usd(calc.total_price), price=record)
        # Known, but without a token rate (an entry with no prices): try the next name.
    logger.info("no price for model=%r provider=%s", names[-1] if names else None, provider_id)
    return UNKNOWN


def quote(
    provider: str,
    model: str,
    usage: Mapping[str, object] | None,
    *,
    echoed_model: str | None = None,
    billed_cost_usd: float | None = None,
    override: Mapping[str, object] | None = None,
    price_provider: str | None = None,
    service_tier: str | None = None,
    at: datetime | None = None,
) -> Quote:
    """Price one reply of `provider:model`: the provider's bill, the file's rates or the data's.

    `echoed_model` (the model the provider said answered) is looked up first when the data knows
    it, else `model`. `price_provider` is the data's provider id for a provider not in
    `PROVIDER_IDS`; `service_tier` the tier the provider reported (OpenAI `flex`, `priority`),
    which selects that tier's rates; `at` the time of the request (default now: some rates
    change with the date or the hour).
    """
    billed = _billed(billed_cost_usd)
    if billed is not None:
        rates = dict.fromkeys(("input", "cached_input", "cache_write", "output"))
        return Quote(cost_usd=round(billed, 10), price={**rates, "source": BILLED})
    if usage is None:
        return UNKNOWN
    tokens = _tokens(usage)
    if tokens is None:
        logger.warning("usage with cache counts above its input for model=%r: price unknown", model)
        return UNKNOWN
    if override is not None:
        return _configured(tokens, override)
    if price_provider:
        provider_id: str | None = PROVIDER_IDS.get(price_provider, price_provider)
    else:
        provider_id = PROVIDER_IDS.get(provider)
    if provider_id is None:
        logger.info("no price data for provider=%s", provider)
        return UNKNOWN
    names: list[str] = []
    for candidate in (echoed_model, model):
        if candidate:
            names.extend(n for n in _names(candidate, provider_id) if n not in names)
    context = {"service_tier": service_tier} if service_tier else None
    return _from_data(tokens, provider_id, names, at=at or datetime.now(tz=UTC), context=context)


def load_price_data() -> None:
    """Load the bundled price data now (about 50 ms, once a process) rather than in a first turn."""
    data_snapshot.get_snapshot()


def price_of(
    provider: str,
    model: str,
    *,
    override: Mapping[str, object] | None = None,
    price_provider: str | None = None,
) -> dict[str, Any] | None:
    """A model's list price (its base tier's record, for `GET /providers`); None when unknown."""
    return quote(provider, model, {}, override=override, price_provider=price_provider).price
