"""The JSON store's search index: right results after every kind of change, crash and damage."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from conversation_manager import JsonConversationStore
from conversation_manager.json.search_index import SEARCH_NAME, SearchIndex
from conversation_manager.models import ROOT, Summary, Usage
from conversation_manager.search import QuerySyntaxError
from conversation_manager.usage import UsageRow, usage_rows
from tests.search.conftest import USER, exchange, find, ids, new_chat


def test_names_and_messages_are_found_with_snippets(store: JsonConversationStore) -> None:
    cid = new_chat(store, "Holiday plans")
    q, a = exchange(store, cid, "Where should we go in spring?", "Kyoto has cherry blossoms.")
    assert ids(find(store, "holiday")) == {(cid, None)}
    [hit] = find(store, "cherry")
    assert (hit.conversation_id, hit.message_id, hit.role) == (cid, a, "assistant")
    assert hit.chat_name == "Holiday plans"
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["cherry"]
    assert hit.timestamp > 0
    assert ids(find(store, "spring")) == {(cid, q)}


def test_results_follow_a_rename(store: JsonConversationStore) -> None:
    cid = new_chat(store, "Old title")
    store.rename(USER, cid, "Shiny name")
    assert find(store, "old") == []
    assert ids(find(store, "shiny")) == {(cid, None)}


def test_a_deleted_conversation_is_gone(store: JsonConversationStore) -> None:
    cid = new_chat(store, "Doomed")
    exchange(store, cid, "banana bread", "recipe")
    find(store, "banana")  # the index exists before the delete
    store.delete(USER, cid)
    assert find(store, "banana") == []
    assert find(store, "doomed") == []


def test_every_branch_is_searched(store: JsonConversationStore) -> None:
    cid = new_chat(store)
    q1, a1 = exchange(store, cid, "tell me about owls", "owls hoot")
    # An edit: a second user message under the same parent (the root), a new branch.
    q2, a2 = exchange(store, cid, "tell me about ravens", "ravens croak", parent_id=ROOT)
    assert store.get(USER, cid).current_message_id == a2
    assert ids(find(store, "owls")) == {(cid, q1), (cid, a1)}
    assert ids(find(store, "ravens")) == {(cid, q2), (cid, a2)}


def test_a_reply_written_as_it_finishes_is_found(store: JsonConversationStore) -> None:
    cid = new_chat(store)
    _, _, reply = store.begin_turn(
        USER, cid, text="q", parent_id=None, model="m", provider="openai", context_mode="first"
    )
    find(store, "q")  # build the index while the reply is empty
    store.finish_assistant_message(USER, cid, reply.id, text="zebra stripes", status="completed")
    assert ids(find(store, "zebra")) == {(cid, reply.id)}


def test_a_crash_between_the_file_and_the_index(
    store: JsonConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = new_chat(store, "Before")
    exchange(store, cid, "alpha", "beta")
    assert ids(find(store, "alpha"))
    # The conversation file is written, the index update never happens (the process died).
    monkeypatch.setattr(SearchIndex, "saved", lambda *a, **k: None)
    monkeypatch.setattr(SearchIndex, "deleted", lambda *a, **k: None)
    store.rename(USER, cid, "After")
    q, _ = exchange(store, cid, "gamma", "delta")
    other = new_chat(store, "Fresh one")
    gone = new_chat(store, "Gone soon")
    exchange(store, gone, "epsilon", "zeta")
    store.delete(USER, gone)
    assert find(store, "before") == []
    assert ids(find(store, "after")) == {(cid, None)}
    assert ids(find(store, "gamma")) == {(cid, q)}
    assert ids(find(store, "fresh")) == {(other, None)}
    assert find(store, "epsilon") == []


def test_the_index_is_built_when_missing(store: JsonConversationStore, data_dir: Path) -> None:
    cid = new_chat(store, "Built later")
    assert not (data_dir / USER / SEARCH_NAME).exists()  # saves never build it
    assert ids(find(store, "built")) == {(cid, None)}
    assert (data_dir / USER / SEARCH_NAME).exists()
    (data_dir / USER / SEARCH_NAME).unlink()
    assert ids(find(store, "later")) == {(cid, None)}


@pytest.mark.parametrize(
    "damage", [b"garbage bytes " * 100, b"", b"SQLite format 3\x00" + b"\xff" * 5000]
)
def test_a_damaged_index_is_rebuilt(
    store: JsonConversationStore, data_dir: Path, damage: bytes
) -> None:
    cid = new_chat(store, "Sturdy")
    _, a = exchange(store, cid, "question", "robust answer")
    find(store, "sturdy")
    (data_dir / USER / SEARCH_NAME).write_bytes(damage)
    assert ids(find(store, "robust")) == {(cid, a)}
    exchange(store, cid, "again", "later answer")  # the rebuilt index takes writes again
    assert len(find(store, "answer")) == 2


def test_an_index_of_another_version_is_rebuilt(
    store: JsonConversationStore, data_dir: Path
) -> None:
    cid = new_chat(store, "Versioned")
    find(store, "versioned")
    con = sqlite3.connect(data_dir / USER / SEARCH_NAME)
    con.execute("PRAGMA user_version = 99")
    con.close()
    assert ids(find(store, "versioned")) == {(cid, None)}


def test_a_damaged_conversation_is_left_out(store: JsonConversationStore, data_dir: Path) -> None:
    good = new_chat(store, "Good apple")
    bad = new_chat(store, "Bad apple")
    find(store, "apple")
    (data_dir / USER / f"{bad}.json").write_text("{not json")
    assert ids(find(store, "apple")) == {(good, None)}
    assert ids(find(store, "apple")) == {(good, None)}  # and stays so without re-reading


def test_accents_and_case(store: JsonConversationStore) -> None:
    cid = new_chat(store)
    q, _ = exchange(store, cid, "Crème brûlée at the CAFÉ", "Noël in Zürich")
    assert ids(find(store, "creme brulee")) == {(cid, q)}
    assert ids(find(store, "café")) == {(cid, q)}
    assert len(find(store, "ZURICH")) == 1
    [hit] = find(store, "noel")
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["Noël"]


def test_prefixes(store: JsonConversationStore) -> None:
    cid = new_chat(store)
    q, _ = exchange(store, cid, "international relations", "ok")
    assert ids(find(store, "internat")) == {(cid, q)}  # the last word: as you type
    assert ids(find(store, "inter* relations")) == {(cid, q)}
    assert find(store, "internat relations") == []  # a word not last is a whole word


def test_phrases(store: JsonConversationStore) -> None:
    cid = new_chat(store)
    q1, _ = exchange(store, cid, "the quick brown fox", "one")
    q2, _ = exchange(store, cid, "brown and quick", "two")
    assert ids(find(store, '"quick brown"')) == {(cid, q1)}
    assert ids(find(store, "quick brown")) == {(cid, q1), (cid, q2)}
    [hit] = find(store, '"quick brown"')
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["quick brown"]


def test_chinese_and_japanese_runs(store: JsonConversationStore) -> None:
    cid = new_chat(store, "旅行の計画")
    q1, _ = exchange(store, cid, "我想去北京大学看看", "好的")
    q2, _ = exchange(store, cid, "東京都に住んでいます", "はい")
    assert ids(find(store, "北京")) == {(cid, q1)}
    assert ids(find(store, "京大")) == {(cid, q1)}  # any run of two characters
    assert ids(find(store, "北京大学")) == {(cid, q1)}
    assert ids(find(store, "東京都")) == {(cid, q2)}
    assert ids(find(store, "計画")) == {(cid, None)}
    assert find(store, "北大") == []  # not adjacent in the text
    assert ids(find(store, "京")) == {(cid, q1), (cid, q2)}  # one character: any occurrence
    assert ids(find(store, "学")) == {(cid, q1)}  # the last character of a run
    [hit] = find(store, "京大")
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["京大"]


def test_another_user_never_sees_it(store: JsonConversationStore) -> None:
    cid = new_chat(store, "Secret plans")
    exchange(store, cid, "the password is swordfish", "noted")
    new_chat(store, "Bob's chat", user="bob")
    assert find(store, "swordfish", user="bob") == []
    assert find(store, "secret", user="bob") == []
    assert find(store, "swordfish", user="carol") == []  # no directory at all
    assert store.usage_rows("bob") == []


def test_filters_and_limit(store: JsonConversationStore) -> None:
    a = new_chat(store, "first")
    b = new_chat(store, "second")
    qa, ra = exchange(store, a, "shared word", "shared reply", model="gpt-a")
    qb, rb = exchange(store, b, "shared word", "shared reply", model="gpt-b", provider="other")
    assert ids(find(store, "shared", model="gpt-b")) == {(b, qb), (b, rb)}
    assert ids(find(store, "shared", provider="openai")) == {(a, qa), (a, ra)}
    t = store.get(USER, b).message(qb).timestamp
    assert (b, qb) in ids(find(store, "shared", since=t))
    assert (a, qa) not in ids(find(store, "shared", since=t))
    assert (b, qb) not in ids(find(store, "shared", until=t))
    assert len(find(store, "shared", limit=3)) == 3


def test_names_rank_above_messages_and_scores_fall(store: JsonConversationStore) -> None:
    named = new_chat(store, "Compiler notes")
    other = new_chat(store, "Misc")
    for i in range(5):
        exchange(store, other, f"filler {i} about compiler flags and more words here", "ok")
    hits = find(store, "compiler")
    assert (hits[0].conversation_id, hits[0].message_id) == (named, None)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_bad_queries_raise(store: JsonConversationStore) -> None:
    new_chat(store)
    with pytest.raises(QuerySyntaxError):
        find(store, '"open')
    with pytest.raises(QuerySyntaxError):
        find(store, '"open', user="nobody")


def test_rebuild_on_demand(store: JsonConversationStore, data_dir: Path) -> None:
    cid = new_chat(store, "Rebuilt")
    find(store, "rebuilt")
    assert store.rebuild_search(USER) == 1
    assert ids(find(store, "rebuilt")) == {(cid, None)}
    assert store.rebuild_search("nobody") == 0


# ------------------------------------------------------------------------------- usage rows


def scanned_usage(
    store: JsonConversationStore, user: str, since: float | None = None, until: float | None = None
) -> list[UsageRow]:
    """The usage rows as the store computed them before the index: a scan of every file."""
    rows: list[UsageRow] = []
    for entry in store.list(user):
        if not entry.history_available:
            continue
        rows.extend(
            r
            for r in usage_rows(store.get(user, entry.id))
            if (since is None or r.timestamp >= since) and (until is None or r.timestamp < until)
        )
    return rows


def test_usage_rows_equal_the_scan(store: JsonConversationStore, data_dir: Path) -> None:
    a = new_chat(store, "a")
    b = new_chat(store, "b")
    exchange(store, a, "q1", "r1")
    exchange(store, b, "q2", "r2", cost_usd=None, model="gpt-x")
    exchange(store, a, "q3", "r3", parent_id=ROOT)
    summary = Summary(
        id="s_1",
        covers=[],
        text="sum",
        provider="openai",
        model="gpt-sum",
        usage=Usage(input_tokens=7, output_tokens=3),
        cost_usd=0.002,
        created_at=store.get(USER, a).created_at + 1,
    )
    if hasattr(store, "add_summary"):  # helper B's operation
        store.add_summary(USER, a, summary)
    _, _, pending = store.begin_turn(
        USER, b, text="q4", parent_id=None, model="m", provider="openai", context_mode="first"
    )
    c = new_chat(store, "damaged")
    exchange(store, c, "q5", "r5")
    (data_dir / USER / f"{c}.json").write_text("[]")
    assert store.usage_rows(USER) == scanned_usage(store, USER)
    rows = store.usage_rows(USER)
    assert {r.status for r in rows if r.kind == "reply"} == {"completed", "in_progress"}
    middle = sorted(r.timestamp for r in rows)[2]
    assert store.usage_rows(USER, since=middle) == scanned_usage(store, USER, since=middle)
    assert store.usage_rows(USER, until=middle) == scanned_usage(store, USER, until=middle)
    assert pending.id in {r.message_id for r in rows}


def test_usage_rows_follow_a_crash_and_a_delete(
    store: JsonConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = new_chat(store, "a")
    exchange(store, a, "q1", "r1")
    assert len(store.usage_rows(USER)) == 1
    monkeypatch.setattr(SearchIndex, "saved", lambda *a, **k: None)
    exchange(store, a, "q2", "r2")
    assert store.usage_rows(USER) == scanned_usage(store, USER)
    assert len(store.usage_rows(USER)) == 2
    monkeypatch.undo()
    store.delete(USER, a)
    assert store.usage_rows(USER) == []


def test_saves_cost_in_proportion_to_what_changed(
    store: JsonConversationStore, data_dir: Path
) -> None:
    cid = new_chat(store)
    for i in range(20):
        exchange(store, cid, f"question {i}", f"answer {i}")
    find(store, "question")
    path = data_dir / USER / SEARCH_NAME
    con = sqlite3.connect(path)
    before = dict(con.execute("SELECT key, id FROM docs"))
    con.close()
    exchange(store, cid, "one more", "reply")
    con = sqlite3.connect(path)
    after = dict(con.execute("SELECT key, id FROM docs"))
    con.close()
    unchanged = {k: v for k, v in before.items() if after.get(k) == v}
    assert len(unchanged) == len(before)  # old rows kept their ids: not rewritten
    assert len(after) == len(before) + 2
    assert os.path.getsize(path) > 0


def test_a_very_common_match_ranks_the_newest_candidates(
    store: JsonConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SearchIndex, "candidates", 4)
    old = new_chat(store, "old")
    exchange(store, old, "common common common common", "x")  # the best bm25, but old
    new = new_chat(store, "new")
    for i in range(5):
        exchange(store, new, f"common words and more words {i}", "y")
    hits = find(store, "common")
    assert len(hits) == 4
    assert {h.conversation_id for h in hits} == {new}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(find(store, "common", provider="openai")) == 4
    monkeypatch.setattr(SearchIndex, "candidates", 5000)
    assert find(store, "common")[0].conversation_id == old


def test_a_rebuild_keeps_time_order(store: JsonConversationStore, data_dir: Path) -> None:
    first = new_chat(store, "first")
    exchange(store, first, "shared", "x")
    second = new_chat(store, "second")
    exchange(store, second, "shared", "y")
    os.utime(data_dir / USER / f"{first}.json", ns=(4 * 10**18, 4 * 10**18))  # rewritten last
    store.rebuild_search(USER)
    con = sqlite3.connect(data_dir / USER / SEARCH_NAME)
    order = [cid for (cid,) in con.execute("SELECT cid FROM docs WHERE key = '' ORDER BY id")]
    con.close()
    assert order == [second, first]


def test_a_busy_index_never_fails_a_write(data_dir: Path) -> None:
    store = JsonConversationStore(data_dir, lock_timeout=0.3)
    cid = new_chat(store, "Busy")
    find(store, "busy")
    holder = sqlite3.connect(data_dir / USER / SEARCH_NAME, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the index
    try:
        q, _ = exchange(store, cid, "written while the index was locked", "fine")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ids(find(store, "locked")) == {(cid, q)}
