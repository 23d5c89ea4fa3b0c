"""build_registry with the real adapter classes: each provider gets its protocol's adapter, built
from the variables alone (no network at start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from responses_client.adapters.anthropic_messages import AnthropicProvider
from responses_client.adapters.gemini import GeminiProvider
from responses_client.adapters.openai_chat import ChatCompletionsProvider
from responses_client.adapters.openai_responses import OpenAIProvider
from responses_client.configure import build_registry

KEY = "sk-test-real-adapters-0123456789"
EVERY = {
    "OPENAI_API_KEY": KEY,
    "ANTHROPIC_API_KEY": KEY,
    "GEMINI_API_KEY": KEY,
    "XAI_API_KEY": KEY,
    "DEEPSEEK_API_KEY": KEY,
    "OPENROUTER_API_KEY": KEY,
    "OLLAMA_BASE_URL": "http://127.0.0.1:11434/v1",
}
EVERY_NAMES = ["openai", "anthropic", "gemini", "xai", "deepseek", "openrouter", "ollama"]


def test_every_shortcut_builds_its_real_adapter() -> None:
    registry = build_registry(EVERY)
    try:
        expected: dict[str, tuple[type[Any], Any]] = {
            "openai": (OpenAIProvider, None),
            "anthropic": (AnthropicProvider, None),
            "gemini": (GeminiProvider, None),
            "xai": (OpenAIProvider, "https://api.x.ai/v1"),
            "deepseek": (ChatCompletionsProvider, "https://api.deepseek.com"),
            "openrouter": (ChatCompletionsProvider, "https://openrouter.ai/api/v1"),
            "ollama": (ChatCompletionsProvider, "http://127.0.0.1:11434/v1"),
        }
        assert list(registry.providers) == list(expected)
        for name, (cls, base_url) in expected.items():
            provider: Any = registry.providers[name]
            assert isinstance(provider, cls), name
            assert provider.name == name
            if base_url is not None:
                assert provider.base_url == base_url
            assert provider.capabilities.protocol == registry.settings[name].protocol
            assert provider.stateful is registry.settings[name].stateful
            assert KEY not in repr(provider)
        live: dict[str, Any] = dict(registry.providers)
        flavours = {n: live[n].flavour for n in ("deepseek", "openrouter", "ollama")}
        assert flavours == {"deepseek": "deepseek", "openrouter": "openrouter", "ollama": "ollama"}
        assert live["gemini"].api_version == "v1beta"
        assert registry.default == ("openai", "gpt-5.4-mini")
    finally:
        registry.close()


def test_stateful_sections_reach_the_real_adapters(tmp_path: Any) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(
        "[providers.anthropic]\nstateful = true\n[providers.gemini]\nstateful = true\n"
        '[providers.local]\nprotocol = "chat_completions"\nbase_url = "http://127.0.0.1:8000/v1"\n'
        'models = ["m"]\n[providers.claude2]\nprotocol = "anthropic"\napi_key_env = "CLAUDE2_KEY"\n'
    )
    env = {
        "ANTHROPIC_API_KEY": KEY,
        "GEMINI_API_KEY": KEY,
        "CLAUDE2_KEY": "claude-two-key-0123456789",
        "CHAT_PROVIDERS_FILE": str(path),
    }
    registry = build_registry(env)
    try:
        assert registry.providers["anthropic"].stateful is True
        gemini = registry.providers["gemini"]
        assert isinstance(gemini, GeminiProvider) and gemini.stateful is True
        assert isinstance(registry.providers["local"], ChatCompletionsProvider)
        assert isinstance(registry.providers["claude2"], AnthropicProvider)
    finally:
        registry.close()


@pytest.mark.parametrize(
    "variable", ["ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL", "OPENAI_BASE_URL"]
)
def test_sdk_variables_of_the_process_do_not_change_what_is_built(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """The registry reads the mapping it is given; the SDKs are given every value explicitly."""
    monkeypatch.setenv(variable, "http://127.0.0.1:1/elsewhere")
    registry = build_registry({"ANTHROPIC_API_KEY": KEY, "GEMINI_API_KEY": KEY, "XAI_API_KEY": KEY})
    try:
        live: dict[str, Any] = dict(registry.providers)
        assert live["xai"].base_url == "https://api.x.ai/v1"
        assert "elsewhere" not in (live["anthropic"].base_url or "")
    finally:
        registry.close()


def test_the_complete_example_file_builds() -> None:
    example = Path(__file__).with_name("example_providers.toml")
    env = {**EVERY, "LOCAL_API_KEY": "local-key-0123456789", "CHAT_PROVIDERS_FILE": str(example)}
    registry = build_registry(env)  # GATEWAY_API_KEY unset: the proxy provider is off
    try:
        assert list(registry.providers) == [*EVERY_NAMES, "local"]
        assert registry.default == ("openai", "gpt-5.4-mini")
        assert registry.fallback_for("openai", "gpt-5.4-mini") == [
            ("anthropic", "claude-sonnet-5-5"),
            ("gemini", "gemini-3.5-flash"),
        ]
        assert registry.fallback_for("anthropic", "claude-sonnet-5-5") == [
            ("gemini", "gemini-3.5-flash")
        ]
        assert registry.fallback_for("ollama", "llama3:8b") == [("local", "llama-4-8b")]
        assert registry.refuses_model("openrouter", "openai/gpt-5.4")
        assert registry.model_info("local", "llama-4-8b").context_window == 131072
    finally:
        registry.close()
