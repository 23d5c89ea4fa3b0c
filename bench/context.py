"""Context benchmark: fitting a 5,000-message branch against a 10-message one (target: at most 10 ms
median for 5,000, API "Performance targets" via issue 12), with tiktoken (o200k_base) and with the
estimate, cold (first count in the process) and warm (the per-message cache); and the cost of a turn
(store.begin_turn + finish_assistant_message, fsync on) in a 5,000-message conversation against a
10-message one, reported as a ratio (the JSON backend rewrites the conversation's file on each commit,
so by design it grows with the conversation).

Run: .venv/bin/python bench/context.py  (prints a table).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.context import TokenCounter, plan_context
from app.context.tokens import clear_cache
from conversation_manager import Conversation, JsonConversationStore, Message, Usage
from conversation_manager.atomic_files import write_atomic
from conversation_manager.json.layout import conversation_path, user_dir

USER = "bench"
RUNS, TURNS = 50, 30
WINDOW, OUTPUT = 400_000, 16_000


def conversation(n: int, cid: str) -> Conversation:
    """A linear branch of `n` messages (questions and longer answers), no response ids (replay)."""
    messages: list[Message] = []
    for i in range(n):
        parent = messages[-1].id if messages else None
        if i % 2 == 0:
            text = f"Question {i}: how do I do this thing, and why does it matter? " * 3
            messages.append(
                Message(
                    id=f"m_{i:06d}", parent_id=parent, role="user", text=text, timestamp=1e9 + i
                )
            )
        else:
            messages.append(
                Message(
                    id=f"m_{i:06d}", parent_id=parent, role="assistant", text=f"Answer {i}. Like this. " * 30,
                    timestamp=1e9 + i, status="completed", model="gpt-5.4", provider="openai",
                    context_mode="replayed", usage=Usage(input_tokens=500, output_tokens=200),
                )
            )  # fmt: skip
    return Conversation(
        id=cid, chat_name="bench", created_at=1e9, last_update=1e9 + n, model="gpt-5.4",
        provider="openai", instructions="Be brief.", messages=messages,
        current_message_id=messages[-1].id,
    )  # fmt: skip


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def fit_rows() -> list[tuple[str, float, float]]:
    rows = []
    for method in ("o200k_base", "estimate"):
        counter = TokenCounter(method)
        counter.raw("warm the encoding up")  # loading the encoding is not fitting
        for n in (5000, 10):
            conv = conversation(n, f"c_{n:024x}")

            def fit(conv: Conversation = conv, counter: TokenCounter = counter) -> object:
                return plan_context(
                    conv, conv.current_message_id, "And now?", provider="openai", stateful=False,
                    window=WINDOW, output_limits=(OUTPUT,), counter=counter,
                )  # fmt: skip

            clear_cache()
            cold = median_ms(fit, 1)
            warm = median_ms(fit, RUNS)
            rows.append((f"fit {n:>5} messages, {method}", cold, warm))
    return rows


def turn_ms(store: JsonConversationStore, conv: Conversation, *, plan: bool) -> float:
    """Median ms of one turn's two commits (with `plan`: also loading and fitting the branch)."""
    parent = [conv.current_message_id]
    counter = TokenCounter("o200k_base")

    def turn() -> None:
        if plan:
            loaded = store.get(USER, conv.id)
            plan_context(
                loaded, parent[0], "One more question?", provider="openai", stateful=False,
                window=WINDOW, output_limits=(OUTPUT,), counter=counter,
            )  # fmt: skip
        _, _, reply = store.begin_turn(
            USER, conv.id, text="One more question?", parent_id=parent[0],
            model="gpt-5.4", provider="openai", context_mode="replayed",
        )  # fmt: skip
        store.finish_assistant_message(
            USER, conv.id, reply.id, text="One more answer.", status="completed",
            usage={"input_tokens": 10, "output_tokens": 5}, cost_usd=0.0,
        )  # fmt: skip
        parent[0] = reply.id

    return median_ms(turn, TURNS)


def main() -> None:
    print(f"{'what':<44} {'cold ms':>9} {'median ms':>10}")
    for name, cold, warm in fit_rows():
        print(f"{name:<44} {cold:>9.2f} {warm:>10.2f}")
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parents[1]) as tmp:
        store = JsonConversationStore(Path(tmp) / "data")
        udir = user_dir(store.data_dir, USER)
        udir.mkdir(parents=True)
        convs = {n: conversation(n, f"c_{n:024x}") for n in (5000, 10)}
        for conv in convs.values():
            conv.refresh_derived()
            write_atomic(
                conversation_path(udir, conv.id), conv.model_dump_json().encode(), durable=True
            )
        for plan in (False, True):
            label = "turn (load, fit, commits)" if plan else "turn (begin_turn + finish)"
            figures = {n: turn_ms(store, conv, plan=plan) for n, conv in convs.items()}
            for n, figure in figures.items():
                print(f"{label + f', {n} messages':<44} {'':>9} {figure:>10.2f}")
            ratio = figures[5000] / figures[10]
            print(f"{label + ', ratio 5,000 / 10':<44} {'':>9} {ratio:>10.2f}")


if __name__ == "__main__":
    main()
