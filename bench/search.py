"""Search benchmark: one user with 1,000 conversations of 100 messages (100,000 messages), a
ranked query with snippets through `store.search` (the freshness check of every file included),
the index build, its size, and the cost of a turn's commits with and without the index (in a
100-message conversation and in one of 5,000 messages).

Run: .venv/bin/python bench/search.py  (prints a table; the target is API.md "Performance
targets": search at most 50 ms median).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversation_manager import JsonConversationStore
from conversation_manager.atomic_files import write_atomic
from conversation_manager.json.layout import conversation_path, user_dir
from conversation_manager.json.search_index import SEARCH_NAME
from conversation_manager.models import SCHEMA_VERSION
from conversation_manager.search import SearchQuery

USER = "reader"
CONVERSATIONS, MESSAGES = 1000, 100
RUNS, WARMUP, TURNS = 40, 5, 30
RARE = "zyzzogeton"
ACCENTED = ["crème brûlée", "café au lait", "a naïve señor in Zürich"]
CJK = ["東京都に住んでいます", "我想去北京大学看看", "日本語の文章を検索する", "中文分词很难"]


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 10))))
    return sorted(words, key=lambda w: rng.random())


def build(store: JsonConversationStore, rng: random.Random) -> list[str]:
    """Write the conversation files directly (the index does not exist yet); return the vocabulary."""
    words = vocabulary(rng)
    weights = [1 / (rank + 1) ** 1.05 for rank in range(len(words))]  # Zipf-like
    cum: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        cum.append(total)
    udir = user_dir(store.data_dir, USER)
    udir.mkdir(parents=True)
    t0 = 1.7e9
    for c in range(CONVERSATIONS):
        messages = []
        parent = None
        for i in range(MESSAGES):
            n = rng.randint(12, 40) if i % 2 == 0 else rng.randint(40, 160)
            text = rng.choices(words, cum_weights=cum, k=n)
            roll = rng.random()
            if roll < 0.05:
                text.insert(rng.randrange(len(text)), rng.choice(ACCENTED))
            elif roll < 0.08:
                text.insert(rng.randrange(len(text)), rng.choice(CJK))
            elif roll < 0.10:
                text[rng.randrange(len(text)) :] = ["quantum", "entanglement", *text[-3:]]
            if (c * MESSAGES + i) % 20011 == 0:
                text.append(RARE)
            mid = f"m_{c:04d}_{i:03d}"
            msg: dict[str, object] = {
                "id": mid,
                "parent_id": parent,
                "role": "user" if i % 2 == 0 else "assistant",
                "text": " ".join(text).capitalize() + ".",
                "timestamp": t0 + c * 1000 + i,
                "response_id": None,
            }
            if i % 2:
                msg.update(
                    response_id=f"resp_{mid}",
                    status="completed",
                    model="gpt-b" if c % 4 == 0 else "gpt-a",
                    provider="openai",
                    context_mode="chained",
                    usage={"input_tokens": 500, "output_tokens": 200, "total_tokens": 700},
                    cost_usd=0.0001,
                    metadata={},
                )
            messages.append(msg)
            parent = mid
        cid = f"c_{c:024x}"
        name = f"{words[rng.randrange(50, 3000)]} {words[rng.randrange(50, 3000)]}".title()
        conv = {
            "id": cid,
            "object": "conversation",
            "chat_name": name,
            "created_at": t0 + c * 1000,
            "last_update": t0 + c * 1000 + MESSAGES,
            "model": "gpt-a",
            "provider": "openai",
            "instructions": "",
            "current_message_id": parent,
            "metadata": {},
            "messages": messages,
            "rev": 1,
            "schema_version": SCHEMA_VERSION,
        }
        write_atomic(conversation_path(udir, cid), json.dumps(conv).encode(), durable=False)
    return words


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def index_size(udir: Path) -> int:
    return sum(
        os.path.getsize(udir / (SEARCH_NAME + s))
        for s in ("", "-journal")
        if os.path.exists(udir / (SEARCH_NAME + s))
    )


def turn_costs(store: JsonConversationStore, cids: list[str], turns: int = TURNS) -> list[float]:
    """Each commit of `turns` turns (begin + finish), in ms."""
    samples = []
    for n in range(turns):
        cid = cids[n % len(cids)]
        parent = store.get(USER, cid).current_message_id
        start = time.perf_counter()
        _, _, reply = store.begin_turn(
            USER,
            cid,
            text=f"a new question number {n}",
            parent_id=parent,
            model="gpt-a",
            provider="openai",
            context_mode="chained",
        )
        samples.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        store.finish_assistant_message(
            USER, cid, reply.id, text="A new answer " * 40, status="completed", cost_usd=0.0001
        )
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def long_conversation(udir: Path, messages: int = 5000) -> str:
    """Write one conversation of `messages` messages (the index re-reads it on the next query)."""
    cid = "c_" + "f" * 24
    rows: list[dict[str, object]] = []
    parent = None
    for i in range(messages):
        mid = f"m_long_{i:05d}"
        msg: dict[str, object] = {
            "id": mid,
            "parent_id": parent,
            "role": "user" if i % 2 == 0 else "assistant",
            "text": f"message {i} of a long conversation with some more words " * 4,
            "timestamp": 1.8e9 + i,
            "response_id": None,
        }
        if i % 2:
            msg.update(
                response_id=f"resp_{mid}",
                status="completed",
                model="gpt-a",
                provider="openai",
                context_mode="chained",
                usage={"input_tokens": 500, "output_tokens": 200, "total_tokens": 700},
                cost_usd=0.0001,
                metadata={},
            )
        rows.append(msg)
        parent = mid
    conv = {
        "id": cid,
        "object": "conversation",
        "chat_name": "Long one",
        "created_at": 1.8e9,
        "last_update": 1.8e9 + messages,
        "model": "gpt-a",
        "provider": "openai",
        "instructions": "",
        "current_message_id": parent,
        "metadata": {},
        "messages": rows,
        "rev": 1,
        "schema_version": SCHEMA_VERSION,
    }
    write_atomic(conversation_path(udir, cid), json.dumps(conv).encode(), durable=False)
    return cid


def main() -> None:
    rng = random.Random(20261201)
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        store = JsonConversationStore(tmp, durable=True)
        started = time.perf_counter()
        words = build(store, rng)
        print(
            f"data: {CONVERSATIONS} conversations x {MESSAGES} messages "
            f"({time.perf_counter() - started:.1f} s to write)"
        )
        udir = user_dir(store.data_dir, USER)
        build_ms = timed(lambda: store.search(USER, SearchQuery(words[100])))
        size = index_size(udir)
        rebuild_ms = timed(lambda: store.rebuild_search(USER))

        kinds: list[tuple[str, SearchQuery]] = [
            ("rare word", SearchQuery(RARE)),
            ("common word (rank 1)", SearchQuery(words[0])),
            ("mid word (rank 300)", SearchQuery(words[300])),
            ("two words", SearchQuery(f"{words[40]} {words[200]}")),
            ("short prefix (3 chars)", SearchQuery(words[500][:3])),
            ("phrase", SearchQuery('"quantum entanglement"')),
            ("accents folded", SearchQuery("creme brulee")),
            ("CJK bigrams", SearchQuery("北京大学")),
            ("model filter", SearchQuery(words[300], model="gpt-b")),
            ("limit 100", SearchQuery(words[300], limit=100)),
        ]
        rows = []
        everything: list[float] = []
        for label, query in kinds:
            for _ in range(WARMUP):
                store.search(USER, query)
            samples = [timed(lambda q=query: store.search(USER, q)) for _ in range(RUNS)]
            hits = len(store.search(USER, query))
            everything += samples
            rows.append((label, *stats(samples), hits))

        cids = [f"c_{c:024x}" for c in range(0, CONVERSATIONS, 97)]
        with_index = turn_costs(store, cids)
        long_cid = long_conversation(udir)
        store.search(USER, SearchQuery(RARE))  # the index reads the long conversation
        long_with = turn_costs(store, [long_cid], turns=10)
        for suffix in ("", "-journal"):
            if os.path.exists(udir / (SEARCH_NAME + suffix)):
                os.unlink(udir / (SEARCH_NAME + suffix))
        without_index = turn_costs(store, cids)
        long_without = turn_costs(store, [long_cid], turns=10)

    print()
    print(
        f"{'query (store.search, snippets included)':42} {'median ms':>10} {'p95 ms':>8} {'hits':>5}"
    )
    for label, med, p95, hits in rows:
        print(f"{label:42} {med:10.2f} {p95:8.2f} {hits:5d}")
    med, p95 = stats(everything)
    verdict = "ok" if med <= 50 else "OVER"
    print(f"{'all kinds together':42} {med:10.2f} {p95:8.2f}   target median <= 50 ms: {verdict}")
    print()
    print(f"index build on first query (100,000 messages): {build_ms / 1000:.1f} s")
    print(f"index rebuild (flask search reindex):          {rebuild_ms / 1000:.1f} s")
    print(f"index size: {size / 1e6:.1f} MB")
    w_med, w_p95 = stats(with_index)
    o_med, o_p95 = stats(without_index)
    print()
    print(f"{'commit of a turn (fsync, 100-msg conversation)':48} {'median ms':>10} {'p95 ms':>8}")
    print(f"{'with the search index':48} {w_med:10.2f} {w_p95:8.2f}")
    print(f"{'without it (no index file)':48} {o_med:10.2f} {o_p95:8.2f}")
    print(f"{'index share of a commit':48} {w_med - o_med:10.2f}")
    lw_med, lw_p95 = stats(long_with)
    lo_med, lo_p95 = stats(long_without)
    print(f"{'commit, 5,000-message conversation, with index':48} {lw_med:10.2f} {lw_p95:8.2f}")
    print(f"{'the same without it':48} {lo_med:10.2f} {lo_p95:8.2f}")
    print(f"{'index share of such a commit':48} {lw_med - lo_med:10.2f}")


if __name__ == "__main__":
    main()
