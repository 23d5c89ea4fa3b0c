"""Review findings: every name is ranked past the message cap, a save's index work follows what
changed (with the in-process row cache kept honest), and a snippet's work is bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conversation_manager import JsonConversationStore, snippets
from conversation_manager.json import search_rows
from conversation_manager.json.search_index import SearchIndex
from conversation_manager.search import parse_query
from tests.search.conftest import USER, exchange, find, ids, new_chat

# ------------------------------------------------------------------------------- ranking


def test_an_old_name_hit_is_ranked_past_the_message_cap(
    store: JsonConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SearchIndex, "candidates", 3)
    old = new_chat(store, "Common ground")
    exchange(store, old, "first question", "first answer")
    new = new_chat(store, "new")
    for i in range(6):
        exchange(store, new, f"common words and more words {i}", "y")
    hits = find(store, "common")
    assert (hits[0].conversation_id, hits[0].message_id) == (old, None)  # the name outranks
    assert len(hits) == 4  # the name and the 3 newest message candidates
    assert sum(1 for h in hits if h.message_id is None) == 1  # one name row a conversation
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert (old, None) in ids(find(store, "common", provider="openai"))
    assert ids(find(store, "common", limit=1)) == {(old, None)}


def test_names_never_use_up_the_message_cap(
    store: JsonConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SearchIndex, "candidates", 2)
    chat = new_chat(store, "plain")
    _, reply = exchange(store, chat, "q", "an apple a day")
    for i in range(5):
        new_chat(store, f"apple {i}")  # newer than the message: names only
    hits = find(store, "apple")
    assert (chat, reply) in ids(hits)
    assert len(hits) == 6


# ------------------------------------------------------------------------------- saves


def test_a_save_digests_only_what_changed(
    store: JsonConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = new_chat(store)
    for i in range(20):
        exchange(store, cid, f"question {i}", f"answer {i}")
    find(store, "question")  # the index is built (and its rows' state kept)
    calls = []
    real = search_rows._digest
    monkeypatch.setattr(search_rows, "_digest", lambda v: calls.append(v) or real(v))
    _, reply = exchange(store, cid, "one more", "reply")
    # begin: the user message's row and the reply's usage row; finish: the reply's two rows.
    assert len(calls) <= 6, calls
    assert ids(find(store, "reply")) == {(cid, reply)}
    assert len(store.usage_rows(USER)) == 21


def test_a_finished_reply_is_found_by_its_new_text_only(
    store: JsonConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import conversation_manager.json.store as json_store

    cid = new_chat(store)
    _, _, reply = store.begin_turn(
        USER, cid, text="q", parent_id=None, model="m", provider="openai", context_mode="first"
    )
    find(store, "q")
    store.mark_interrupted(USER, cid, reply.id, "draft alpha words", message="cut")
    assert ids(find(store, "draft")) == {(cid, reply.id)}
    store.finish_assistant_message(USER, cid, reply.id, text="final omega", status="completed")
    assert ids(find(store, "omega")) == {(cid, reply.id)}
    assert find(store, "draft") == []
    # Even the same length, status and time: the text's head and tail tell it apart.
    monkeypatch.setattr(json_store, "_now", lambda: 1.8e9)
    store.finish_assistant_message(USER, cid, reply.id, text="final gamma", status="completed")
    store.finish_assistant_message(USER, cid, reply.id, text="final delta", status="completed")
    assert ids(find(store, "delta")) == {(cid, reply.id)}
    assert find(store, "gamma") == [] and find(store, "omega") == []
    [row] = [r for r in store.usage_rows(USER) if r.message_id == reply.id]
    assert row.status == "completed"


def test_another_process_writing_between_saves(data_dir: Path) -> None:
    one = JsonConversationStore(data_dir, lock_timeout=5.0)
    two = JsonConversationStore(data_dir, lock_timeout=5.0)  # another process's cache
    cid = new_chat(one, "Shared")
    exchange(one, cid, "alpha question", "alpha answer")
    find(one, "alpha")
    _, _, reply = two.begin_turn(
        USER, cid, text="beta", parent_id=None, model="m", provider="openai", context_mode="first"
    )
    two.finish_assistant_message(USER, cid, reply.id, text="beta answer", status="completed")
    one.rename(USER, cid, "Renamed")  # one's cached state is stale: read from the index
    exchange(one, cid, "gamma question", "gamma answer")
    assert ids(find(one, "beta")) == ids(find(two, "beta"))
    assert {m for _, m in ids(find(one, "beta"))} >= {reply.id}
    assert ids(find(two, "renamed")) == {(cid, None)}
    assert find(two, "shared") == []
    assert len(one.usage_rows(USER)) == 3


def test_a_rebuild_by_another_process_never_confuses_the_cache(data_dir: Path) -> None:
    one = JsonConversationStore(data_dir, lock_timeout=5.0)
    two = JsonConversationStore(data_dir, lock_timeout=5.0)
    cid = new_chat(one, "Mine")
    exchange(one, cid, "alpha question", "alpha answer")
    find(one, "alpha")  # one keeps the rows' ids
    other = new_chat(two, "Theirs")
    exchange(two, other, "omega question", "omega answer")
    os.utime(data_dir / USER / f"{other}.json", ns=(10**9, 10**9))  # rebuilt first: ids shift
    two.rebuild_search(USER)
    exchange(one, cid, "beta question", "beta answer")  # the same file key, another build
    one.rename(USER, cid, "Mine again")
    assert {c for c, _ in ids(find(one, "omega"))} == {other}
    assert len(find(one, "omega")) == 2
    assert {c for c, _ in ids(find(one, "alpha"))} == {cid}
    assert ids(find(two, "theirs")) == {(other, None)}


# ------------------------------------------------------------------------------- snippets


def exact_snippet(
    monkeypatch: pytest.MonkeyPatch, text: str, query: str
) -> tuple[str, list[tuple[int, int]]]:
    """The snippet as the whole text's exact fold makes it (no window: the old way)."""
    with monkeypatch.context() as patch:
        patch.setattr(snippets, "_BLOCK", 10**9, raising=False)
        return snippets.snippet(text, parse_query(query))


