"""The `providers` blueprint: `GET /providers` (API.md "Providers"), its short form `GET /models`,
and `POST /providers/refresh` (read every provider's model list now and cache it).

Part of the web layer: reads the registry the composition root built, its cached model lists and
the price data's list prices; only the refresh reaches the network (`responses_client.discovery`,
one at a time per process). What it answers is names, model ids, figures and short error codes
only: never a key, never a base URL (a base URL may carry credentials), never an environment
variable's value, never upstream text.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

import responses_client as rc
from app.web.current import services
from app.web.errors import error_response
from responses_client import discovery, options, pricing
from responses_client.catalog import OPTION_NAMES

bp = Blueprint("providers", __name__)
# A refresh this process finished this recently is answered again (a button pressed twice, or
# several users at once), so the button cannot hammer the providers.
REFRESH_REUSE_SECONDS = 30.0


def _listed(registry: rc.ProviderRegistry, name: str) -> list[str]:
    """A provider's picker list: its configured models, its default model first if unlisted."""
    settings = registry.settings[name]
    models = list(settings.models)
    default = registry.default_model(name)
    if default and default not in models:
        models.insert(0, default)
    return models


def _with_cached(registry: rc.ProviderRegistry, name: str) -> list[str]:
    """The configured and default models, then the provider's cached list's other models
    (none for a `strict` provider, which refuses every model outside its `models`)."""
    models = _listed(registry, name)
    if registry.settings[name].strict:
        return models
    seen = set(models)
    return models + [m for m in registry.cached_models(name) if m not in seen]


def _price(registry: rc.ProviderRegistry, name: str, model: str) -> dict[str, Any] | None:
    info = registry.model_info(name, model)
    settings = registry.settings[name]
    if info.price is None and info.listed_price is not None:
        return dict(info.listed_price)  # the provider's own list price (source "provider")
    return pricing.price_of(
        name, model, override=info.price, price_provider=settings.price_provider
    )


def _fallback(registry: rc.ProviderRegistry, name: str) -> list[dict[str, str]]:
    """The provider's own fallback list as a turn would use it (configured candidates only, the
    local-host rule kept); the empty model id names no model, so no model's own list applies."""
    return [{"provider": p, "model": m} for p, m in registry.fallback_for(name, "")]


def _model_json(registry: rc.ProviderRegistry, name: str, model: str) -> dict[str, Any]:
    info = registry.model_info(name, model)
    # What POST /chat judges a turn's options by (the model's facts within what its protocol
    # can send), so the page never offers an option the turn would refuse with bad_option.
    rules = options.rules_for(registry, name, model)
    takes = rules.takes
    if rules.efforts == ():  # no effort at all: a reasoning_effort is refused too
        takes = tuple(n for n in takes or OPTION_NAMES if n != "reasoning_effort")
    return {
        "id": model,
        "context_window": info.context_window,
        "max_output_tokens": info.max_output_tokens,
        "input": list(info.input) if info.input is not None else None,
        "reasoning": list(rules.efforts) if rules.efforts is not None else None,
        "options": list(takes) if takes is not None else None,
        # The enum options of which the model takes only some values (e.g. a model that always
        # thinks: thinking on|adaptive); an option not named here takes every value.
        "option_values": {
            k: list(v) for k, v in rules.values.items() if takes is None or k in takes
        },
        "price": _price(registry, name, model),
        "listed": _in_list(registry, name, model),
    }


def _in_list(registry: rc.ProviderRegistry, name: str, model: str) -> bool | None:
    """Whether the provider's cached model list has `model` (False: POST /chat refuses it up
    front with unknown_model); None when there is no list to judge by."""
    cached = registry.cached_list(name)
    if cached is None or not cached.models:
        return None  # no list (or an empty one, which refuses nothing)
    return cached.find(model) is not None


def providers_json(registry: rc.ProviderRegistry) -> dict[str, Any]:
    """The `GET /providers` document for `registry` (API.md shape; unknown figures null)."""
    default = registry.default
    return {
        "default": {"provider": default[0], "model": default[1]} if default else None,
        "providers": [
            {
                "name": name,
                "protocol": registry.settings[name].protocol,
                "stateful": registry.settings[name].stateful,
                "models": [_model_json(registry, name, m) for m in _with_cached(registry, name)],
                "fallback": _fallback(registry, name),
            }
            for name in registry.providers
        ],
    }


def models_json(registry: rc.ProviderRegistry) -> dict[str, Any]:
    """`GET /models`: the default model, the default provider's list, the providers' names."""
    names = list(registry.providers)
    if registry.default is None:
        return {"default": None, "provider": None, "models": [], "providers": names}
    provider, model = registry.default
    names.remove(provider)
    return {
        "default": model,
        "provider": provider,
        "models": _listed(registry, provider),
        "providers": [provider, *names],
    }


@bp.get("/providers")
def providers() -> Response:
    return jsonify(providers_json(services().providers))


@bp.get("/models")
def models() -> Response:
    return jsonify(models_json(services().providers))


def _outcome_json(outcome: discovery.RefreshOutcome) -> list[dict[str, Any]]:
    return [{"provider": p.provider, "count": p.count, "error": p.error} for p in outcome.providers]


@bp.post("/providers/refresh")
def refresh() -> Response:
    """Read every configured provider's model list, cache it, answer the `/providers` document
    with `refresh` (each provider's count of models or its error code) and `warnings` (each
    provider whose default model its list now lacks: `default_not_listed`)."""
    registry = services().providers
    if not registry:
        return error_response(503, "no_provider")
    outcome = discovery.refresh(registry, reuse_within=REFRESH_REUSE_SECONDS)
    if outcome.all_failed:
        codes = {p.error for p in outcome.providers}
        busy = codes <= {"upstream_unavailable", "rate_limited"}
        return error_response(
            503 if busy else 502,
            "upstream_unavailable" if busy else "upstream_error",
            "No provider's model list could be read; the cached lists are unchanged.",
            {"providers": _outcome_json(outcome)},
        )
    body = providers_json(registry)
    body["refresh"] = _outcome_json(outcome)
    # A fresh list that lacks a provider's default model: new chats with it will be refused.
    body["warnings"] = [w.to_json() for w in discovery.default_warnings(registry, outcome)]
    return jsonify(body)
