"""The provider registry: the live providers, what each model is known to take, defaults and fallback.

Data and lookups only: `responses_client.configure.build_registry` builds it from the environment and
the providers file; tests build one from in-process providers with `ProviderRegistry.of`. A figure
nobody knows is None, never a guess. Imports no SDK and no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class ProviderRegistry:
    """The configured providers by name, in the contract's order, with their settings and models."""

    providers: dict[str, Provider]
    settings: dict[str, ProviderSettings]
    models: dict[ModelRef, ModelInfo] = field(default_factory=dict)
    default: ModelRef | None = None  # the default provider and model of new conversations
    # The variables that hold keys (every provider's, on or off): their values are redacted.
    key_variables: tuple[str, ...] = ()

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

    def model_info(self, provider: str, model: str) -> ModelInfo:
        """What is known of `provider:model` (every figure None when nothing is)."""
        return self.models.get((provider, model)) or ModelInfo(provider=provider, id=model)

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
        """True when `model` must be refused up front: the provider is `strict` and lacks it."""
        settings = self.settings.get(provider)
        return bool(settings and settings.strict and model not in settings.models)

    def close(self) -> None:
        """Close every provider's connection pool."""
        for provider in self.providers.values():
            provider.close()
