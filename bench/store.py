"""Store benchmark: turn cost for a new user vs one with 1,000 x 100-message conversations, and list().

Run: .venv/bin/python bench/store.py  (prints a table; targets from API.md "Performance targets").
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversation_manager import Conversation, JsonConversationStore, Message, Usage
from conversation_manager.atomic_files import write_atomic
from conversation_manager.json.layout import conversation_path, user_dir

BIG, SMALL = "heavy", "fresh"
CONVERSATIONS, MESSAGES, TURNS = 1000, 100, 200


def template() -> Conversation:
    messages: list[Message] = []
    for i in range(MESSAGES):
        parent = messages[-1].id if messages else None
        if i % 2 == 0:
            messages.append(
                Message(
                    id=f"m_{i:04d}",
                    parent_id=parent,
                    role="user",
                    text="How do I do this thing? " * 8,
                    timestamp=1e9 + i,
                )
            )
        else:
            messages.append(
                Message(
                    id=f"m_{i:04d}",
                    parent_id=parent,
                    role="assistant",
                    text="Like this. " * 60,
                    timestamp=1e9 + i,
                    response_id=f"resp_{i}",
                    status="completed",
                    model="gpt-x",
                    provider="openai",
                    context_mode="chained",
                    cost_usd=0.0001,
                    usage=Usage(input_tokens=500, output_tokens=200),
                )
            )
    return Conversation(
        id="c_template",
        chat_name="t",
        created_at=1e9,
        last_update=1e9 + MESSAGES,
        model="gpt-x",
        provider="openai",
        instructions="Be brief.",
        messages=messages,
        current_message_id=messages[-1].id,
    )


def build_big_user(store: JsonConversationStore) -> list[str]:
    udir = user_dir(store.data_dir, BIG)
    udir.mkdir(parents=True)
    base = template()
    ids = []
    for i in range(CONVERSATIONS):
        conv = base.model_copy(
            update={"id": f"c_{i:024x}", "chat_name": f"conversation {i}", "last_update": 1e9 + i}
        )
        conv.refresh_derived()
        write_atomic(
            conversation_path(udir, conv.id), conv.model_dump_json().encode(), durable=False
        )
        ids.append(conv.id)
    return ids


def ms(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.95) - 1] * 1000


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parents[1]) as tmp:
        store = JsonConversationStore(Path(tmp) / "data")
        start = time.perf_counter()
        ids = build_big_user(store)
        built = time.perf_counter() - start
        rebuild = timed(lambda: store.list(BIG))  # no index yet: built from the files, once
        kw = {"chat_name": "bench", "model": "gpt-x", "provider": "openai", "instructions": ""}
        fresh = {u: store.create(u, **kw).id for u in (SMALL, BIG)}  # type: ignore[arg-type]
        turn_t: dict[str, list[float]] = {SMALL: [], BIG: [], "old": []}
        commit_t: list[float] = []
        parents: dict[str, str | None] = {SMALL: None, BIG: None, "old": None}
        old = ids[len(ids) // 2]
        parents["old"] = store.get(BIG, old).current_message_id

        def one_turn(key: str, user: str, cid: str) -> None:
            t0 = time.perf_counter()
            _, _, reply = store.begin_turn(
                user,
                cid,
                text="another question",
                parent_id=parents[key],
                model="gpt-x",
                provider="openai",
                context_mode="chained",
            )
            t1 = time.perf_counter()
            store.finish_assistant_message(
                user,
                cid,
                reply.id,
                text="an answer " * 50,
                status="completed",
                response_id="resp_b",
                usage={"input_tokens": 10, "output_tokens": 50},
                cost_usd=0.0001,
            )
            t2 = time.perf_counter()
            parents[key] = reply.id
            turn_t[key].append(t2 - t0)
            commit_t.append(t1 - t0)

        for i in range(TURNS):  # interleaved, so disk noise hits both users alike
            one_turn(SMALL, SMALL, fresh[SMALL])
            one_turn(BIG, BIG, fresh[BIG])
            if i % 4 == 0:
                one_turn("old", BIG, old)
        list_big = [timed(lambda: store.list(BIG)) for _ in range(30)]
        list_small = [timed(lambda: store.list(SMALL)) for _ in range(30)]

    small_med, small_p95 = ms(turn_t[SMALL])
    big_med, big_p95 = ms(turn_t[BIG])
    old_med, old_p95 = ms(turn_t["old"])
    commit_med, commit_p95 = ms(commit_t)
    lb_med, lb_p95 = ms(list_big)
    ls_med, ls_p95 = ms(list_small)
    rows = [
        ("setup: write 1,000 x 100-message files", f"{built * 1000:.0f}", "", ""),
        ("setup: first list() builds the index", f"{rebuild * 1000:.0f}", "", ""),
        (
            f"turn, new user ({TURNS}, fresh conversation)",
            f"{small_med:.2f}",
            f"{small_p95:.2f}",
            "",
        ),
        (f"turn, 100k-message user ({TURNS}, fresh conv.)", f"{big_med:.2f}", f"{big_p95:.2f}", ""),
        ("ratio large/new (median)", f"{big_med / small_med:.2f}", "", "<= 1.5"),
        (
            f"turn in a 100-message conversation ({len(turn_t['old'])})",
            f"{old_med:.2f}",
            f"{old_p95:.2f}",
            "",
        ),
        ("commit with fsync (begin_turn)", f"{commit_med:.2f}", f"{commit_p95:.2f}", "<= 10 ms"),
        ("list(), 1,000 conversations", f"{lb_med:.2f}", f"{lb_p95:.2f}", "<= 50 ms"),
        ("list(), new user", f"{ls_med:.2f}", f"{ls_p95:.2f}", ""),
    ]
    print(f"{'measure':<48} {'median ms':>10} {'p95 ms':>9}  target")
    for name, med, p95, target in rows:
        print(f"{name:<48} {med:>10} {p95:>9}  {target}")


if __name__ == "__main__":
    main()