def test_a_snippet_of_a_long_text_folds_only_a_window(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Ünïcödé wörds " * 10000 + "éneedle x " + "filler " * 300 + "the Needle here "
    text += "ä" * 70000
    assert len(text) > 200_000
    expected = exact_snippet(monkeypatch, text, "needle")
    folded: list[str] = []
    real = snippets._fold_char
    monkeypatch.setattr(snippets, "_fold_char", lambda c: folded.append(c) or real(c))
    body, marks = snippets.snippet(text, parse_query("needle"))
    assert len(folded) < 20_000  # a window, not 200,000 characters
    monkeypatch.undo()
    assert (body, marks) == expected
    assert [body[a:b] for a, b in marks] == ["Needle"]
    assert body.startswith("…") and body.endswith("…")


def test_snippets_match_the_exact_fold_on_long_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    words = ["éword", "wordé", "café", "Straße", "naïve", "東京都", "x\u0301word", "İstanbul"]
    queries = ["word", "cafe", "strasse", "東京", "istanbul", "naive word", '"hay word"', "wor"]
    for n, query in enumerate(queries):
        every = 40 + 300 * n  # matches further and further apart
        text = " ".join(
            words[(i * 7 + n) % len(words)] if i % every == every - 1 else "hay"
            for i in range(9000)
        )
        got = snippets.snippet(text, parse_query(query))
        assert got == exact_snippet(monkeypatch, text, query), query
    assert snippets.snippet("hay " * 5000, parse_query("needle")) == exact_snippet(
        monkeypatch, "hay " * 5000, "needle"
    )
