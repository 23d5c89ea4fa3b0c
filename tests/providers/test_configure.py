"""build_registry: the environment shortcuts of all seven providers, the file, and the defaults rules."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from responses_client.configure import KEYLESS, ConfigError, build_registry
from responses_client.providers_file import ProvidersFileError
from tests.providers.conftest import Recorded

KEY = "sk-test-configure-0123456789"

# provider, its variables, the adapter kind, the default base URL, flavour, default model
SHORTCUTS = [
    ("openai", {"OPENAI_API_KEY": KEY}, "responses", None, None, "gpt-5.4-mini"),
    ("anthropic", {"ANTHROPIC_API_KEY": KEY}, "anthropic", None, None, "claude-sonnet-5-5"),
    ("gemini", {"GEMINI_API_KEY": KEY}, "gemini", None, None, "gemini-3.5-flash"),
    ("xai", {"XAI_API_KEY": KEY}, "responses", "https://api.x.ai/v1", None, "grok-4.7"),
    ("deepseek", {"DEEPSEEK_API_KEY": KEY}, "chat_completions", "https://api.deepseek.com",
     "deepseek", "deepseek-v4-flash"),
    ("openrouter", {"OPENROUTER_API_KEY": KEY}, "chat_completions", "https://openrouter.ai/api/v1",
     "openrouter", None),
    ("ollama", {"OLLAMA_BASE_URL": "http://127.0.0.1:11434/v1"}, "chat_completions",
     "http://127.0.0.1:11434/v1", "ollama", None),
]  # fmt: skip


def build(env: dict[str, str], adapters: dict[str, Any]) -> Any:
    return build_registry(env, adapters=adapters)


def recorded(registry: Any, name: str) -> Recorded:
    provider = registry.providers[name]
    assert isinstance(provider, Recorded)
    return provider


def test_no_variables_no_providers(adapters: dict[str, Any]) -> None:
    registry = build({}, adapters)
    assert (registry.providers, registry.default, bool(registry)) == ({}, None, False)


@pytest.mark.parametrize(("name", "env", "kind", "base_url", "flavour", "model"), SHORTCUTS)
def test_each_shortcut_turns_its_provider_on(
    adapters: dict[str, Any],
    name: str,
    env: dict[str, str],
    kind: str,
    base_url: str | None,
    flavour: str | None,
    model: str | None,
) -> None:
    registry = build({**env, "CHAT_MODEL": model or "named-model"}, adapters)
    assert list(registry.providers) == [name]
    provider = recorded(registry, name)
    assert provider.kind == kind  # type: ignore[attr-defined]
    assert provider.api_key == (None if name == "ollama" else KEY)
    assert provider.kwargs["name"] == name
    assert provider.kwargs["base_url"] == base_url
    assert provider.kwargs.get("flavour") == flavour
    assert registry.default == (name, model or "named-model")
    assert registry.settings[name].protocol == ("responses" if kind == "responses" else kind)
    assert registry.settings[name].local is (name == "ollama")
    assert registry.settings[name].stateful is (name in ("openai", "xai"))


@pytest.mark.parametrize(("name", "env"), [s[:2] for s in SHORTCUTS])
def test_each_base_url_variable_is_used(
    adapters: dict[str, Any], name: str, env: dict[str, str]
) -> None:
    variable = f"{name.upper()}_BASE_URL"
    registry = build({**env, variable: " http://127.0.0.1:9/x ", "CHAT_MODEL": "m"}, adapters)
    assert recorded(registry, name).kwargs["base_url"] == "http://127.0.0.1:9/x"


@pytest.mark.parametrize("name", ["openrouter", "ollama"])
def test_a_default_provider_without_a_default_model_says_what_to_set(
    adapters: dict[str, Any], name: str
) -> None:
    env = dict(next(s[1] for s in SHORTCUTS if s[0] == name))
    with pytest.raises(ConfigError) as caught:
        build(env, adapters)
    message = str(caught.value)
    assert f"default provider {name} has no default model" in message
    assert "CHAT_MODEL" in message and f"[providers.{name}] models" in message
    assert KEY not in message


def test_an_empty_key_counts_as_unset(adapters: dict[str, Any]) -> None:
    env = {
        "OPENAI_API_KEY": "",
        "ANTHROPIC_API_KEY": "   ",
        "OLLAMA_BASE_URL": "",
        "GEMINI_API_KEY": KEY,
    }
    registry = build(env, adapters)
    assert list(registry.providers) == ["gemini"]


def test_the_first_configured_provider_in_the_table_order_is_the_default(
    adapters: dict[str, Any],
) -> None:
    env = {"DEEPSEEK_API_KEY": KEY, "GEMINI_API_KEY": KEY, "ANTHROPIC_API_KEY": KEY}
    registry = build(env, adapters)
    assert list(registry.providers) == ["anthropic", "gemini", "deepseek"]
    assert registry.default == ("anthropic", "claude-sonnet-5-5")
    every = {k: v for _, e, *_ in SHORTCUTS for k, v in e.items()}
    assert build(every, adapters).default == ("openai", "gpt-5.4-mini")


def test_chat_provider_and_chat_model(adapters: dict[str, Any]) -> None:
    env = {"OPENAI_API_KEY": KEY, "GEMINI_API_KEY": KEY, "CHAT_PROVIDER": "gemini"}
    assert build(env, adapters).default == ("gemini", "gemini-3.5-flash")
    registry = build({**env, "CHAT_MODEL": "gemini-3.8-flash"}, adapters)
    assert registry.default == (
        "gemini",
        "gemini-3.8-flash",
    )  # CHAT_MODEL is the default provider's
    assert registry.default_model("gemini") == "gemini-3.8-flash"
    assert registry.default_model("openai") == "gpt-5.4-mini"


def test_chat_provider_off_or_unknown_is_a_start_error(adapters: dict[str, Any]) -> None:
    with pytest.raises(
        ConfigError, match="CHAT_PROVIDER is anthropic, which is off: set ANTHROPIC_API_KEY"
    ):
        build({"OPENAI_API_KEY": KEY, "CHAT_PROVIDER": "anthropic"}, adapters)
    with pytest.raises(ConfigError, match="CHAT_PROVIDER names no known provider"):
        build({"OPENAI_API_KEY": KEY, "CHAT_PROVIDER": "mistral"}, adapters)


def test_the_files_default(adapters: dict[str, Any], write_file: Any) -> None:
    path = write_file('default = "gemini:gemini-3.1-pro-preview"\n')
    env = {"OPENAI_API_KEY": KEY, "GEMINI_API_KEY": KEY, "CHAT_PROVIDERS_FILE": path}
    assert build(env, adapters).default == ("gemini", "gemini-3.1-pro-preview")
    # CHAT_PROVIDER wins, and the file's model is not that provider's: its own default is used.
    assert build({**env, "CHAT_PROVIDER": "openai"}, adapters).default == ("openai", "gpt-5.4-mini")
    # CHAT_MODEL wins over the file's model.
    assert build({**env, "CHAT_MODEL": "g-2"}, adapters).default == ("gemini", "g-2")


def test_the_files_default_provider_off_warns_and_the_first_configured_is_used(
    adapters: dict[str, Any], write_file: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_file('default = "anthropic:claude-opus-5-5"\n')
    with caplog.at_level(logging.WARNING):
        registry = build({"OPENAI_API_KEY": KEY, "CHAT_PROVIDERS_FILE": path}, adapters)
    assert registry.default == ("openai", "gpt-5.4-mini")
    assert "default_provider_off" in caplog.text and "unset=ANTHROPIC_API_KEY" in caplog.text


def test_a_providers_default_model_is_the_first_of_its_models(
    adapters: dict[str, Any], write_file: Any
) -> None:
    path = write_file('[providers.anthropic]\nmodels = ["claude-opus-5-5", "claude-haiku-5-5"]\n')
    registry = build({"ANTHROPIC_API_KEY": KEY, "CHAT_PROVIDERS_FILE": path}, adapters)
    assert registry.default == ("anthropic", "claude-opus-5-5")
    assert registry.settings["anthropic"].models == ("claude-opus-5-5", "claude-haiku-5-5")
    path = write_file('[providers.openrouter]\nmodels = ["deepseek/deepseek-v4-pro"]\n', "or.toml")
    registry = build({"OPENROUTER_API_KEY": KEY, "CHAT_PROVIDERS_FILE": path}, adapters)
    assert registry.default == ("openrouter", "deepseek/deepseek-v4-pro")


def test_chat_models_supplies_the_openai_list(adapters: dict[str, Any], write_file: Any) -> None:
    registry = build({"OPENAI_API_KEY": KEY}, adapters)
    assert registry.settings["openai"].models == (
        "gpt-5.4-mini",
        "gpt-5.4",
        "gpt-5.4-nano",
        "gpt-5.6-terra",
    )
    env = {"OPENAI_API_KEY": KEY, "CHAT_MODELS": " gpt-5.4 , gpt-5.4-mini,,gpt-5.4 "}
    registry = build(env, adapters)
    assert registry.settings["openai"].models == ("gpt-5.4", "gpt-5.4-mini")
    assert registry.default == ("openai", "gpt-5.4")
    path = write_file('[providers.openai]\nmodels = ["gpt-5.5"]\n')
    assert build({"OPENAI_API_KEY": KEY, "CHAT_PROVIDERS_FILE": path}, adapters).settings[
        "openai"
    ].models == ("gpt-5.5",)
    # The environment wins over the file, as CHAT_PROVIDER and CHAT_MODEL do.
    both = build({**env, "CHAT_PROVIDERS_FILE": path}, adapters)
    assert both.settings["openai"].models == ("gpt-5.4", "gpt-5.4-mini")


EXTRAS = """
[providers.local]
protocol = "chat_completions"
base_url = "http://127.0.0.1:8000/v1"
api_key_env = "LOCAL_KEY"
local = true
models = ["llama-4-8b"]

