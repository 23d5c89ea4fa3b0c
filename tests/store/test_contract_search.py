"""The search contract (API "Search"), the same for every backend: names and every message of
every branch, ranked, after renames, edits and deletes; damaged records left out; other users'
conversations never seen; usage rows the same as a walk over the conversations."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation_manager import ROOT, ConversationStore, InvalidId
from conversation_manager.search import QuerySyntaxError, SearchHit, SearchQuery
from conversation_manager.usage import usage_rows

from .backends import BACKENDS, Backend
from .conftest import USER, new_conversation, turn

OTHER = "bob"


@pytest.fixture(params=["json"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    return BACKENDS[request.param](tmp_path, monkeypatch)


@pytest.fixture
def store(backend: Backend) -> ConversationStore:
    return backend.store


def found(store: ConversationStore, text: str, user: str = USER) -> list[SearchHit]:
    return store.search(user, SearchQuery(text))


def pairs(hits: list[SearchHit]) -> set[tuple[str, str | None]]:
    return {(h.conversation_id, h.message_id) for h in hits}


def say(store: ConversationStore, cid: str, text: str, parent: str | None = None) -> str:
    """A user message and an empty finished reply; return the user message's id."""
    _, umsg, reply = store.begin_turn(
        USER, cid, text=text, parent_id=parent, model="m", provider="openai", context_mode="first"
    )
    store.finish_assistant_message(USER, cid, reply.id, text="", status="completed")
    assert umsg is not None
    return umsg.id


def test_names_and_messages_of_every_branch(store: ConversationStore) -> None:
    conv = new_conversation(store, chat_name="Garden log")
    first = say(store, conv.id, "planted tulips")
    edit = say(store, conv.id, "planted roses", parent=ROOT)
    assert pairs(found(store, "garden")) == {(conv.id, None)}
    assert pairs(found(store, "planted")) == {(conv.id, first), (conv.id, edit)}
    [hit] = found(store, "tulips")
    assert hit.chat_name == "Garden log" and hit.role == "user"
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["tulips"]


def test_after_rename_and_delete(store: ConversationStore) -> None:
    conv = new_conversation(store, chat_name="Before")
    say(store, conv.id, "ephemeral words")
    store.rename(USER, conv.id, "After")
    assert found(store, "before") == []
    assert pairs(found(store, "after")) == {(conv.id, None)}
    store.delete(USER, conv.id)
    assert found(store, "ephemeral") == []
    assert found(store, "after") == []


def test_ranked_best_first(store: ConversationStore) -> None:
    named = new_conversation(store, chat_name="Volcano")
    other = new_conversation(store, chat_name="Other")
    say(store, other.id, "a long message that mentions a volcano once among many other words")
    hits = found(store, "volcano")
    assert hits[0].conversation_id == named.id and hits[0].message_id is None
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_damaged_record_is_left_out(backend: Backend, store: ConversationStore) -> None:
    kept = new_conversation(store, chat_name="Kept lemon")
    lost = new_conversation(store, chat_name="Lost lemon")
    found(store, "lemon")
    backend.damage(USER, lost.id)
    assert pairs(found(store, "lemon")) == {(kept.id, None)}


def test_other_users_and_bad_queries(store: ConversationStore) -> None:
    conv = new_conversation(store, chat_name="Private mango")
    assert found(store, "mango", user=OTHER) == []
    assert pairs(found(store, "mango")) == {(conv.id, None)}
    with pytest.raises(QuerySyntaxError):
        found(store, '"mango')
    with pytest.raises(InvalidId):
        found(store, "mango", user="../x")


def test_usage_rows_match_the_conversations(store: ConversationStore) -> None:
    a = new_conversation(store, chat_name="a")
    b = new_conversation(store, chat_name="b")
    turn(store, a.id, "one")
    turn(store, b.id, "two", cost_usd=None)
    turn(store, a.id, "three")
    walked = [row for entry in store.list(USER) for row in usage_rows(store.get(USER, entry.id))]
    assert store.usage_rows(USER) == walked
    assert len(walked) == 3
    assert store.usage_rows(OTHER) == []
