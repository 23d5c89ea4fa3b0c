"""CPU per relayed delta: responses_client's raw SSE parser vs the SDK's typed events (fake upstream).

Run: .venv/bin/python -m bench.parse [--deltas 2000] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import openai

from responses_client import OpenAIProvider, ResponseRequest, TextDelta
from tests.fake_upstream import FakeUpstream


def measure(fn: Callable[[], int], runs: int) -> tuple[float, int]:
    """Median main-thread CPU seconds of `fn` (the fake upstream's threads are not counted)."""
    times, n = [], 0
    fn()  # warm up: connection pool, imports, caches
    for _ in range(runs):
        start = time.thread_time()
        n = fn()
        times.append(time.thread_time() - start)
    return statistics.median(times), n


def main() -> None:
    """Print a table of CPU microseconds per delta."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--deltas", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    with FakeUpstream() as fake:
        fake.n_deltas = args.deltas
        fake.chunk_size = 4
        provider = OpenAIProvider("sk-bench", base_url=fake.base_url)
        client = openai.OpenAI(api_key="sk-bench", base_url=fake.base_url)
        request = ResponseRequest("gpt-bench", "hi", "Be brief.")
        params = provider.request_params(request)

        def adapter() -> int:
            return sum(isinstance(e, TextDelta) for e in provider.stream(request))

        def sdk_typed() -> int:
            n = 0
            with client.responses.create(**params) as stream:
                for ev in stream:
                    n += ev.type == "response.output_text.delta"
            return n

        def bytes_only() -> int:
            with client.responses.with_streaming_response.create(**params) as resp:
                for _ in resp.iter_bytes():
                    pass
            return args.deltas

        rows = [
            ("transport only (iter_bytes, no parsing)", *measure(bytes_only, args.runs)),
            ("responses_client raw SSE parser", *measure(adapter, args.runs)),
            ("openai SDK typed events", *measure(sdk_typed, args.runs)),
        ]
        provider.close()
        client.close()
    print(f"{args.deltas} deltas per stream, median of {args.runs} runs, main-thread CPU")
    print(f"{'path':<42} {'total ms':>9} {'us/delta':>9}")
    for name, secs, n in rows:
        print(f"{name:<42} {secs * 1e3:>9.1f} {secs / max(n, 1) * 1e6:>9.1f}")
    base = rows[0][1]
    for name, secs, n in rows[1:]:
        print(f"{name + ' minus transport':<42} {'':>9} {(secs - base) / n * 1e6:>9.1f}")


if __name__ == "__main__":
    main()
