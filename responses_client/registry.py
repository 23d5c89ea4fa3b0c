"""The provider registry: the live providers, what each model is known to take, defaults and fallback.

Data and lookups only: `responses_client.configure.build_registry` builds it from the environment and
the providers file; tests build one from in-process providers with `ProviderRegistry.of`. A figure
nobody knows is None, never a guess. What is known of a model merges, figure by figure, the
providers file over the provider's cached model list (`model_cache`, written by
`discovery.refresh`) over the built-in catalog. Imports no SDK and no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from responses_client.catalog import family_of, model_facts
from responses_client.model_cache import ModelCache, ProviderList
from responses_client.model_lists import ListedModel, ListTarget
from responses_client.provider import Provider

ModelRef = tuple[str, str]  # (provider name, model id)


def split_ref(ref: str) -> ModelRef:
    """`provider:model` split at the first colon (`ollama:llama3:8b` is model `llama3:8b`)."""
    provider, sep, model = ref.partition(":")
    if not sep or not provider or not model:
        raise ValueError(f"{ref!r} is not provider:model")
    return provider, model


@dataclass(frozen=True)
class ModelInfo:
    """What is known of one model (the file, then a built-in table); None: unknown."""

    provider: str
    id: str
    context_window: int | None = None
    max_output_tokens: int | None = None
    input: tuple[str, ...] | None = None  # kinds: "text", "image"
    reasoning: tuple[str, ...] | None = None  # reasoning efforts the model takes
    options: tuple[str, ...] | None = None  # option names the model takes (None: every option)
    price: Mapping[str, float] | None = None  # the file's override, USD per million tokens
    fallback: tuple[ModelRef, ...] = ()  # the model's own fallback list (before its provider's)
    # The provider's list price (a price record, USD per million, source "provider"), from its
    # cached model list (OpenRouter's); shown, never used as the file's override.
    listed_price: Mapping[str, Any] | None = None
    thinking: bool | None = None  # the model thinks, as its provider's list says


@dataclass(frozen=True)
class ProviderSettings:
    """How one provider is configured, beside its live adapter (API.md "Providers")."""

    name: str
    protocol: str  # responses | chat_completions | anthropic | gemini | fake
    stateful: bool = False
    models: tuple[str, ...] = ()  # the picker's list; the first is the provider's default
    default_model: str | None = None
    strict: bool = False  # refuse a model outside `models` up front
    fallback: tuple[ModelRef, ...] = ()
    local: bool = False  # never falls back off this host unless `fallback_leaves_host`
    fallback_leaves_host: bool = False
    price_provider: str | None = None  # the price data's provider id, when it is not our name
    options: Mapping[str, Any] = field(default_factory=dict)  # operator options, every call
    max_retries: int | None = None  # the file's; None: CHAT_UPSTREAM_MAX_RETRIES
    max_retry_after: float | None = None  # the file's; None: CHAT_UPSTREAM_MAX_RETRY_AFTER


def catalog_info(settings: ProviderSettings | None, provider: str, model: str) -> ModelInfo:
    """What the built-in catalog knows of `provider:model` (configured as `settings`; None: not
    configured, so no family applies); every figure None when it knows nothing."""
    family = family_of(provider, settings.protocol) if settings else None
    facts = model_facts(family, model)
    if facts is None:
        return ModelInfo(provider=provider, id=model)
    return ModelInfo(
        provider=provider,
        id=model,
        context_window=facts.context_window,
        max_output_tokens=facts.max_output_tokens,
        input=facts.input,
        reasoning=facts.reasoning,
        options=facts.options,
    )


@dataclass
class ProviderRegistry:
    """The configured providers by name, in the contract's order, with their settings and models."""

    providers: dict[str, Provider]
    settings: dict[str, ProviderSettings]
    models: dict[ModelRef, ModelInfo] = field(default_factory=dict)
    default: ModelRef | None = None  # the default provider and model of new conversations
    # The variables that hold keys (every provider's, on or off): their values are redacted.
    key_variables: tuple[str, ...] = ()
    # The providers file's own figures per model (None where it says nothing): over the cache.
    overrides: dict[ModelRef, ModelInfo] = field(default_factory=dict)
    # The cached model lists (read at start and after a refresh; never fetched here).
    model_cache: ModelCache = field(default_factory=lambda: ModelCache(None))
    # Where each provider's list is read (`discovery.refresh`); holds keys, never shown.
    list_targets: dict[str, ListTarget] = field(default_factory=dict, repr=False)

    @classmethod
    def of(
        cls,
        providers: Mapping[str, Provider] | Iterable[Provider],
        *,
        settings: Iterable[ProviderSettings] = (),
        models: Iterable[ModelInfo] = (),
        default: ModelRef | None = None,
    ) -> ProviderRegistry:
        """A registry over ready providers (tests, embedding); missing settings are derived."""
        live = dict(providers) if isinstance(providers, Mapping) else {p.name: p for p in providers}
        given = {s.name: s for s in settings}
        resolved: dict[str, ProviderSettings] = {}
        for name, provider in live.items():
            caps = getattr(provider, "capabilities", None)
            resolved[name] = given.get(name) or ProviderSettings(
                name=name,
                protocol=getattr(caps, "protocol", "fake"),
                stateful=bool(getattr(provider, "stateful", False)),
            )
        return cls(
            providers=live,
            settings=resolved,
            models={(m.provider, m.id): m for m in models},
            default=default,
        )

    def __bool__(self) -> bool:
        return bool(self.providers)

    def __contains__(self, name: object) -> bool:
        return name in self.providers

    def get(self, name: str) -> Provider | None:
        """The live provider called `name`, or None."""
        return self.providers.get(name)

    def default_model(self, provider: str) -> str | None:
        """A provider's default model: the first of its `models`, else the table's; None: none."""
        settings = self.settings.get(provider)
        if settings is None:
            return None
        if self.default is not None and self.default[0] == provider:
            return self.default[1]
        return settings.models[0] if settings.models else settings.default_model

    def cached_list(self, provider: str) -> ProviderList | None:
        """The provider's cached model list, when there is one from where it is configured now.

        A list read from another protocol or base URL (the operator moved the provider) is not
        this provider's any more and is left unused until the next refresh.
        """
        listed = self.model_cache.get(provider)
        if listed is None:
            return None
        target = self.list_targets.get(provider)
        if target is not None and listed.origin != target.origin:
            return None
        return listed

    def cached_models(self, provider: str) -> tuple[str, ...]:
        """The ids of the provider's cached list, in the list's order (empty: no list)."""
        listed = self.cached_list(provider)
        return tuple(m.id for m in listed.models) if listed else ()

    def model_info(self, provider: str, model: str) -> ModelInfo:
        """What is known of `provider:model`: the file's figures, else the cached list's, else the
        built-in catalog's (every figure None when nothing is)."""
        base = self.models.get((provider, model))
        listed_list = self.cached_list(provider)
        listed = listed_list.find(model) if listed_list else None
        if listed is None:
            return base or ModelInfo(provider=provider, id=model)
        if base is None:
            base = catalog_info(self.settings.get(provider), provider, model)
        return _merged(base, self.overrides.get((provider, model)), listed)

    def fallback_for(self, provider: str, model: str) -> list[ModelRef]:
        """The candidates after `provider:model`, in order: the model's list, else the provider's.

        Candidates whose provider is not configured are left out (the builder warned at start);
        a local provider's list keeps only local candidates unless it may leave the host.
        """
        info = self.models.get((provider, model))
        settings = self.settings.get(provider)
        listed = (
            info.fallback if info and info.fallback else (settings.fallback if settings else ())
        )
        out: list[ModelRef] = []
        for ref in listed:
            if ref == (provider, model) or ref in out or ref[0] not in self.providers:
                continue
            if settings is not None and settings.local and not settings.fallback_leaves_host:
                target = self.settings.get(ref[0])
                if target is None or not target.local:
                    continue
            out.append(ref)
        return out

    def refuses_model(self, provider: str, model: str) -> bool:
        """True when `model` must be refused up front (API.md "`POST /chat`"): the provider is
        `strict` and its `models` lack it, or its cached model list exists and lacks it.

        An empty cached list refuses nothing (a server listing no model is not believed).
        """
        settings = self.settings.get(provider)
        if settings and settings.strict and model not in settings.models:
            return True
        listed = self.cached_list(provider)
        return bool(listed and listed.models and listed.find(model) is None)

    def close(self) -> None:
        """Close every provider's connection pool."""
        for provider in self.providers.values():
            provider.close()


# The ModelInfo figures a cached list can supply (the file's win, then the list's, then the base).
_LISTED_FIGURES = ("context_window", "max_output_tokens", "input", "reasoning", "thinking")


def _merged(base: ModelInfo, override: ModelInfo | None, listed: ListedModel) -> ModelInfo:
    """`base` (the file over the catalog) with the cached list's figures where the file is silent."""
    changes: dict[str, Any] = {}
    for name in _LISTED_FIGURES:
        from_file = getattr(override, name) if override is not None else None
        from_list = getattr(listed, name)
        if from_file is None and from_list is not None:
            changes[name] = from_list
    if listed.price is not None:
        changes["listed_price"] = listed.price
    return replace(base, **changes)
