"""The store contract for summaries: `add_summary` keeps a summary (its cost in the totals), replaces
one of the same id, keeps `last_update`, and refuses what other operations refuse.

Backend-neutral, like tests/store/test_contract.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation_manager import (
    ConversationStore,
    HistoryUnavailable,
    InvalidId,
    NotFound,
    StorageBusy,
)
from conversation_manager.models import Summary, Usage

from .backends import BACKENDS, Backend
from .conftest import USER, new_conversation, turn


@pytest.fixture(params=["json"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    return BACKENDS[request.param](tmp_path, monkeypatch)


@pytest.fixture
def store(backend: Backend) -> ConversationStore:
    return backend.store


def summary(covers: list[str], **kw: object) -> Summary:
    fields: dict[str, object] = {
        "id": "s_1",
        "covers": covers,
        "text": "They said hello.",
        "provider": "openai",
        "model": "gpt-test",
        "usage": Usage(input_tokens=100, output_tokens=20, total_tokens=120),
        "cost_usd": 0.25,
        "created_at": 1000.0,
    }
    fields.update(kw)
    return Summary.model_validate(fields)


def test_add_summary_is_kept_counted_and_replaced_by_id(store: ConversationStore) -> None:
    conv = new_conversation(store, last_update=50.0, created_at=50.0)
    q, a = turn(store, conv.id, "one", cost_usd=0.5, usage={"input_tokens": 10, "output_tokens": 5})
    before = store.get(USER, conv.id)
    assert q is not None
    out = store.add_summary(USER, conv.id, summary([q, a]))
    assert [s.id for s in out.summaries] == ["s_1"]
    got = store.get(USER, conv.id)
    assert got.summaries[0].covers == [q, a] and got.summaries[0].text == "They said hello."
    assert got.last_update == before.last_update  # a summary is no new activity
    assert got.totals.cost_usd == pytest.approx(0.75)
    assert got.totals.input_tokens == 110 and got.totals.output_tokens == 25

    store.add_summary(USER, conv.id, summary([q, a], text="Better.", cost_usd=0.1))
    again = store.get(USER, conv.id)
    assert [s.text for s in again.summaries] == ["Better."]
    assert again.totals.cost_usd == pytest.approx(0.6)

    store.add_summary(USER, conv.id, summary([q], id="s_2", cost_usd=None))
    last = store.get(USER, conv.id)
    assert [s.id for s in last.summaries] == ["s_1", "s_2"]
    assert last.totals.unpriced_messages == 0  # an unpriced summary is no unpriced reply


def test_add_summary_keeps_provider_items(store: ConversationStore) -> None:
    conv = new_conversation(store)
    q, a = turn(store, conv.id, "one")
    assert q is not None
    items = [{"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAA"}]
    store.add_summary(USER, conv.id, summary([q, a], text=None, provider_items=items))
    (kept,) = store.get(USER, conv.id).summaries
    assert kept.text is None and kept.provider_items == items


def test_add_summary_refusals(store: ConversationStore, backend: Backend) -> None:
    conv = new_conversation(store)
    with pytest.raises(NotFound):
        store.add_summary(USER, "c_missing", summary([]))
    with pytest.raises(NotFound):
        store.add_summary("bob", conv.id, summary([]))
    with pytest.raises(InvalidId):
        store.add_summary(USER, "../x", summary([]))
    with backend.busy(USER), pytest.raises(StorageBusy):
        store.add_summary(USER, conv.id, summary([]))
    assert store.get(USER, conv.id).summaries == []
    backend.damage(USER, conv.id)
    with pytest.raises(HistoryUnavailable):
        store.add_summary(USER, conv.id, summary([]))
