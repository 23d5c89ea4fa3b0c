"""Writers and searchers at once, each with its own store (as separate processes would have):
no error, and at the end every conversation is found exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

from conversation_manager import JsonConversationStore
from tests.search.conftest import USER, exchange, find, new_chat


def test_writers_and_searchers_together(data_dir: Path) -> None:
    errors: list[BaseException] = []
    done = threading.Event()
    first = JsonConversationStore(data_dir, lock_timeout=20.0)
    new_chat(first, "seed")
    find(first, "seed")  # the index exists: every write below updates it

    def write(n: int) -> None:
        store = JsonConversationStore(data_dir, lock_timeout=20.0)
        try:
            for i in range(4):
                cid = new_chat(store, f"writer{n} chat{i}")
                for j in range(3):
                    exchange(store, cid, f"token{n}x{i} question {j}", f"answer {j}")
        except BaseException as exc:
            errors.append(exc)

    def search() -> None:
        store = JsonConversationStore(data_dir, lock_timeout=20.0)
        try:
            while not done.is_set():
                find(store, "question")
                store.usage_rows(USER)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    searchers = [threading.Thread(target=search) for _ in range(2)]
    for t in writers + searchers:
        t.start()
    for t in writers:
        t.join(120)
    done.set()
    for t in searchers:
        t.join(60)
    assert errors == []
    store = JsonConversationStore(data_dir)
    for n in range(3):
        for i in range(4):
            hits = find(store, f"token{n}x{i}", limit=100)
            assert len(hits) == 3, (n, i, hits)
    assert len(store.usage_rows(USER)) == 3 * 4 * 3
