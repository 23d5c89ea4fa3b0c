"""What a turn costs: the price of a provider's model for some usage, with the providers file's price
override and price-data provider id, and the cost of a candidate's reply.

Imports no Flask and no SDK.
"""

from __future__ import annotations

from collections.abc import Callable

import responses_client as rc
import stream_processor as sp
from responses_client import pricing

from .candidates import Candidate

Quoter = Callable[..., pricing.Quote]


class TurnCosts:
    """Prices a turn's usage and replies from the registry's model info (API "Cost")."""

    def __init__(self, registry: rc.ProviderRegistry, quote: Quoter = pricing.quote) -> None:
        self.registry = registry
        self.quote = quote

    def price(
        self,
        provider: str,
        model: str,
        usage: dict[str, int] | None,
        *,
        echoed_model: str | None = None,
        billed_cost_usd: float | None = None,
        service_tier: str | None = None,
    ) -> pricing.Quote:
        """A cost of `provider:model` for `usage` and the rates used (API "Cost"), with the
        file's price override and price-data provider id."""
        info = self.registry.model_info(provider, model)
        provider_settings = self.registry.settings.get(provider)
        return self.quote(
            provider,
            model,
            usage,
            echoed_model=echoed_model,
            billed_cost_usd=billed_cost_usd,
            override=info.price,
            price_provider=provider_settings.price_provider if provider_settings else None,
            service_tier=service_tier,
        )

    def quote_reply(self, candidate: Candidate, reply: sp.Reply) -> pricing.Quote:
        """The cost of `candidate`'s reply and the rates used."""
        tier = reply.metadata.get("service_tier")
        return self.price(
            candidate.provider.name,
            candidate.model,
            reply.usage,
            echoed_model=reply.model,
            billed_cost_usd=reply.billed_cost_usd,
            service_tier=tier if isinstance(tier, str) else None,
        )
