"""Choose a turn's provider and model: the ones the request names, else the conversation's, else the
deployment's defaults.

Pure: reads the provider registry and the settings. Imports no Flask and no SDK.
"""

from __future__ import annotations

import conversation_manager as cm
import responses_client as rc

from .config import ChatSettings, TurnRequest
from .errors import NoProvider, UnknownModelRequest


def choose_model(
    registry: rc.ProviderRegistry,
    req: TurnRequest,
    conversation: cm.Conversation | None,
    settings: ChatSettings,
) -> tuple[rc.Provider, str]:
    """The provider and model a turn uses (API `POST /chat`): the ones it names, else the
    conversation's, else the defaults; raise `NoProvider` or a 400 `unknown_model`."""
    if not registry:
        raise NoProvider()
    name, model = req.provider, req.model
    if name is None and model and ":" in model:
        # `provider:model` in the model field, when the part before the colon is a provider.
        head, _, tail = model.partition(":")
        if head in registry and tail:
            name, model = head, tail
    if name is not None:
        named = registry.get(name)
        if named is None:
            raise UnknownModelRequest(f"unknown provider {name!r}")
        provider = named
        model = model or _default_model(registry, name, settings)
    else:
        current = registry.get(conversation.provider) if conversation is not None else None
        if current is not None and conversation is not None:
            provider = current
            model = model or conversation.model or _default_model(registry, current.name, settings)
        else:
            default = registry.get(settings.default_provider)
            provider = default or next(iter(registry.providers.values()))
            model = model or _default_model(registry, provider.name, settings)
    if not model:
        raise UnknownModelRequest(f"name a model for provider {provider.name!r}")
    if registry.refuses_model(provider.name, model):
        raise UnknownModelRequest(f"{provider.name!r} does not list model {model!r}")
    return provider, model


def default_choice(
    registry: rc.ProviderRegistry, req: TurnRequest, settings: ChatSettings
) -> tuple[str, str] | None:
    """The default provider and model of a new conversation, or None when there is none."""
    try:
        provider, model = choose_model(
            registry, TurnRequest(user=req.user, message=None), None, settings
        )
    except (NoProvider, UnknownModelRequest):
        return None
    return provider.name, model


def _default_model(registry: rc.ProviderRegistry, provider: str, settings: ChatSettings) -> str:
    if provider == settings.default_provider and settings.default_model:
        return settings.default_model
    return registry.default_model(provider) or ""
