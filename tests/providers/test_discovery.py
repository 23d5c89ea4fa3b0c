"""Model discovery: each provider's list shape parsed, read through its SDK from the fakes (paged
where the real one is), failures as short codes, the registry's merge order (file > cache >
catalog), `refuses_model` with a cache, one refresh at a time, the Anthropic output limit from a
list. The cache file: test_model_cache.py; through the app (CLI, HTTP): test_discovery_web.py."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from responses_client import discovery
from responses_client.configure import build_registry
from responses_client.events import ResponseRequest
from responses_client.model_cache import ModelCache, ProviderList
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
from tests.conftest import SENTINEL_KEY
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


def no_secret(text: str, *, urls: bool = True) -> None:
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


def provider_list(provider: str, ids: list[str], **extra: Any) -> ProviderList:
    target = ListTarget(provider, extra.pop("protocol", "responses"), extra.pop("url", None))
    return ProviderList(
        provider=provider,
        protocol=target.protocol,
        origin=target.origin,
        fetched_at="2026-12-01T17:00:00Z",
        models=tuple(ListedModel(id=i, **extra) for i in ids),
    )


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
            "ollama": provider_list("ollama", ["llama3:latest", "qwen3:4b"]),
            "anthropic": provider_list("anthropic", ["claude-opus-5-5-20260928"]),
            "local": provider_list("local", []),
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


def test_anthropic_listing_takes_the_environments_headers_back_out_like_the_adapter(
    fakes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fakes["anthropic"]
    target = ListTarget("anthropic", "anthropic", fake.base_url, ANTHROPIC_KEY)
    discovery.fetch(target)
    clean = fake.requests[-1]
    monkeypatch.setenv(
        "ANTHROPIC_CUSTOM_HEADERS",
        "X-Leak: 1\nanthropic-version: 2023-06-01\nAuthorization: Bearer env\nx-api-key: env",
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-key-0000000000")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    assert len(discovery.fetch(target)) == 4
    env = fake.requests[-1]
    assert env.path == "/v1/models"
    assert "x-leak" not in env.headers and "x-api-key" not in env.headers
    assert env.headers["anthropic-version"] == "2026-10-21"
    assert env.headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"
    assert {k: v for k, v in env.headers.items() if k != "host"} == {
        k: v for k, v in clean.headers.items() if k != "host"
    }
