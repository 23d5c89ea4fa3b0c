"""Build the provider registry from the environment and the providers file (API.md "Providers").

Each built-in provider is on when its key variable is set (ollama: when `OLLAMA_BASE_URL` is);
an empty value counts as unset. `CHAT_PROVIDERS_FILE` adds sections for them and further
providers. The defaults rules (default provider, default model, `CHAT_MODEL`, `CHAT_MODELS`) are
applied here, and everything that must stop the start raises `ConfigError` (a broken file:
`ProvidersFileError`, naming line, key path and reason). Warnings name variables and providers,
never values. Adapters are imported only when a provider of their protocol is on, so a
deployment without an SDK's provider never loads that SDK. Imports no Flask and nothing of the app.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from responses_client.adapters.factory import (
    ADAPTERS,
    AdapterError,
    AdapterFactory,
    build_adapter,
)
from responses_client.adapters.http_errors import DEFAULT_READ_TIMEOUT
from responses_client.catalog import (
    BUILTIN,
    BUILTIN_PROVIDERS,
    OPENAI_SUGGESTIONS,
    family_of,
    known_models,
)
from responses_client.model_cache import ModelCache
from responses_client.model_lists import ListTarget
from responses_client.provider import Provider
from responses_client.providers_file import (
    ProviderSection,
    ProvidersFile,
    ProvidersFileError,
    load,
)
from responses_client.registry import (
    ModelInfo,
    ModelRef,
    ProviderRegistry,
    ProviderSettings,
    catalog_info,
)
from responses_client.secret_values import secret_values

log = logging.getLogger(__name__)

KEYLESS = "no-key"  # sent by a further provider that names no api_key_env (a local server)
LIST_READ_TIMEOUT = 20.0  # a model list's read timeout, at most (under the deployment's)

__all__ = ["ADAPTERS", "ConfigError", "ProvidersFileError", "build_registry"]


class ConfigError(ValueError):
    """The provider configuration cannot start: the message says what to set."""


def _value(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    return raw.strip() or None if isinstance(raw, str) else None


def _number(env: Mapping[str, str], key: str, default: float) -> float:
    raw = _value(env, key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{key} must be a number") from None
    if value < 0:
        raise ValueError(f"{key} must not be negative")
    return value


def _csv(raw: str | None) -> tuple[str, ...]:
    out: list[str] = []
    for item in (raw or "").split(","):
        if item.strip() and item.strip() not in out:
            out.append(item.strip())
    return tuple(out)


class _Builder:
    """One build: the environment, the file, and the registry's parts as they are made."""

    def __init__(
        self,
        env: Mapping[str, str],
        file: ProvidersFile | None,
        adapters: Mapping[str, AdapterFactory] | None,
    ) -> None:
        self.env = env
        self.file = file
        self.adapters = adapters
        self.providers: dict[str, Provider] = {}
        self.settings: dict[str, ProviderSettings] = {}
        self.models: dict[ModelRef, ModelInfo] = {}
        # The file's own figures (None where it is silent), merged over the cached lists.
        self.overrides: dict[ModelRef, ModelInfo] = {}
        self.list_targets: dict[str, ListTarget] = {}
        self.built: list[ProviderRegistry] = []  # the registry this build made (for lookups)
        # Every variable that can hold a key, on or off: their values are all redacted.
        self.key_variables = tuple(
            dict.fromkeys(
                [p.key_env for p in BUILTIN_PROVIDERS if p.key_env]
                + [
                    s.api_key_env
                    for s in (file.providers.values() if file else ())
                    if s.api_key_env
                ]
            )
        )
        file_urls = tuple(
            s.base_url for s in (file.providers.values() if file else ()) if s.base_url
        )
        self.secrets = secret_values(env, self.key_variables, file_urls)
        self.off: dict[str, str] = {}  # provider -> the variable to set to turn it on
        self.read_timeout = _number(env, "CHAT_UPSTREAM_READ_TIMEOUT", DEFAULT_READ_TIMEOUT)

    def section(self, name: str) -> ProviderSection | None:
        return self.file.providers.get(name) if self.file else None

    # -- which providers are on ----------------------------------------------------------------

    def builtins(self) -> None:
        for row in BUILTIN_PROVIDERS:
            section = self.section(row.name)
            base_url = _value(self.env, row.base_url_env)
            if row.key_env is None:  # a local server: on when its base URL is set
                if base_url is None:
                    self.off_builtin(row.name, row.base_url_env, section)
                    continue
                self.add(row.name, row.protocol, None, base_url, section, flavour=row.flavour)
                continue
            key = _value(self.env, row.key_env)
            if key is None:
                self.off_builtin(row.name, row.key_env, section)
                continue
            self.add(row.name, row.protocol, key, base_url or row.base_url, section,
                     flavour=row.flavour)  # fmt: skip

    def off_builtin(self, name: str, variable: str, section: ProviderSection | None) -> None:
        self.off[name] = variable
        if section is not None:  # normal (one file for several deployments), but worth a line
            log.info(
                "provider_off provider=%s unset=%s (its file section is unused)", name, variable
            )

    def extras(self) -> None:
        for name, section in (self.file.providers if self.file else {}).items():
            if section.builtin:
                continue
            key: str | None = KEYLESS
            if section.api_key_env is not None:
                key = _value(self.env, section.api_key_env)
                if key is None:
                    self.off[name] = section.api_key_env
                    log.warning("provider_off provider=%s unset=%s", name, section.api_key_env)
                    continue
            self.add(name, section.protocol, key, section.base_url, section,
                     flavour=section.flavour or "generic")  # fmt: skip

    def add(
        self,
        name: str,
        protocol: str,
        key: str | None,
        base_url: str | None,
        section: ProviderSection | None,
        *,
        flavour: str | None,
    ) -> None:
        row = BUILTIN.get(name)
        stateful = section.stateful if section and section.stateful is not None else None
        if stateful is None:
            # A further server chains only when the operator says it keeps state: some answer an
            # unknown previous_response_id with an empty success (Ollama, providers.md §9).
            stateful = row.stateful if row else False
        models = section.models if section and section.models else ()
        if name == "openai":
            # CHAT_MODELS (today's setting) supplies the openai provider's list, before the file's.
            models = _csv(_value(self.env, "CHAT_MODELS")) or models or OPENAI_SUGGESTIONS
        local = section.local if section and section.local is not None else bool(row and row.local)
        self.settings[name] = ProviderSettings(
            name=name,
            protocol=protocol,
            stateful=stateful,
            models=models,
            default_model=row.default_model if row else None,
            strict=bool(section and section.strict),
            fallback=section.fallback if section else (),
            local=local,
            fallback_leaves_host=bool(section and section.fallback_leaves_host),
            price_provider=section.price_provider if section else None,
            options=dict(section.options) if section else {},
            max_retries=section.max_retries if section else None,
            max_retry_after=section.max_retry_after if section else None,
        )
        self.providers[name] = self.adapter(name, protocol, key, base_url, stateful, section,
                                            flavour)  # fmt: skip
        self.list_targets[name] = ListTarget(
            name=name,
            protocol=protocol,
            base_url=base_url,
            api_key=key,
            flavour=flavour,
            api_version=(section.api_version if section else None) or "v1beta",
            connect_timeout=(section.connect_timeout if section else None) or 5.0,
            read_timeout=min(LIST_READ_TIMEOUT, self.read_timeout),
            secrets=self.secrets,
        )

    def adapter(
        self,
        name: str,
        protocol: str,
        key: str | None,
        base_url: str | None,
        stateful: bool,
        section: ProviderSection | None,
        flavour: str | None,
    ) -> Provider:
        try:
            return build_adapter(name, protocol, key, base_url, stateful, section, flavour,
                                 read_timeout=self.read_timeout, secrets=self.secrets,
                                 output_limit=self.output_limit(name),
                                 adapters=self.adapters)  # fmt: skip
        except AdapterError as exc:
            raise ConfigError(str(exc)) from exc.__cause__

    def output_limit(self, name: str) -> Callable[[str], int | None]:
        """The model's known output limit, for an adapter that must always send one (Anthropic)."""
        models = self.models  # filled in by `model_table` after the adapters are built
        built = self.built  # the registry, once built: its merge sees the cached model lists

        def limit(model: str) -> int | None:
            if built:
                return built[0].model_info(name, model).max_output_tokens
            info = models.get((name, model))
            return info.max_output_tokens if info else None

        return limit

    # -- what each model takes ------------------------------------------------------------------

    def model_table(self) -> None:
        """Each model's facts: the catalog's for the providers that are on, the file's over them."""
        for name, settings in self.settings.items():
            family = family_of(name, settings.protocol)
            for model in (*settings.models, *known_models(family)):
                if (name, model) not in self.models:
                    self.models[(name, model)] = catalog_info(settings, name, model)
        for (provider, model), section in (self.file.models if self.file else {}).items():
            base = self.models.get((provider, model)) or catalog_info(
                self.settings.get(provider), provider, model
            )
            self.overrides[(provider, model)] = ModelInfo(
                provider=provider,
                id=model,
                context_window=section.context_window,
                max_output_tokens=section.max_output_tokens,
                input=section.input,
                reasoning=section.reasoning,
                options=section.options,
                price=section.price,
                fallback=section.fallback,
            )
            self.models[(provider, model)] = ModelInfo(
                provider=provider,
                id=model,
                context_window=_first(section.context_window, base.context_window),
                max_output_tokens=_first(section.max_output_tokens, base.max_output_tokens),
                input=_first(section.input, base.input),
                reasoning=_first(section.reasoning, base.reasoning),
                options=_first(section.options, base.options),
                price=section.price,
                fallback=section.fallback,
            )

    # -- the defaults ---------------------------------------------------------------------------

    def default(self) -> ModelRef | None:
        chosen = _value(self.env, "CHAT_PROVIDER")
        file_default = self.file.default if self.file else None
        if chosen is not None:
            if chosen not in self.settings:
                if chosen in self.off:
                    raise ConfigError(
                        f"CHAT_PROVIDER is {chosen}, which is off: set {self.off[chosen]}"
                    )
                raise ConfigError(
                    "CHAT_PROVIDER names no known provider (built in: "
                    + ", ".join(BUILTIN)
                    + "; or a [providers.NAME] section of the providers file)"
                )
        elif file_default is not None and file_default[0] in self.settings:
            chosen = file_default[0]
        else:
            if file_default is not None:
                log.warning(
                    "default_provider_off provider=%s unset=%s",
                    file_default[0],
                    self.off.get(file_default[0]),
                )
            chosen = next(iter(self.settings), None)
        model = _value(self.env, "CHAT_MODEL")
        if chosen is None:
            return None
        settings = self.settings[chosen]
        if model is None and file_default is not None and file_default[0] == chosen:
            model = file_default[1]
        if model is None:
            model = settings.models[0] if settings.models else settings.default_model
        if model is None:
            raise ConfigError(
                f"the default provider {chosen} has no default model: set CHAT_MODEL, or list "
                f"its models in the providers file ([providers.{chosen}] models = [...])"
            )
        if settings.strict and model not in settings.models:
            raise ConfigError(
                f"the default model is not among [providers.{chosen}] models, which is strict: "
                "set CHAT_MODEL to one of them, or add it to the list"
            )
        return chosen, model

    def warn_fallbacks(self) -> None:
        for name, settings in self.settings.items():
            lists = [settings.fallback] + [
                m.fallback for (p, _), m in self.models.items() if p == name
            ]
            for refs in lists:
                for provider, _model in refs:
                    if provider not in self.settings:
                        log.warning(
                            "fallback_skipped provider=%s candidate=%s unset=%s",
                            name,
                            provider,
                            self.off.get(provider),
                        )


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def build_registry(
    environ: Mapping[str, str] | None = None,
    *,
    adapters: Mapping[str, AdapterFactory] | None = None,
    models_cache: Path | None = None,
) -> ProviderRegistry:
    """The providers the environment (and `CHAT_PROVIDERS_FILE`) turns on, their settings,
    models and the default; raise `ConfigError` (or `ProvidersFileError`) when it cannot start.

    `adapters` replaces the adapter class of a protocol (`responses`, `chat_completions`,
    `anthropic`, `gemini`): tests and embedders. `models_cache` is the model-list cache file
    (`CHAT_DATA_DIR/.app/models.json`), read now (a broken one is ignored with a warning); no
    model list is fetched here.
    """
    env = os.environ if environ is None else environ
    path = _value(env, "CHAT_PROVIDERS_FILE")
    file = load(path) if path else None
    builder = _Builder(env, file, adapters)
    try:
        builder.builtins()
        builder.extras()
        builder.model_table()
        default = builder.default()
    except BaseException:
        for provider in builder.providers.values():
            provider.close()
        raise
    builder.warn_fallbacks()
    cache = ModelCache(models_cache, builder.secrets)
    cache.load()
    registry = ProviderRegistry(
        providers=builder.providers,
        settings=builder.settings,
        models=builder.models,
        default=default,
        key_variables=builder.key_variables,
        overrides=builder.overrides,
        model_cache=cache,
        list_targets=builder.list_targets,
    )
    builder.built.append(registry)
    return registry
