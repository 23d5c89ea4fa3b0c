"""GET /providers and GET /models through the real app; a broken file stops create_app; no key or
credential in any response."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from responses_client.configure import ConfigError
from responses_client.options import CHOICES
from responses_client.providers_file import ProvidersFileError
from tests.conftest import SENTINEL_KEY, login

LOCAL_KEY = "local-SENTINEL-key-7d2e4b6a9c"
DEEPSEEK_KEY = "sk-deepseek-SENTINEL-1f3e5a7c9b"
PROXY_PASSWORD = "proxy-SENTINEL-pw-8e6c4a2"

FILE = """
default = "openai:gpt-5.4"

[providers.openai]
models = ["gpt-5.4-mini", "gpt-5.4"]
fallback = ["deepseek:deepseek-v4-flash", "anthropic:claude-sonnet-5-5"]

[providers.deepseek]
models = ["deepseek-v4-flash", "my-deepseek-tune"]

[providers.local]
protocol = "responses"
base_url = "{base_url}"
api_key_env = "LOCAL_KEY"
stateful = false
local = true
models = ["llama-4-8b"]

[models."local:llama-4-8b"]
context_window = 131072
max_output_tokens = 8192
input = ["text", "image"]
options = ["temperature", "max_output_tokens"]
price = {{ input = 0.0, output = 0.0 }}
"""


@pytest.fixture
def configured(
    make_app: Any, tmp_path: Path, upstream: Any, monkeypatch: pytest.MonkeyPatch
) -> Any:
    path = tmp_path / "providers.toml"
    path.write_text(FILE.format(base_url=upstream.base_url))
    monkeypatch.setenv("LOCAL_KEY", LOCAL_KEY)  # a further provider's key: any variable name
    return make_app(
        CHAT_PROVIDERS_FILE=str(path),
        DEEPSEEK_API_KEY=DEEPSEEK_KEY,
        DEEPSEEK_BASE_URL=f"http://user:{PROXY_PASSWORD}@127.0.0.1:9/v1",
    )


def test_providers_answers_the_contracts_shape(configured: Any) -> None:
    client = login(configured.test_client(), configured)
    response = client.get("/providers")
    assert response.status_code == 200
    body = response.get_json()
    assert body["default"] == {"provider": "openai", "model": "gpt-5.4"}
    assert [p["name"] for p in body["providers"]] == ["openai", "deepseek", "local"]
    for provider in body["providers"]:
        assert set(provider) == {"name", "protocol", "stateful", "models", "fallback"}
        for model in provider["models"]:
            assert set(model) == {
                "id",
                "context_window",
                "max_output_tokens",
                "input",
                "reasoning",
                "options",
                "price",
                "listed",
                "option_values",
            }
    openai, deepseek, local = body["providers"]
    assert (openai["protocol"], openai["stateful"]) == ("responses", True)
    assert [m["id"] for m in openai["models"]] == ["gpt-5.4-mini", "gpt-5.4"]
    # Anthropic has no key: its candidate is left out; a configured one is listed.
    assert openai["fallback"] == [{"provider": "deepseek", "model": "deepseek-v4-flash"}]
    mini = openai["models"][0]
    # Figures the app does not know are null, never a guess; the price is the data's record.
    assert (mini["context_window"], mini["input"], mini["reasoning"]) == (None, None, None)
    # Options are what POST /chat takes: the Responses API has no thinking switch.
    assert mini["options"] == [
        "reasoning_effort",
        "reasoning_summary",
        "verbosity",
        "temperature",
        "top_p",
        "max_output_tokens",
    ]
    assert mini["price"]["source"].startswith("genai-prices ")
    assert set(mini["price"]) >= {"input", "cached_input", "cache_write", "output", "source"}
    assert (deepseek["protocol"], deepseek["stateful"], deepseek["fallback"]) == (
        "chat_completions",
        False,
        [],
    )
    flash, tune = deepseek["models"]
    assert (flash["context_window"], flash["max_output_tokens"]) == (1_000_000, 384_000)
    assert flash["reasoning"] == ["low", "high", "max"]
    assert tune == {
        "id": "my-deepseek-tune",
        "context_window": None,
        "max_output_tokens": None,
        "input": None,
        "reasoning": None,
        # Unknown to the catalog, but DeepSeek's API sends only these (never null then).
        "options": ["reasoning_effort", "temperature", "top_p", "max_output_tokens", "thinking"],
        "price": None,  # unknown to the price data: null, never 0
        "listed": None,  # no cached model list to judge by
        "option_values": {},
    }
    assert local == {
        "name": "local",
        "protocol": "responses",
        "stateful": False,
        "models": [
            {
                "id": "llama-4-8b",
                "context_window": 131072,
                "max_output_tokens": 8192,
                "input": ["text", "image"],
                "reasoning": None,
                "options": ["temperature", "max_output_tokens"],
                "price": {
                    "input": 0.0,
                    "cached_input": 0.0,
                    "cache_write": 0.0,
                    "output": 0.0,
                    "source": "configured",
                },
                "listed": None,
                "option_values": {},
            }
        ],
        "fallback": [],
    }


# A valid value of each option (the model's own efforts where it lists them).
VALUES: dict[str, Any] = {
    "reasoning_effort": "medium",
    "reasoning_summary": "auto",
    "verbosity": "low",
    "temperature": 0.5,
    "top_p": 0.5,
    "max_output_tokens": 100,
    "thinking": "on",
}


def _listed_options_agree_with_chat(client: Any, skip: tuple[str, ...] = ()) -> None:
    """Every option GET /providers lists for a model is taken by POST /chat, every other one
    refused with bad_option (the providers in `skip` answer nothing here)."""
    for provider in client.get("/providers").get_json()["providers"]:
        if provider["name"] in skip:
            continue
        for model in provider["models"]:
            listed = model["options"]
            assert listed is not None  # the Responses API limits them: a list, never null
            ref = {"provider": provider["name"], "model": model["id"]}
            efforts = model["reasoning"]
            limited = model["option_values"]
            for name, given in VALUES.items():
                value = efforts[0] if name == "reasoning_effort" and efforts else given
                if name in limited:
                    value = limited[name][0]
                    for refused in set(CHOICES[name]) - set(limited[name]):
                        assert _sent(client, ref, name, refused).status_code == 400
                response = _sent(client, ref, name, value)
                if name in listed:
                    assert response.status_code == 200, (ref, name, response.data)
                    response.get_data()  # read the stream to its end
                else:
                    assert response.status_code == 400, (ref, name)
                    assert response.get_json()["error"]["code"] == "bad_option"


def _sent(client: Any, ref: dict[str, str], name: str, value: Any) -> Any:
    return client.post("/chat", json={"message": "hi", **ref, "options": {name: value}})


def test_the_options_listed_are_what_post_chat_takes(configured: Any) -> None:
    client = login(configured.test_client(), configured)
    # deepseek's base URL answers nothing here; its up-front check is the same code.
    _listed_options_agree_with_chat(client, skip=("deepseek",))


def test_a_model_taking_some_values_of_an_option_lists_them(make_app: Any) -> None:
    app = make_app(CHAT_MODELS="o4-mini,gpt-5.4")
    client = login(app.test_client(), app)
    models = {m["id"]: m for m in client.get("/providers").get_json()["providers"][0]["models"]}
    assert models["o4-mini"]["option_values"] == {"reasoning_summary": ["auto", "detailed", "none"]}
    assert models["o4-mini"]["reasoning"] == ["low", "medium", "high"]
    assert "temperature" not in models["o4-mini"]["options"]
    assert models["gpt-5.4"]["option_values"] == {}
    _listed_options_agree_with_chat(client)


def test_a_model_without_reasoning_lists_no_effort(make_app: Any, tmp_path: Path) -> None:
    path = tmp_path / "providers.toml"
    path.write_text('[models."openai:gpt-5.4"]\nreasoning = []\n')
    app = make_app(CHAT_PROVIDERS_FILE=str(path), CHAT_MODELS="gpt-5.4-mini,gpt-5.4")
    client = login(app.test_client(), app)
    body = client.get("/providers").get_json()
    models = {m["id"]: m for m in body["providers"][0]["models"]}
    assert models["gpt-5.4"]["reasoning"] == []
    assert "reasoning_effort" not in models["gpt-5.4"]["options"]
    assert "reasoning_effort" in models["gpt-5.4-mini"]["options"]
    _listed_options_agree_with_chat(client)


def test_models_is_the_short_form(configured: Any) -> None:
    client = login(configured.test_client(), configured)
    body = client.get("/models").get_json()
    assert body == {
        "default": "gpt-5.4",
        "provider": "openai",
        "models": ["gpt-5.4-mini", "gpt-5.4"],
        "providers": ["openai", "deepseek", "local"],
    }


def test_the_default_provider_comes_first_in_models(make_app: Any) -> None:
    app = make_app(DEEPSEEK_API_KEY=DEEPSEEK_KEY, CHAT_PROVIDER="deepseek")
    client = login(app.test_client(), app)
    body = client.get("/models").get_json()
    assert body == {
        "default": "deepseek-v4-flash",
        "provider": "deepseek",
        "models": ["deepseek-v4-flash"],
        "providers": ["deepseek", "openai"],
    }
    listed = {p["name"]: p for p in client.get("/providers").get_json()["providers"]}
    assert [m["id"] for m in listed["deepseek"]["models"]] == ["deepseek-v4-flash"]  # its default


def test_both_need_a_login(configured: Any) -> None:
    anonymous = configured.test_client()
    for path in ("/providers", "/models"):
        response = anonymous.get(path)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthenticated"


def test_no_provider_at_all(make_app: Any) -> None:
    app = make_app(OPENAI_API_KEY=None, OPENAI_BASE_URL=None)
    client = login(app.test_client(), app)
    assert client.get("/providers").get_json() == {"default": None, "providers": []}
    assert client.get("/models").get_json() == {
        "default": None,
        "provider": None,
        "models": [],
        "providers": [],
    }
    assert client.get("/").status_code == 200


def test_no_key_or_credential_in_any_response(
    configured: Any, upstream: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = login(configured.test_client(), configured)
    seen = []
    for path in ("/", "/providers", "/models"):
        response = client.get(path)
        assert response.status_code == 200
        seen.append(response.get_data(as_text=True))
        seen.extend(f"{k}: {v}" for k, v in response.headers.items())
    text = "\n".join(seen)
    for secret in (SENTINEL_KEY, LOCAL_KEY, DEEPSEEK_KEY, PROXY_PASSWORD):
        assert secret not in text
        assert secret[:12] not in text
    # No base URL either: one may carry credentials, and none is the page's business.
    assert upstream.base_url not in text and "127.0.0.1:9" not in text
    # The further provider's key (any variable name) is redacted from logs from now on.
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").warning("upstream echoed %s", LOCAL_KEY)
    assert LOCAL_KEY not in caplog.text


def test_a_broken_file_stops_create_app_with_line_key_and_reason(
    make_app: Any, tmp_path: Path
) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(
        '[providers.openai]\nmodels = ["gpt-5.4"]\n\n[providers.openai.options]\n'
        f'api_key = "{SENTINEL_KEY}"\n'
    )
    with pytest.raises(ProvidersFileError) as caught:
        make_app(CHAT_PROVIDERS_FILE=str(path))
    message = str(caught.value)
    assert message.startswith(f"providers file {path}: line 5: providers.openai.options.api_key: ")
    assert "api_key_env" in message and "\n" not in message
    assert SENTINEL_KEY not in message and SENTINEL_KEY[:10] not in message
    path.write_text(f"[providers.openai]\nmodels = [{SENTINEL_KEY}]\n")
    with pytest.raises(ProvidersFileError) as caught:
        make_app(CHAT_PROVIDERS_FILE=str(path))
    assert (caught.value.line, caught.value.path) == (2, "providers.openai.models")
    assert SENTINEL_KEY[:10] not in str(caught.value)


def test_a_default_provider_without_a_model_stops_create_app(make_app: Any) -> None:
    with pytest.raises(ConfigError, match="set CHAT_MODEL"):
        make_app(OPENAI_API_KEY=None, OPENROUTER_API_KEY="sk-or-SENTINEL-0123456789abcdef")
    app = make_app(
        OPENAI_API_KEY=None,
        OPENROUTER_API_KEY="sk-or-SENTINEL-0123456789abcdef",
        CHAT_MODEL="deepseek/deepseek-v4-pro",
    )
    client = login(app.test_client(), app)
    assert client.get("/providers").get_json()["default"] == {
        "provider": "openrouter",
        "model": "deepseek/deepseek-v4-pro",
    }
