"""Usage -> cost in USD from genai-prices' bundled (offline) price data; None when the price is unknown.

Imports no Flask and no SDK; never starts genai-prices' background updater.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from genai_prices import Usage, calc_price

logger = logging.getLogger(__name__)

# Our provider names -> genai-prices provider ids (the same where they coincide).
PROVIDER_IDS: dict[str, str] = {
    "openai": "openai",
    "azure": "azure",
    "xai": "x-ai",
    "x-ai": "x-ai",
    "deepseek": "deepseek",
    "openrouter": "openrouter",
}


def _tokens(usage: Mapping[str, object], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and value > 0 else 0


def cost_usd(
    model: str, provider: str, usage: Mapping[str, object] | None, *, free: bool = False
) -> float | None:
    """Price one reply: cached input as cache reads, output including reasoning; None if unknown."""
    if usage is None:
        return None
    if free:  # a local provider (ollama, vllm) configured as costing nothing
        return 0.0
    input_tokens = _tokens(usage, "input_tokens")
    cached = min(_tokens(usage, "cached_tokens"), input_tokens)
    # `output_tokens` already includes `reasoning_tokens` on the Responses API.
    output_tokens = _tokens(usage, "output_tokens")
    priced = Usage(input_tokens=input_tokens, cache_read_tokens=cached, output_tokens=output_tokens)
    provider_id = PROVIDER_IDS.get(provider, provider)
    try:
        calc = calc_price(priced, model, provider_id=provider_id)
    except LookupError:
        logger.info("no price for model=%s provider=%s", model, provider)
        return None
    except Exception:  # a data quirk must never break saving a reply
        logger.warning("price lookup failed for model=%s provider=%s", model, provider)
        return None
    return round(float(calc.total_price), 10)
