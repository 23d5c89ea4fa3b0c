"""Conversations migrated from the old threads (compat/ creates them with store.create) are
searchable, whether the index existed before the migration or not."""

from __future__ import annotations

from pathlib import Path

from conversation_manager import JsonConversationStore
from tests.migration.conftest import entry, run_cli, write_old
from tests.search.conftest import find, ids, new_chat


def _old_threads(source: Path) -> None:
    write_old(
        source,
        "alice.json",
        {
            "thread_m1": entry(
                "thread_m1",
                chat_name="Quarterly report",
                messages=[
                    {"role": "user", "text": "What is in the pelican report?"},
                    {"role": "assistant", "content": [{"type": "text", "text": "Sales grew."}]},
                ],
            ),
            "thread_m2": entry("thread_m2", chat_name="Tea notes 茶道の歴史"),
        },
    )


def test_migrated_conversations_are_found(tmp_path: Path) -> None:
    source, dest = tmp_path / "chats", tmp_path / "data"
    _old_threads(source)
    result = run_cli("--source", source, "--dest", dest)
    assert result.returncode == 0, result.stderr
    store = JsonConversationStore(dest)
    [hit] = find(store, "pelican")
    assert (hit.conversation_id, hit.role) == ("thread_m1", "user")
    assert ids(find(store, "quarterly")) == {("thread_m1", None)}
    assert ids(find(store, "茶道")) == {("thread_m2", None)}


def test_a_migration_into_an_indexed_directory(tmp_path: Path) -> None:
    source, dest = tmp_path / "chats", tmp_path / "data"
    store = JsonConversationStore(dest)
    mine = new_chat(store, "Made here")
    assert ids(find(store, "made")) == {(mine, None)}  # the index exists now
    _old_threads(source)
    result = run_cli("--source", source, "--dest", dest)
    assert result.returncode == 0, result.stderr
    [hit] = find(store, "grew")
    assert (hit.conversation_id, hit.role) == ("thread_m1", "assistant")
    assert {h.conversation_id for h in find(store, "report")} == {"thread_m1"}
    assert ids(find(store, "made")) == {(mine, None)}
