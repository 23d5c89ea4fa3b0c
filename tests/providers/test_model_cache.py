"""The model-list cache file: its round trip, a failed provider keeping its earlier list, another
process's write seen, and a broken, foreign or newer file ignored with a warning."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from responses_client.configure import build_registry
from responses_client.model_cache import KIND, SCHEMA, ModelCache
from tests.providers.test_discovery import provider_list


def test_the_cache_round_trips_and_keeps_a_failed_providers_earlier_list(
    tmp_path: Path,
) -> None:
    path = tmp_path / ".app" / "models.json"
    cache = ModelCache(path)
    price = {"input": 2.0, "cached_input": None, "cache_write": None, "output": 10.0}
    fresh = provider_list(
        "openrouter",
        ["a/b"],
        context_window=10,
        input=("text",),
        reasoning=(),
        thinking=False,
        price={**price, "source": "provider"},
    )
    cache.save({"openrouter": fresh, "openai": provider_list("openai", ["gpt-5.4"])}, {})
    doc = json.loads(path.read_text())
    assert doc["kind"] == KIND and doc["schema"] == SCHEMA
    assert doc["providers"]["openai"]["fetched_at"] == "2026-12-01T17:00:00Z"
    again = ModelCache(path)
    again.load()
    assert again.lists() == {"openrouter": fresh, "openai": provider_list("openai", ["gpt-5.4"])}
    # A failure keeps the earlier list and notes its code; another provider's list is replaced.
    again.save({"openai": provider_list("openai", ["gpt-6"])}, {"openrouter": "rate_limited"})
    third = ModelCache(path)
    third.load()
    kept = third.get("openrouter")
    assert kept is not None and kept.models == fresh.models and kept.last_error == "rate_limited"
    assert [m.id for m in third.lists()["openai"].models] == ["gpt-6"]
    # Another process's write is seen at the next lookup (no restart).
    ModelCache(path).save({"openai": provider_list("openai", ["gpt-7"])}, {})
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
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the JSON parser's recursion
        b'{"kind": "chat-model-lists", "schema": 1, "providers": {"openai": '
        + b'{"a": ' * 100_000
        + b"1"
        + b"}" * 100_001
        + b"}",
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
    path.write_bytes(content + b" ")  # changed by "another process": read again, ignored again
    assert registry.model_cache.lists() == {}


def test_a_damaged_entry_is_dropped_and_the_others_kept(tmp_path: Path) -> None:
    good = provider_list("openai", ["gpt-5.4"]).to_json()
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
