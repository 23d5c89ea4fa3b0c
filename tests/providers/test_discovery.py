"""Model discovery: each provider's list shape parsed, read through its SDK from the fakes (paged
where the real one is), failures as short codes, the cache file's round trip and a broken one, the
registry's merge order (file > cache > catalog), `refuses_model` with a cache, the CLI refresh,
`POST /providers/refresh`, `GET /providers` with the cached models, an unknown model refused up
front, and no key or base URL in any output."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from responses_client import discovery
from responses_client.configure import build_registry
from responses_client.events import ResponseRequest
from responses_client.model_cache import KIND, SCHEMA, ModelCache, ProviderList
from responses_client.model_lists import (
    ListedModel,
    ListingFailed,
    ListTarget,
    parse_anthropic,
    parse_gemini,
    parse_openai,
    parse_openrouter,
    parse_plain,
)
from responses_client.registry import ModelInfo, ProviderRegistry, ProviderSettings
from tests.conftest import SENTINEL_KEY, chat, login
from tests.fake_upstream import FakeUpstream
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.chat_completions import FakeChat
from tests.fakes.gemini import FakeGemini
from tests.fakes.model_lists import SAMPLES

ANTHROPIC_KEY = "sk-ant-SENTINEL-5b7d9f1a3c"
GEMINI_KEY = "gem-SENTINEL-2c4e6a8b0d"
OPENROUTER_KEY = "sk-or-SENTINEL-9a7c5e3b1f"
PROXY_PASSWORD = "proxy-SENTINEL-pw-3f5a7c9"
SECRETS = (SENTINEL_KEY, ANTHROPIC_KEY, GEMINI_KEY, OPENROUTER_KEY, PROXY_PASSWORD)


def _no_secret(text: str, *, urls: bool = True) -> None:
    for secret in (*SECRETS, "user:", *(("127.0.0.1",) if urls else ())):
        assert secret not in text


# -- parsing each shape --------------------------------------------------------------------------


def test_openai_and_xai_lists_give_ids_only_without_non_chat_models() -> None:
    models = parse_openai(SAMPLES["openai"] + [{"id": "dall-e-3"}, {"id": "bad id!"}, "x"])
    assert [m.id for m in models] == ["gpt-5.4-mini", "gpt-5.4"]
    assert models[0] == ListedModel(id="gpt-5.4-mini")  # every figure unknown (None)
    # DeepSeek's and Ollama's lists keep every id (no filter), duplicates once.
    plain = parse_plain(SAMPLES["ollama"] + SAMPLES["ollama"][:1])
    assert [m.id for m in plain] == ["llama3:latest", "qwen3:4b"]


def test_openrouter_prices_become_usd_per_million_and_unknowns_stay_none() -> None:
    sonnet, free, auto = parse_openrouter(SAMPLES["openrouter"])
    assert sonnet.id == "anthropic/claude-sonnet-5.5"
    assert sonnet.context_window == 1_000_000
    assert sonnet.max_output_tokens == 128_000
    assert sonnet.input == ("text", "image")  # "file" is not a kind the app sends
    assert sonnet.thinking is True and sonnet.reasoning is None  # efforts not listed
    assert sonnet.price == {
        "input": 2.0,
        "cached_input": 0.2,
        "cache_write": 2.5,
        "output": 10.0,
        "source": "provider",
    }
    assert free.price == {
        "input": 0.0,
        "cached_input": None,
        "cache_write": None,
        "output": 0.0,
        "source": "provider",
    }
    assert free.max_output_tokens is None and free.reasoning == () and free.thinking is False
    assert auto.price is None  # "-1": a router whose price varies is no price
    assert auto.thinking is None and auto.max_output_tokens is None


def test_anthropic_model_info_gives_windows_image_input_efforts_and_thinking() -> None:
    retired = {**SAMPLES["anthropic"][0], "id": "claude-old-1", "lifecycle": "retired"}
    bare = {"type": "model", "id": "claude-bare", "display_name": "x", "created_at": "x"}
    sonnet, opus, haiku, text, plain = parse_anthropic([*SAMPLES["anthropic"], retired, bare])
    assert (sonnet.context_window, sonnet.max_output_tokens) == (1_000_000, 128_000)
    assert sonnet.input == ("text", "image")
    assert sonnet.reasoning == ("low", "medium", "high", "xhigh", "max")
    assert opus.id == "claude-opus-5-5-20260928" and opus.reasoning == (
        "low",
        "medium",
        "high",
        "max",
    )
    assert haiku.reasoning == () and haiku.thinking is True
    assert text.input == ("text",) and text.thinking is False
    assert plain == ListedModel(id="claude-bare")  # no capabilities: nothing known


def test_gemini_models_drop_the_prefix_and_models_that_do_not_generate() -> None:
    snake = {
        "name": "models/gemini-x",
        "input_token_limit": 1000,
        "output_token_limit": 10,
        "supported_actions": ["generateContent"],
        "thinking": False,
    }
    models = parse_gemini([*SAMPLES["gemini"], snake, {"name": 3}])
    assert [m.id for m in models] == ["gemini-3.5-flash", "gemini-3.8-flash", "gemini-x"]
    assert models[0] == ListedModel(
        id="gemini-3.5-flash", context_window=1048576, max_output_tokens=65536, thinking=True
    )
    assert models[2].context_window == 1000 and models[2].thinking is False


def test_a_list_that_is_not_a_list_is_a_bad_response() -> None:
    for parse in (parse_openai, parse_openrouter, parse_anthropic, parse_gemini):
        with pytest.raises(ListingFailed) as caught:
            parse({"data": []})
        assert caught.value.code == "bad_response"
    # Figures that are not counts are unknown, not guessed.
    odd = parse_openrouter([{"id": "a/b", "context_length": "100", "top_provider": True}])
    assert odd[0].context_window is None and odd[0].max_output_tokens is None


# -- through each SDK against the fakes ----------------------------------------------------------


@pytest.fixture
def fakes() -> Iterator[dict[str, Any]]:
    with (
        FakeUpstream() as responses,
        FakeAnthropic() as anthropic,
        FakeGemini() as gemini,
        FakeChat(style="openrouter") as openrouter,
        FakeChat(style="deepseek") as deepseek,
        FakeChat() as ollama,
    ):
        yield {
            "openai": responses,
            "anthropic": anthropic,
            "gemini": gemini,
            "openrouter": openrouter,
            "deepseek": deepseek,
            "ollama": ollama,
        }


def targets(fakes: dict[str, Any]) -> dict[str, ListTarget]:
    return {
        "openai": ListTarget("openai", "responses", fakes["openai"].base_url, "k"),
        "anthropic": ListTarget("anthropic", "anthropic", fakes["anthropic"].base_url, "k"),
        "gemini": ListTarget("gemini", "gemini", fakes["gemini"].base_url, "k"),
        "openrouter": ListTarget(
            "openrouter", "chat_completions", fakes["openrouter"].base_url, "k", "openrouter"
        ),
        "deepseek": ListTarget(
            "deepseek", "chat_completions", fakes["deepseek"].root_url, "k", "deepseek"
        ),
        "ollama": ListTarget(
            "ollama", "chat_completions", fakes["ollama"].base_url, None, "ollama"
        ),
    }


EXPECTED = {
    "openai": ["gpt-5.4-mini", "gpt-5.4"],
    "anthropic": [
        "claude-sonnet-5-5",
        "claude-opus-5-5-20260928",
        "claude-haiku-4-5",
        "claude-text-1",
    ],
    "gemini": ["gemini-3.5-flash", "gemini-3.8-flash"],
    "openrouter": ["anthropic/claude-sonnet-5.5", "meta-llama/llama-4-8b:free", "openrouter/auto"],
    "deepseek": ["deepseek-v4-flash", "deepseek-v4-pro"],
    "ollama": ["llama3:latest", "qwen3:4b"],
}


def test_each_provider_list_is_read_through_its_sdk_with_paging(fakes: dict[str, Any]) -> None:
    fakes["anthropic"].model_listing.page_size = 1  # four pages, by after_id
    fakes["gemini"].model_listing.page_size = 1  # three pages, by pageToken
    for name, target in targets(fakes).items():
        assert [m.id for m in discovery.fetch(target)] == EXPECTED[name], name
    anthropic_pages = fakes["anthropic"].model_listing.queries
    assert [q.get("after_id") for q in anthropic_pages] == [
        None,
        ["claude-sonnet-5-5"],
        ["claude-opus-5-5-20260928"],
        ["claude-haiku-4-5"],
    ]
    assert [q.get("pageToken") for q in fakes["gemini"].model_listing.queries] == [
        None,
        ["1"],
        ["2"],
    ]
    # The requests carried the key as each SDK sends it, on the provider's own paths.
    paths = {
        "openai": "/v1/models",
        "anthropic": "/v1/models",
        "gemini": "/v1beta/models",
        "openrouter": "/v1/models",
        "deepseek": "/models",
        "ollama": "/v1/models",
    }
    for name, path in paths.items():
        assert {r.path for r in fakes[name].requests} == {path}, name


@pytest.mark.parametrize(
    ("fail", "code"),
    [
        ("500", "upstream_unavailable"),
        ("401", "upstream_auth"),
        ("404", "not_supported"),
        ("429", "rate_limited"),
        ("bad_json", "bad_response"),
        ("bad_shape", "bad_response"),
    ],
)
def test_a_failed_list_is_a_short_code(fakes: dict[str, Any], fail: str, code: str) -> None:
    for name in ("openai", "anthropic", "gemini", "openrouter"):
        fakes[name].model_listing.fail = fail
    for name in ("openai", "anthropic", "gemini", "openrouter"):
        with pytest.raises(ListingFailed) as caught:
            discovery.fetch(targets(fakes)[name])
        assert caught.value.code == code, name
        assert "boom" not in str(caught.value)
    # No retry: one request each.
    assert fakes["openai"].model_listing.requests == 1


def test_an_unreachable_server_is_upstream_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for target in (
        ListTarget("openai", "responses", f"http://127.0.0.1:{port}/v1", "k"),
        ListTarget("anthropic", "anthropic", f"http://127.0.0.1:{port}", "k"),
        ListTarget("gemini", "gemini", f"http://127.0.0.1:{port}", "k"),
    ):
        with pytest.raises(ListingFailed) as caught:
            discovery.fetch(target)
        assert caught.value.code == "upstream_unavailable"


# -- the cache file ------------------------------------------------------------------------------


def _list(provider: str, ids: list[str], **extra: Any) -> ProviderList:
    target = ListTarget(provider, extra.pop("protocol", "responses"), extra.pop("url", None))
    return ProviderList(
        provider=provider,
        protocol=target.protocol,
        origin=target.origin,
        fetched_at="2026-12-01T17:00:00Z",
        models=tuple(ListedModel(id=i, **extra) for i in ids),
    )


def test_the_cache_round_trips_and_keeps_a_failed_providers_earlier_list(tmp_path: Path) -> None:
    path = tmp_path / ".app" / "models.json"
    cache = ModelCache(path)
    price = {"input": 2.0, "cached_input": None, "cache_write": None, "output": 10.0}
    fresh = _list(
        "openrouter",
        ["a/b"],
        context_window=10,
        input=("text",),
        reasoning=(),
        thinking=False,
        price={**price, "source": "provider"},
    )
    cache.save({"openrouter": fresh, "openai": _list("openai", ["gpt-5.4"])}, {})
    doc = json.loads(path.read_text())
    assert doc["kind"] == KIND and doc["schema"] == SCHEMA
    assert doc["providers"]["openai"]["fetched_at"] == "2026-12-01T17:00:00Z"
    again = ModelCache(path)
    again.load()
    assert again.lists() == {"openrouter": fresh, "openai": _list("openai", ["gpt-5.4"])}
    # A failure keeps the earlier list and notes its code; another provider's list is replaced.
    again.save({"openai": _list("openai", ["gpt-6"])}, {"openrouter": "rate_limited"})
    third = ModelCache(path)
    third.load()
    kept = third.get("openrouter")
    assert kept is not None and kept.models == fresh.models and kept.last_error == "rate_limited"
    assert [m.id for m in third.lists()["openai"].models] == ["gpt-6"]
    # Another process's write is seen at the next lookup (no restart).
    ModelCache(path).save({"openai": _list("openai", ["gpt-7"])}, {})
    assert [m.id for m in cache.lists()["openai"].models] == ["gpt-7"]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe garbage",
        b'{"kind": "something-else", "schema": 1, "providers": {}}',
        json.dumps({"kind": KIND, "schema": 99, "providers": {}}).encode(),
        json.dumps({"kind": KIND, "schema": SCHEMA, "providers": []}).encode(),
        b"[1, 2, 3]",
    ],
)
def test_a_broken_or_foreign_cache_is_ignored_with_a_warning(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "models.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        registry = build_registry({"OPENAI_API_KEY": "k"}, models_cache=path)
    assert registry.model_cache.lists() == {}
    assert "model_cache_ignored" in caplog.text
    assert not registry.refuses_model("openai", "anything")


def test_a_damaged_entry_is_dropped_and_the_others_kept(tmp_path: Path) -> None:
    good = _list("openai", ["gpt-5.4"]).to_json()
    doc = {
        "kind": KIND,
        "schema": SCHEMA,
        "providers": {"openai": good, "anthropic": {"models": "x"}, "bad name!": good},
    }
    path = tmp_path / "models.json"
    path.write_text(json.dumps(doc))
    cache = ModelCache(path)
    cache.load()
    assert list(cache.lists()) == ["openai"]


def test_an_app_starts_over_a_broken_cache(make_app: Any, data_dir: Path) -> None:
    (data_dir / ".app").mkdir(exist_ok=True)
    (data_dir / ".app" / "models.json").write_text("{broken")
    app = make_app()
    client = login(app.test_client(), app)
    assert client.get("/providers").status_code == 200


# -- the registry --------------------------------------------------------------------------------


def test_model_info_merges_the_file_over_the_cache_over_the_catalog(tmp_path: Path) -> None:
    providers_file = tmp_path / "providers.toml"
    providers_file.write_text(
        '[models."anthropic:claude-sonnet-5-5"]\ncontext_window = 123456\n'
        '[models."anthropic:claude-new-6"]\nmax_output_tokens = 777\n'
    )
    cache_path = tmp_path / "models.json"
    env = {"ANTHROPIC_API_KEY": "k", "CHAT_PROVIDERS_FILE": str(providers_file)}
    origin = build_registry(env).list_targets["anthropic"].origin
    listed = (
        ListedModel("claude-sonnet-5-5", 900_000, 64_000, ("text",), ("low",), True),
        ListedModel("claude-new-6", 500_000, 32_000, ("text", "image"), None, None),
    )
    ModelCache(cache_path).save(
        {"anthropic": ProviderList("anthropic", "anthropic", origin, "t", listed)}, {}
    )
    registry = build_registry(env, models_cache=cache_path)
    sonnet = registry.model_info("anthropic", "claude-sonnet-5-5")
    assert sonnet.context_window == 123456  # the file
    assert sonnet.max_output_tokens == 64_000  # the cache, over the catalog's 128k
    assert sonnet.input == ("text",) and sonnet.reasoning == ("low",)  # the cache
    assert sonnet.options is not None and "temperature" not in sonnet.options  # the catalog
    new = registry.model_info("anthropic", "claude-new-6")
    assert new.max_output_tokens == 777 and new.context_window == 500_000
    assert new.options is not None and "top_p" not in new.options  # the family's rule
    # Without a cache the catalog's figures are back.
    bare = build_registry(env).model_info("anthropic", "claude-sonnet-5-5")
    assert (bare.context_window, bare.max_output_tokens) == (123456, 128_000)


def test_refuses_model_only_when_the_cached_list_exists_and_lacks_it(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "models.json")
    settings = [
        ProviderSettings("ollama", "chat_completions"),
        ProviderSettings("anthropic", "anthropic"),
        ProviderSettings("local", "responses", models=("a",), strict=True),
    ]
    registry = ProviderRegistry(
        providers={}, settings={s.name: s for s in settings}, model_cache=cache
    )
    assert not registry.refuses_model("ollama", "anything")  # no list: sent as named
    assert registry.refuses_model("local", "b")  # strict, as before
    cache.save(
        {
            "ollama": _list("ollama", ["llama3:latest", "qwen3:4b"]),
            "anthropic": _list("anthropic", ["claude-opus-5-5-20260928"]),
            "local": _list("local", []),
        },
        {},
    )
    assert not registry.refuses_model("ollama", "qwen3:4b")
    assert not registry.refuses_model("ollama", "llama3")  # Ollama's :latest
    assert registry.refuses_model("ollama", "llama3:8b")
    assert not registry.refuses_model("anthropic", "claude-opus-5-5")  # the dated id's alias
    assert registry.refuses_model("anthropic", "claude-nope")
    assert not registry.refuses_model("local", "a")  # an empty list refuses nothing
    # A list read from another base URL is not this provider's any more.
    registry.list_targets = {"ollama": ListTarget("ollama", "chat_completions", "http://x:1/v1")}
    assert not registry.refuses_model("ollama", "llama3:8b")
    assert registry.model_info("ollama", "qwen3:4b") == ModelInfo("ollama", "qwen3:4b")


class Watched:
    """A lock that says when a non-blocking acquire found it held."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.refused = threading.Event()

    def acquire(self, blocking: bool = True) -> bool:
        got = self.lock.acquire(blocking)
        if not got:
            self.refused.set()
        return got

    def release(self) -> None:
        self.lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_one_refresh_at_a_time_a_second_caller_gets_the_first_ones_outcome(
    fakes: dict[str, Any], tmp_path: Path
) -> None:
    registry = build_registry(
        {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": fakes["openai"].base_url},
        models_cache=tmp_path / "models.json",
    )
    cache = registry.model_cache
    cache.refresh_lock = Watched()
    got: list[discovery.RefreshOutcome] = []
    with cache.refresh_lock:  # a refresh is under way in this process
        waiter = threading.Thread(target=lambda: got.append(discovery.refresh(registry)))
        waiter.start()
        assert cache.refresh_lock.refused.wait(5)  # the second caller found it busy
        assert fakes["openai"].model_listing.requests == 0
        first = discovery.RefreshOutcome((discovery.ProviderOutcome("openai", 9, None),), True)
        cache.last_outcome = first
    waiter.join(5)
    assert got == [first]
    assert fakes["openai"].model_listing.requests == 0
    assert discovery.refresh(registry).providers == (discovery.ProviderOutcome("openai", 2, None),)
    registry.close()


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
    _no_secret(result.output)
    _no_secret(cache_text)
    _no_secret(caplog.text, urls=False)
    assert "http" not in cache_text
    for fake in fakes.values():
        fake.model_listing.fail = "bad_json"
    result = app.test_cli_runner().invoke(args=["providers", "refresh"])
    assert result.exit_code != 0
    assert "failed (bad_response)" in result.output
    _no_secret(result.output)
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
    _no_secret(response.get_data(as_text=True))
    _no_secret(caplog.text, urls=False)


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
    _no_secret(response.get_data(as_text=True))


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


def test_anthropic_max_tokens_follows_the_cached_output_limit(
    fakes: dict[str, Any], tmp_path: Path
) -> None:
    env = {"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": fakes["anthropic"].base_url}
    registry = build_registry(env, models_cache=tmp_path / "models.json")
    adapter = registry.get("anthropic")
    request = ResponseRequest(model="claude-text-1", input="hi", instructions=None)
    assert adapter.max_tokens_for(request) == 8192  # nothing known: the adapter's default
    discovery.refresh(registry)
    assert adapter.max_tokens_for(request) == 4096  # the list's max_tokens
    registry.close()
