"""Pricing tests' helpers: the bundled price data's own rates, and a process without a network."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from genai_prices import data_snapshot
from genai_prices.types import ModelPrice, TieredPrices

# A fixed request time: some rates change with the date (DeepSeek's price changes) or the hour
# (DeepSeek's peak windows), so every figure is taken at one known moment.
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MILLION = Decimal(1_000_000)


def data_price(
    provider_id: str, model: str, at: datetime = AT, context: Mapping[str, str] | None = None
) -> ModelPrice:
    """The data's price entry for a model at `at`, read straight from the bundled snapshot."""
    _, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)
    return info.get_prices(at, dict(context) if context else None)


def rate(price: ModelPrice, key: str, input_tokens: int = 0) -> Decimal | None:
    """One rate of an entry, its tier chosen by the whole request's input (as the data says)."""
    value = getattr(price, key)
    if isinstance(value, TieredPrices):
        chosen = value.base
        for tier in value.tiers:
            if input_tokens > tier.start:
                chosen = tier.price
        return chosen
    return value


def must(price: ModelPrice, key: str, input_tokens: int = 0) -> Decimal:
    """A rate the entry is known to have."""
    value = rate(price, key, input_tokens)
    assert value is not None, key
    return value


def first_tier(price: ModelPrice, key: str = "input_mtok") -> tuple[int, Decimal]:
    """The start and rate of a tiered rate's first tier above its base."""
    value = getattr(price, key)
    assert isinstance(value, TieredPrices), key
    return value.tiers[0].start, value.tiers[0].price


def expected_usd(
    price: ModelPrice,
    *,
    input_tokens: int,
    cached: int = 0,
    cache_write: int = 0,
    output: int,
) -> float:
    """The cost by hand: each class of input at its own rate (the input rate when it has none)."""
    base = rate(price, "input_mtok", input_tokens)
    assert base is not None
    read = rate(price, "cache_read_mtok", input_tokens)
    read = base if read is None else read
    write = rate(price, "cache_write_mtok", input_tokens)
    write = base if write is None else write
    out = rate(price, "output_mtok", input_tokens)
    assert out is not None
    total = (
        (input_tokens - cached - cache_write) * base + cached * read + cache_write * write
    ) + output * out
    return float(total / MILLION)


def usage(
    input_tokens: int = 0,
    cached: int = 0,
    cache_write: int = 0,
    output: int = 0,
    reasoning: int = 0,
) -> dict[str, int]:
    """A usage normalised as `events.Finished` says (input and output inclusive)."""
    return {
        "input_tokens": input_tokens,
        "cached_tokens": cached,
        "cache_write_tokens": cache_write,
        "output_tokens": output,
        "reasoning_tokens": reasoning,
        "total_tokens": input_tokens + output,
    }


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pricing never opens a connection nor starts genai-prices' updater (it downloads prices)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pricing tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr("genai_prices.UpdatePrices.__init__", refuse)
    monkeypatch.setattr("genai_prices.update_prices.UpdatePrices.__init__", refuse)
    yield
