"""The store's `update` operation (PATCH /conversations/ID): name, instructions, pinned, archived.

Backend-neutral, like test_contract.py: the same fixture runs every backend of tests/store/backends.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation_manager import HistoryUnavailable, InvalidId, NotFound

from .backends import BACKENDS, Backend
from .conftest import USER, new_conversation, turn


@pytest.fixture(params=["json"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    return BACKENDS[request.param](tmp_path, monkeypatch)


def test_update_changes_only_the_fields_given_and_keeps_last_update(backend: Backend) -> None:
    store = backend.store
    conv = new_conversation(store, chat_name="First", created_at=100.0, last_update=100.0)
    entry = store.update(USER, conv.id, instructions="Answer in French.")
    assert (entry.chat_name, entry.last_update, entry.pinned, entry.archived) == (
        "First",
        100.0,
        False,
        False,
    )
    stored = store.get(USER, conv.id)
    assert stored.instructions == "Answer in French."
    entry = store.update(USER, conv.id, pinned=True, archived=True)
    assert entry.pinned and entry.archived
    listed = {s.id: s for s in store.list(USER)}[conv.id]
    assert listed.pinned and listed.archived and listed.last_update == 100.0
    assert store.get(USER, conv.id).instructions == "Answer in French."
    entry = store.update(USER, conv.id, pinned=False)
    assert not entry.pinned and entry.archived


def test_a_new_name_is_the_users(backend: Backend) -> None:
    store = backend.store
    conv = new_conversation(store, chat_name="hello there", chat_name_source="message")
    assert store.get(USER, conv.id).chat_name_source == "message"
    store.update(USER, conv.id, instructions="x")
    assert store.get(USER, conv.id).chat_name_source == "message"  # no name given: kept
    entry = store.update(USER, conv.id, chat_name="Mine")
    stored = store.get(USER, conv.id)
    assert entry.chat_name == "Mine" and stored.chat_name_source == "user"


def test_update_keeps_the_tree(backend: Backend) -> None:
    store = backend.store
    conv = new_conversation(store)
    turn(store, conv.id, "q")
    before = store.get(USER, conv.id)
    store.update(USER, conv.id, instructions="new", chat_name="n")
    after = store.get(USER, conv.id)
    assert after.messages == before.messages
    assert after.current_message_id == before.current_message_id


def test_update_refuses_unknown_foreign_damaged_and_bad_ids(backend: Backend) -> None:
    store = backend.store
    conv = new_conversation(store)
    with pytest.raises(NotFound):
        store.update("bob", conv.id, pinned=True)
    with pytest.raises(NotFound):
        store.update(USER, "c_unknown", pinned=True)
    with pytest.raises(InvalidId):
        store.update(USER, "../x", pinned=True)
    backend.damage(USER, conv.id)
    with pytest.raises(HistoryUnavailable):
        store.update(USER, conv.id, pinned=True)


def test_create_keeps_template_fields(backend: Backend) -> None:
    store = backend.store
    conv = new_conversation(
        store,
        chat_name_source="template",
        template_id="t_1",
        template_variables={"lang": "fr"},
        options={"temperature": 0.2},
    )
    stored = store.get(USER, conv.id)
    assert (stored.chat_name_source, stored.template_id) == ("template", "t_1")
    assert stored.template_variables == {"lang": "fr"}
    assert stored.options == {"temperature": 0.2}