[providers.keyless]
protocol = "chat_completions"
base_url = "http://127.0.0.1:8001/v1"
flavour = "ollama"
models = ["qwen"]

[providers.gateway]
protocol = "responses"
base_url = "https://gw.example.com/v1"
api_key_env = "GATEWAY_API_KEY"
price_provider = "openai"
models = ["gpt-5.4-mini"]
"""


def test_further_providers(
    adapters: dict[str, Any], write_file: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_file(EXTRAS)
    secret = "local-key-value-5a7c9e"
    env = {"OPENAI_API_KEY": KEY, "LOCAL_KEY": secret, "CHAT_PROVIDERS_FILE": path}
    with caplog.at_level(logging.WARNING):
        registry = build(env, adapters)
    assert list(registry.providers) == ["openai", "local", "keyless"]
    local = recorded(registry, "local")
    assert (local.kind, local.api_key, local.kwargs["flavour"]) == (  # type: ignore[attr-defined]
        "chat_completions",
        secret,
        "generic",
    )
    assert local.kwargs["base_url"] == "http://127.0.0.1:8000/v1"
    assert registry.settings["local"].local is True
    assert registry.default_model("local") == "llama-4-8b"
    keyless = recorded(registry, "keyless")
    assert (keyless.api_key, keyless.kwargs["flavour"]) == (KEYLESS, "ollama")
    # An extra provider whose api_key_env is unset is off, with a warning naming no value.
    assert "provider_off provider=gateway unset=GATEWAY_API_KEY" in caplog.text
    # Every key variable is known to the redaction set, on or off; every key reaches the adapters.
    assert {"LOCAL_KEY", "GATEWAY_API_KEY", "OPENAI_API_KEY"} <= set(registry.key_variables)
    assert secret in local.kwargs["secrets"] and KEY in local.kwargs["secrets"]
    assert secret in recorded(registry, "openai").kwargs["secrets"]
    assert secret not in caplog.text
    on = build({**env, "GATEWAY_API_KEY": "gw-key-0123456789"}, adapters)
    gateway = recorded(on, "gateway")
    # A further Responses server is stateless unless the file says stateful = true.
    assert (gateway.kind, gateway.kwargs["stateful"]) == ("responses", False)  # type: ignore[attr-defined]
    assert on.settings["gateway"].price_provider == "openai"


def test_fallback_candidates(
    adapters: dict[str, Any], write_file: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_file(
        '[providers.openai]\nfallback = ["anthropic:claude-sonnet-5-5", "gemini:gemini-3.5-flash"]\n'
        '[providers.ollama]\nmodels = ["llama3:8b"]\nfallback = ["openai:gpt-5.4", "box:m"]\n'
        '[providers.box]\nprotocol = "chat_completions"\nbase_url = "http://127.0.0.1:5/v1"\n'
        "local = true\n"
    )
    env = {
        "OPENAI_API_KEY": KEY,
        "GEMINI_API_KEY": KEY,
        "OLLAMA_BASE_URL": "http://127.0.0.1:11434/v1",
        "CHAT_PROVIDERS_FILE": path,
    }
    with caplog.at_level(logging.WARNING):
        registry = build(env, adapters)
    # A candidate whose provider has no key is skipped, with a warning at start.
    assert registry.fallback_for("openai", "gpt-5.4-mini") == [("gemini", "gemini-3.5-flash")]
    # (The process-wide redaction of other tests' secrets may hide a provider's name in the log.)
    assert "fallback_skipped provider=openai" in caplog.text
    assert "unset=ANTHROPIC_API_KEY" in caplog.text
    # A local provider falls back to local ones only.
    assert registry.fallback_for("ollama", "llama3:8b") == [("box", "m")]


def test_an_unknown_fallback_candidate_is_a_start_error(
    adapters: dict[str, Any], write_file: Any
) -> None:
    path = write_file('[providers.openai]\nmodels = ["a"]\n\nfallback = ["antropic:claude"]\n')
    with pytest.raises(ProvidersFileError) as caught:
        build({"OPENAI_API_KEY": KEY, "CHAT_PROVIDERS_FILE": path}, adapters)
    assert str(caught.value) == (
        f"providers file {path}: line 4: providers.openai.fallback[0]: "
        "names a provider that is neither built in nor in this file"
    )


def test_a_strict_default_provider_refuses_a_default_model_it_does_not_list(
    adapters: dict[str, Any], write_file: Any
) -> None:
    path = write_file('[providers.openai]\nmodels = ["gpt-5.4"]\nstrict = true\n')
    env = {"OPENAI_API_KEY": KEY, "CHAT_PROVIDERS_FILE": path}
    registry = build(env, adapters)
    assert registry.default == ("openai", "gpt-5.4")
    assert registry.refuses_model("openai", "gpt-5.4-mini")
    with pytest.raises(ConfigError, match="strict"):
        build({**env, "CHAT_MODEL": "gpt-5.4-mini", "CHAT_MODELS": ""}, adapters)


def test_section_settings_reach_the_adapters(adapters: dict[str, Any], write_file: Any) -> None:
    path = write_file(
        "[providers.openai]\nread_timeout = 90\nconnect_timeout = 2\nmax_retries = 0\n"
        "stateful = false\n"
        '[providers.anthropic]\nstateful = true\noptions = { service_tier = "auto" }\n'
        '[providers.gemini]\napi_version = "v1"\n'
        '[providers.gemini.options]\nsafety_settings = { HARM_CATEGORY_HARASSMENT = "BLOCK_NONE" }\n'
    )
    env = {
        "OPENAI_API_KEY": KEY,
        "ANTHROPIC_API_KEY": KEY,
        "GEMINI_API_KEY": KEY,
        "CHAT_PROVIDERS_FILE": path,
        "CHAT_UPSTREAM_READ_TIMEOUT": "7",
        "CHAT_UPSTREAM_MAX_RETRY_AFTER": "3",
    }
    registry = build(env, adapters)
    openai = recorded(registry, "openai").kwargs
    assert (openai["read_timeout"], openai["connect_timeout"], openai["stateful"]) == (90, 2, False)
    # The turn builds its RetryPolicy from the settings: the adapter takes no retry arguments.
    assert "max_retries" not in openai and "max_retry_after" not in openai
    assert registry.settings["openai"].stateful is False
    assert registry.settings["openai"].max_retries == 0
    anthropic = recorded(registry, "anthropic").kwargs
    assert (anthropic["stateful"], anthropic["read_timeout"]) == (True, 7.0)
    # The operator's options reach the adapter once: on each request (the turn passes them).
    assert "options" not in anthropic
    assert registry.settings["anthropic"].options == {"service_tier": "auto"}
    assert anthropic["output_limit"]("claude-opus-5-5") == 128_000
    assert anthropic["output_limit"]("claude-unknown") is None
    gemini = recorded(registry, "gemini")
    assert (gemini.kind, gemini.kwargs["api_version"]) == ("gemini", "v1")  # type: ignore[attr-defined]
    assert "options" not in gemini.kwargs
    assert registry.settings["gemini"].options == {
        "safety_settings": {"HARM_CATEGORY_HARASSMENT": "BLOCK_NONE"}
    }


def test_a_stateful_gemini_uses_interactions(adapters: dict[str, Any], write_file: Any) -> None:
    path = write_file("[providers.gemini]\nstateful = true\n")
    registry = build({"GEMINI_API_KEY": KEY, "CHAT_PROVIDERS_FILE": path}, adapters)
    gemini = recorded(registry, "gemini")
    # GeminiProvider(stateful=True) speaks the Interactions API (previous_interaction_id).
    assert (gemini.kind, gemini.kwargs["stateful"]) == ("gemini", True)  # type: ignore[attr-defined]
    assert gemini.kwargs["api_version"] == "v1beta"
    assert registry.settings["gemini"].stateful is True


def test_model_facts_from_the_catalog_and_the_file(
    adapters: dict[str, Any], write_file: Any
) -> None:
    path = write_file(
        '[models."anthropic:claude-sonnet-5-5"]\ncontext_window = 200000\n'
        'price = { input = 1.5, output = 7.5 }\nfallback = ["openai:gpt-5.4"]\n'
        '[models."openai:my-tune"]\ninput = ["text"]\n'
    )
    env = {"OPENAI_API_KEY": KEY, "ANTHROPIC_API_KEY": KEY, "CHAT_PROVIDERS_FILE": path}
    registry = build(env, adapters)
    sonnet = registry.model_info("anthropic", "claude-sonnet-5-5")
    assert sonnet.context_window == 200_000  # the file's
    assert sonnet.max_output_tokens == 128_000  # the catalog's, kept
    assert sonnet.input == ("text", "image")
    assert sonnet.price == {"input": 1.5, "output": 7.5}
    assert registry.fallback_for("anthropic", "claude-sonnet-5-5") == [("openai", "gpt-5.4")]
    assert registry.model_info("anthropic", "claude-opus-5-5").context_window == 1_000_000
    unknown = registry.model_info("openai", "gpt-5.4")
    assert (unknown.context_window, unknown.input, unknown.reasoning, unknown.price) == (
        None,
        None,
        None,
        None,
    )
    assert registry.model_info("openai", "my-tune").input == ("text",)


def test_an_adapters_own_refusal_is_a_start_error_and_built_ones_are_closed(
    adapters: dict[str, Any],
) -> None:
    built: list[Recorded] = []

    class Refuses(Recorded):
        def __init__(self, api_key: str | None, **kwargs: Any) -> None:
            raise ValueError("the generic provider needs a base URL")

    class Keeps(Recorded):
        def __init__(self, api_key: str | None, **kwargs: Any) -> None:
            super().__init__(api_key, **kwargs)
            built.append(self)

    mixed = {**adapters, "responses": Keeps, "chat_completions": Refuses}
    with pytest.raises(
        ConfigError, match="provider deepseek: the generic provider needs a base URL"
    ):
        build_registry({"OPENAI_API_KEY": KEY, "DEEPSEEK_API_KEY": KEY}, adapters=mixed)
    assert [p.closed for p in built] == [True]


def test_a_later_start_error_closes_the_providers_already_built(adapters: dict[str, Any]) -> None:
    built: list[Recorded] = []

    class Keeps(Recorded):
        def __init__(self, api_key: str | None, **kwargs: Any) -> None:
            super().__init__(api_key, **kwargs)
            built.append(self)

    with pytest.raises(ConfigError):
        build_registry(
            {"OPENAI_API_KEY": KEY, "CHAT_PROVIDER": "nobody"}, adapters={"responses": Keeps}
        )
    assert [p.closed for p in built] == [True]


def test_an_adapter_that_cannot_be_imported_is_a_start_error_only_when_used(
    monkeypatch: pytest.MonkeyPatch, adapters: dict[str, Any]
) -> None:
    from responses_client import configure

    monkeypatch.setitem(configure.ADAPTERS, "gemini", ("no_such_sdk_adapter", "GeminiProvider"))
    # Not configured: never imported.
    only_openai = {k: v for k, v in adapters.items() if k != "gemini"}
    assert list(build_registry({"OPENAI_API_KEY": KEY}, adapters=only_openai).providers) == [
        "openai"
    ]
    with pytest.raises(
        ConfigError, match="the gemini adapter cannot be loaded: no_such_sdk_adapter"
    ):
        build_registry({"GEMINI_API_KEY": KEY}, adapters=only_openai)
