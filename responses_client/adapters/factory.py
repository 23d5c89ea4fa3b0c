"""Build one provider's adapter from its protocol, key, URL and providers-file section.

The table of protocols -> adapter classes, their lazy import (an SDK is loaded only when a
provider of its protocol is on) and the constructor's keyword arguments. Used by
`responses_client.configure`, which turns an `AdapterError` into its `ConfigError`. Imports no
SDK at module level, no Flask and nothing of the app.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from responses_client.adapters.http_errors import DEFAULT_CONNECT_TIMEOUT
from responses_client.provider import Provider
from responses_client.providers_file import ProviderSection

# protocol -> (module, class). A stateful gemini provider is GeminiProvider(stateful=True), which
# speaks the Interactions API; a stateful anthropic one uses message threads.
ADAPTERS: dict[str, tuple[str, str]] = {
    "responses": ("responses_client.adapters.openai_responses", "OpenAIProvider"),
    "chat_completions": ("responses_client.adapters.openai_chat", "ChatCompletionsProvider"),
    "anthropic": ("responses_client.adapters.anthropic_messages", "AnthropicProvider"),
    "gemini": ("responses_client.adapters.gemini", "GeminiProvider"),
}
AdapterFactory = Callable[..., Provider]


class AdapterError(ValueError):
    """An adapter cannot be loaded or refused its settings; the message names no value."""


def adapter_class(protocol: str, adapters: Mapping[str, AdapterFactory] | None) -> AdapterFactory:
    """The factory for `protocol`: the caller's override, else the adapter class, imported now."""
    if adapters is not None and protocol in adapters:
        return adapters[protocol]
    module_name, class_name = ADAPTERS[protocol]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # the SDK is not installed (requirements.txt installs them all)
        missing = exc.name or "a module"
        raise AdapterError(
            f"the {protocol} adapter cannot be loaded: {missing} is missing"
        ) from exc
    factory: AdapterFactory = getattr(module, class_name)
    return factory


def build_adapter(
    name: str,
    protocol: str,
    key: str | None,
    base_url: str | None,
    stateful: bool,
    section: ProviderSection | None,
    flavour: str | None,
    *,
    read_timeout: float,
    secrets: Iterable[str],
    output_limit: Callable[[str], int | None],
    adapters: Mapping[str, AdapterFactory] | None = None,
) -> Provider:
    """The adapter for one provider (`read_timeout`: the deployment's, under the section's)."""
    kwargs: dict[str, Any] = {
        "name": name,
        "base_url": base_url,
        "stateful": stateful,
        "read_timeout": (section.read_timeout if section else None) or read_timeout,
        "connect_timeout": (section.connect_timeout if section else None)
        or DEFAULT_CONNECT_TIMEOUT,
        "secrets": secrets,
    }
    if protocol == "chat_completions":
        kwargs["flavour"] = flavour or "generic"
        del kwargs["stateful"]  # always stateless (the file refuses stateful = true)
    elif protocol == "gemini":
        kwargs["api_version"] = (section.api_version if section else None) or "v1beta"
    elif protocol == "anthropic":
        kwargs["output_limit"] = output_limit
    factory = adapter_class(protocol, adapters)
    try:
        return factory(key, **kwargs)
    except ValueError as exc:
        # The adapter's own refusal (a missing base URL, an unknown flavour); names no value.
        raise AdapterError(f"provider {name}: {exc}") from None
