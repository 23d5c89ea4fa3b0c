"""Model discovery through the app: the CLI refresh, `POST /providers/refresh` (login, same site,
every provider failing), `GET /providers` with the cached models and null unknowns, an unknown
model refused up front once a list is cached, a broken cache at start, no list read at start or
during a turn, and no key or base URL in any output."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SENTINEL_KEY, chat, login
from tests.fake_upstream import FakeUpstream
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.chat_completions import FakeChat
from tests.fakes.gemini import FakeGemini
from tests.providers.test_discovery import (
    ANTHROPIC_KEY,
    EXPECTED,
    GEMINI_KEY,
    OPENROUTER_KEY,
    PROXY_PASSWORD,
    no_secret,
)


def test_an_app_starts_over_a_broken_cache(make_app: Any, data_dir: Path) -> None:
    (data_dir / ".app").mkdir(exist_ok=True)
    (data_dir / ".app" / "models.json").write_text("{broken")
    app = make_app()
    client = login(app.test_client(), app)
    assert client.get("/providers").status_code == 200


# -- through the app -----------------------------------------------------------------------------


@pytest.fixture
def many(
    make_app: Any, upstream: FakeUpstream, data_dir: Path
) -> Iterator[tuple[Any, dict[str, Any]]]:
    with (
        FakeAnthropic() as anthropic,
        FakeGemini() as gemini,
        FakeChat(style="openrouter") as router,
    ):
        app = make_app(
            ANTHROPIC_API_KEY=ANTHROPIC_KEY,
            ANTHROPIC_BASE_URL=anthropic.base_url,
            GEMINI_API_KEY=GEMINI_KEY,
            GEMINI_BASE_URL=gemini.base_url,
            OPENROUTER_API_KEY=OPENROUTER_KEY,
            OPENROUTER_BASE_URL=f"http://user:{PROXY_PASSWORD}@127.0.0.1:{router.port}/v1",
        )
        yield (
            app,
            {"openai": upstream, "anthropic": anthropic, "gemini": gemini, "openrouter": router},
        )


def test_start_and_turns_never_read_a_model_list(many: tuple[Any, dict[str, Any]]) -> None:
    app, fakes = many
    client = login(app.test_client(), app)
    chat(client, message="hi")
    client.get("/providers")
    assert all(f.model_listing.requests == 0 for f in fakes.values())


def test_cli_refresh_prints_each_provider_and_fails_only_when_all_fail(
    many: tuple[Any, dict[str, Any]], data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app, fakes = many
    fakes["gemini"].model_listing.fail = "500"
    fakes["anthropic"].model_listing.page_size = 2
    with caplog.at_level(logging.INFO):
        result = app.test_cli_runner().invoke(args=["providers", "refresh"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "openai: 2 models",
        "anthropic: 4 models",
        "gemini: failed (upstream_unavailable)",
        "openrouter: 3 models",
    ]
    cache_text = (data_dir / ".app" / "models.json").read_text()
    no_secret(result.output)
    no_secret(cache_text)
    no_secret(caplog.text, urls=False)
    assert "http" not in cache_text
    for fake in fakes.values():
        fake.model_listing.fail = "bad_json"
    result = app.test_cli_runner().invoke(args=["providers", "refresh"])
    assert result.exit_code != 0
    assert "failed (bad_response)" in result.output
    no_secret(result.output)
    # A list without the provider's default model says so (turns naming it will be refused).
    fakes["openai"].model_listing.fail = None
    fakes["openai"].model_listing.models = [{"id": "gpt-5.4", "object": "model"}]
    result = app.test_cli_runner().invoke(args=["providers", "refresh"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "openai: 1 model"
    assert "openai's default model gpt-5.4-mini is not in its list" in result.stderr


def _models(body: dict[str, Any], provider: str) -> dict[str, dict[str, Any]]:
    entry = next(p for p in body["providers"] if p["name"] == provider)
    return {m["id"]: m for m in entry["models"]}


def test_post_refresh_answers_the_providers_document_with_the_cached_models(
    many: tuple[Any, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    app, fakes = many
    fakes["gemini"].model_listing.fail = "bad_json"
    client = login(app.test_client(), app)
    before = _models(client.get("/providers").get_json(), "openrouter")
    assert list(before) == []  # no default model, nothing configured, nothing cached
    with caplog.at_level(logging.INFO):
        response = client.post("/providers/refresh")
    assert response.status_code == 200
    body = response.get_json()
    assert body["refresh"] == [
        {"provider": "openai", "count": 2, "error": None},
        {"provider": "anthropic", "count": 4, "error": None},
        {"provider": "gemini", "count": None, "error": "bad_response"},
        {"provider": "openrouter", "count": 3, "error": None},
    ]
    assert body["providers"] == client.get("/providers").get_json()["providers"]
    # Pressed again at once: the same outcome, the providers are not asked again.
    again = client.post("/providers/refresh")
    assert again.get_json()["refresh"] == body["refresh"]
    assert fakes["openai"].model_listing.requests == 1
    router = _models(body, "openrouter")
    assert list(router) == EXPECTED["openrouter"]
    assert router["anthropic/claude-sonnet-5.5"]["price"]["source"] == "provider"
    assert router["anthropic/claude-sonnet-5.5"]["price"]["input"] == 2.0
    auto = router["openrouter/auto"]
    assert auto["price"] is None and auto["max_output_tokens"] is None  # unknown: null
    assert auto["context_window"] == 2_000_000
    anthropic = _models(body, "anthropic")
    assert next(iter(anthropic)) == "claude-sonnet-5-5"  # the configured default first
    assert anthropic["claude-text-1"]["input"] == ["text"]
    assert anthropic["claude-text-1"]["options"] is not None  # the family's table
    openai = _models(body, "openai")
    assert openai["gpt-5.4"]["context_window"] is None  # OpenAI's list gives no figures
    no_secret(response.get_data(as_text=True))
    no_secret(caplog.text, urls=False)


def test_post_refresh_needs_a_login_and_the_same_site(many: tuple[Any, dict[str, Any]]) -> None:
    app, fakes = many
    anonymous = app.test_client()
    assert anonymous.post("/providers/refresh").status_code == 401
    client = login(app.test_client(), app)
    cross = client.post("/providers/refresh", headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert cross.get_json()["error"]["code"] == "cross_site"
    form = client.post("/providers/refresh", data={"x": "1"})
    assert form.status_code == 403 and form.get_json()["error"]["code"] == "csrf_failed"
    assert all(f.model_listing.requests == 0 for f in fakes.values())


def test_post_refresh_when_every_provider_fails_is_an_error(
    many: tuple[Any, dict[str, Any]],
) -> None:
    app, fakes = many
    for fake in fakes.values():
        fake.model_listing.fail = "500"
    client = login(app.test_client(), app)
    response = client.post("/providers/refresh")
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "upstream_unavailable"
    assert {p["error"] for p in error["providers"]} == {"upstream_unavailable"}
    fakes["openai"].model_listing.fail = "401"
    response = client.post("/providers/refresh")
    assert response.status_code == 502
    no_secret(response.get_data(as_text=True))


def test_a_cached_list_refuses_an_unknown_model_up_front(
    many: tuple[Any, dict[str, Any]],
) -> None:
    app, fakes = many
    fakes["gemini"].model_listing.fail = "500"
    client = login(app.test_client(), app)
    registry = app.extensions["services"].providers
    assert not registry.refuses_model("openai", "gpt-nope")  # no list yet: sent as named
    assert client.post("/providers/refresh").status_code == 200
    sent = len(fakes["openai"].requests)
    response = client.post("/chat", json={"message": "hi", "model": "gpt-nope"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "unknown_model"
    assert len(fakes["openai"].requests) == sent  # nothing was sent
    frames = chat(client, message="hi", model="gpt-5.4")
    assert frames[-1].event == "done"
    response = client.post(
        "/chat", json={"message": "hi", "provider": "anthropic", "model": "claude-nope"}
    )
    assert response.get_json()["error"]["code"] == "unknown_model"
    # Gemini's list could not be read: its models are sent as named.
    assert not registry.refuses_model("gemini", "gemini-anything")


def test_a_key_echoed_in_a_model_id_is_neither_cached_nor_shown(
    many: tuple[Any, dict[str, Any]], data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app, fakes = many
    # Each upstream echoes a configured secret in a model id: its own key, another provider's
    # key, a base URL's password (the shape of an id, so only the secrets rule can drop it).
    fakes["openai"].model_listing.models = [
        {"id": "gpt-5.4", "object": "model"},
        {"id": f"echo/{SENTINEL_KEY}", "object": "model"},
        {"id": f"echo/{GEMINI_KEY}", "object": "model"},
    ]
    fakes["openrouter"].model_listing.models = [
        {"id": "a/b"},
        {"id": f"echo/{OPENROUTER_KEY}"},
        {"id": f"echo/{PROXY_PASSWORD}"},
    ]
    with caplog.at_level(logging.INFO):
        result = app.test_cli_runner().invoke(args=["providers", "refresh"])
    assert result.exit_code == 0, result.output
    assert "openai: 1 model" in result.stdout.splitlines()
    assert "openrouter: 1 model" in result.stdout.splitlines()
    no_secret(result.output)
    cache_text = (data_dir / ".app" / "models.json").read_text()
    no_secret(cache_text)
    client = login(app.test_client(), app)
    shown = client.get("/providers")
    no_secret(shown.get_data(as_text=True))
    assert "a/b" in _models(shown.get_json(), "openrouter")
    refreshed = client.post("/providers/refresh")
    no_secret(refreshed.get_data(as_text=True))
    no_secret(caplog.text, urls=False)


def test_a_cache_written_with_a_key_in_an_id_drops_it_when_read(
    make_app: Any, data_dir: Path
) -> None:
    (data_dir / ".app").mkdir(exist_ok=True)
    doc: dict[str, Any] = {
        "kind": "chat-model-lists",
        "schema": 1,
        "providers": {
            "openai": {
                "protocol": "responses",
                "origin": "x",
                "fetched_at": "2026-12-01T17:00:00Z",
                "last_error": None,
                "models": [{"id": "gpt-5.4"}, {"id": f"echo/{SENTINEL_KEY}"}],
            }
        },
    }
    app = make_app()
    doc["providers"]["openai"]["origin"] = (
        app.extensions["services"].providers.list_targets["openai"].origin
    )
    (data_dir / ".app" / "models.json").write_text(json.dumps(doc))
    client = login(app.test_client(), app)
    body = client.get("/providers").get_data(as_text=True)
    assert "gpt-5.4" in body
    no_secret(body)


def test_a_refresh_that_drops_the_default_model_warns_and_marks_it(
    many: tuple[Any, dict[str, Any]],
) -> None:
    app, fakes = many
    fakes["gemini"].model_listing.fail = "500"
    fakes["openai"].model_listing.models = [{"id": "gpt-5.4", "object": "model"}]
    client = login(app.test_client(), app)
    response = client.post("/providers/refresh")
    assert response.status_code == 200
    body = response.get_json()
    assert body["warnings"] == [
        {"provider": "openai", "model": "gpt-5.4-mini", "code": "default_not_listed"}
    ]
    shown = client.get("/providers").get_json()
    openai = _models(shown, "openai")
    assert openai["gpt-5.4-mini"]["listed"] is False  # the default: refused until listed
    assert openai["gpt-5.4"]["listed"] is True
    assert all(m["listed"] is None for m in _models(shown, "gemini").values())  # no list
    assert _models(shown, "anthropic")["claude-sonnet-5-5"]["listed"] is True
    # What `listed: false` says is what a new chat with the default model meets.
    refused = client.post("/chat", json={"message": "hi"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "unknown_model"
    # Listed again: no warning.
    fakes["openai"].model_listing.models = None
    app.extensions["services"].providers.model_cache.last_outcome = None  # not the reused one
    again = client.post("/providers/refresh").get_json()
    assert again["warnings"] == []
    assert _models(again, "openai")["gpt-5.4-mini"]["listed"] is True


def test_a_strict_provider_offers_no_cached_model_it_refuses(
    make_app: Any, upstream: FakeUpstream, tmp_path: Path
) -> None:
    path = tmp_path / "providers.toml"
    path.write_text('[providers.openai]\nmodels = ["gpt-5.4"]\nstrict = true\n')
    app = make_app(CHAT_PROVIDERS_FILE=str(path))
    client = login(app.test_client(), app)
    body = client.post("/providers/refresh").get_json()
    assert body["refresh"] == [{"provider": "openai", "count": 2, "error": None}]
    assert list(_models(body, "openai")) == ["gpt-5.4"]  # not gpt-5.4-mini: strict refuses it
    response = client.post("/chat", json={"message": "hi", "model": "gpt-5.4-mini"})
    assert response.get_json()["error"]["code"] == "unknown_model"
