"""Load benchmark: the app under gunicorn (gthread or gevent) on loopback, the issue's scenarios.

Each stream is a ~1 s answer from the fake upstream (50 deltas, 20 ms apart), in its own process.
The app runs the production config (gunicorn.conf.py) with the worker class and sizes given, the
turn limits off (CHAT_CONCURRENT_TURNS=0, CHAT_TURNS_PER_MINUTE=0), no per-process stream cap
(raw capacity; `--process-cap` keeps the config's) and the default per-user cap (20 open streams). Scenarios, one server per worker class:

- idle: the workers' CPU over `--idle` seconds with nothing to do (percent of one core);
- streams N: N streams started at once from ceil(N/10) users: first text and total p50/p95,
  failures, gap between events p99, app CPU per relayed delta, memory per open stream (workers' RSS
  at the peak less idle, over N);
- burst: one user opens 50 streams at once: how many 200 and 429, and how fast the 429s came;
- mixed: `--mixed` streams plus logins (10/s) and page loads (GET / and the conversation list, 20/s)
  while they run: p95 of each, and the streams' gap p99.

Run (smoke): .venv/bin/python bench/load.py --classes gthread gevent --streams 20 --mixed 20
Full (the issue's): .venv/bin/python bench/load.py --classes gthread gevent --streams 200 500
    --mixed 200 --threads 300
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load_client import (  # noqa: E402
    Result,
    children,
    cpu_seconds,
    create_users,
    login,
    pct,
    request,
    rss_bytes,
    start_app,
    start_fake,
)
from bench.relay import free_port, wait_port  # noqa: E402

DELTAS, DELAY = 50, 0.02
PER_USER = 10  # streams per user in the N-streams runs (under the default cap of 20)
BURST = 50


class Bench:
    """One app server (a worker class) and the fake upstream, with logged-in users."""

    def __init__(self, args: argparse.Namespace, worker_class: str) -> None:
        self.args = args
        self.worker_class = worker_class
        self.fake_port, self.port = free_port(), free_port()
        self.data_dir = tempfile.mkdtemp(prefix=f"bench-load-{worker_class}-")
        most = max([*args.streams, args.mixed, 1])
        self.users = [f"load{i:03d}" for i in range(math.ceil(most / PER_USER))]
        self.extra = ["burst", *(f"login{i:02d}" for i in range(20))]
        create_users(self.data_dir, self.users + self.extra)
        self.fake = start_fake(self.fake_port, DELTAS, DELAY)
        self.log = open(Path(self.data_dir) / "gunicorn.log", "wb")  # noqa: SIM115 - closed in close
        self.app = start_app(
            self.port,
            self.data_dir,
            self.fake_port,
            self.log,
            worker_class=worker_class,
            workers=args.workers,
            threads=args.threads,
            connections=args.connections,
            extra_env={} if args.process_cap else {"CHAT_MAX_STREAMS_PER_PROCESS": "0"},
        )
        wait_port(self.fake_port, self.fake)
        wait_port(self.port, self.app)
        self.cookies: dict[str, str] = {}

    def workers(self) -> list[int]:
        return children(self.app.pid)

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.workers())

    def rss(self) -> int:
        return sum(rss_bytes(pid) for pid in self.workers())

    async def log_in_all(self) -> None:
        for user in [*self.users, "burst"]:
            self.cookies[user] = await login(self.port, user)

    async def warm(self) -> None:
        """Rounds of turns, so every worker has loaded what a turn needs (token tables, SDKs)."""
        # Several users and rounds: a gevent worker accepts whatever connections it can, so one
        # small round may leave the other worker cold for the first measured scenario.
        for round_ in range(6):
            await asyncio.gather(
                *(
                    request(self.port, "POST", "/chat", {"message": "hi"}, self.cookies[user])
                    for user in self.users[:4]
                    for _ in range(2 * self.args.workers)
                )
            )
            await asyncio.sleep(0.05 * round_)

    def close(self) -> None:
        self.app.terminate()
        self.fake.terminate()
        self.app.wait(60)
        self.fake.wait(15)
        self.log.close()
        if not self.args.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self) -> list[str]:
        lines = Path(self.data_dir, "gunicorn.log").read_text(errors="replace").splitlines()
        return [x for x in lines if "turn_" in x or "[ERROR]" in x or "Traceback" in x][-8:]


async def idle(bench: Bench, seconds: float) -> dict[str, Any]:
    """The CPU gunicorn (master and workers) uses with nothing to do."""
    cpu0, t0 = bench.cpu() + cpu_seconds(bench.app.pid), time.perf_counter()
    await asyncio.sleep(seconds)
    used = bench.cpu() + cpu_seconds(bench.app.pid) - cpu0
    share = used / (time.perf_counter() - t0) * 100
    return {"scenario": "idle", "idle_cpu_pct": share, "idle_rss_mb": bench.rss() / 2**20}


async def _sample_rss(bench: Bench, until: asyncio.Event, peak: list[int]) -> None:
    while not until.is_set():
        peak[0] = max(peak[0], bench.rss())
        await asyncio.sleep(0.1)


async def streams(bench: Bench, n: int, label: str = "streams") -> tuple[dict[str, Any], list]:
    """N streams started at once, one new conversation each, PER_USER a user."""
    base_rss = bench.rss()
    cookies = [bench.cookies[bench.users[i // PER_USER]] for i in range(n)]
    cpu0 = bench.cpu()
    stop, peak = asyncio.Event(), [base_rss]
    sampler = asyncio.create_task(_sample_rss(bench, stop, peak))
    t0 = time.perf_counter()
    results: list[Result] = await asyncio.gather(
        *(
            request(bench.port, "POST", "/chat", {"message": "hi"}, c, keep_body=False)
            for c in cookies
        )
    )
    wall = time.perf_counter() - t0
    stop.set()
    await sampler
    cpu = bench.cpu() - cpu0
    row = _stream_row(label, n, results, wall, cpu, (peak[0] - base_rss) / max(1, n))
    row["spread"] = max((r.sent for r in results if r.sent), default=t0) - t0
    return row, results


def _stream_row(
    label: str, n: int, results: list[Result], wall: float, cpu: float, per_stream: float
) -> dict[str, Any]:
    ok = [r for r in results if r.done]
    reasons = sorted({r.error or f"HTTP {r.status}" for r in results if not r.done})
    return {
        "scenario": label,
        "n": n,
        "ok": len(ok),
        "limited": sum(1 for r in results if r.status == 429),
        "failed": n - len(ok),
        "reasons": reasons,
        "first_p50": pct([r.first for r in ok if r.first is not None], 0.5),
        "first_p95": pct([r.first for r in ok if r.first is not None], 0.95),
        "total_p50": pct([r.total for r in ok], 0.5),
        "total_p95": pct([r.total for r in ok], 0.95),
        "gap_p99": pct([g for r in ok for g in r.gaps], 0.99),
        "wall": wall,
        "cpu_per_delta": cpu * 1000 / max(1, len(ok) * DELTAS),
        "mb_per_stream": per_stream / 2**20,
    }


async def burst(bench: Bench) -> dict[str, Any]:
    """One user, 50 streams at once: the cap answers 429 at once, the rest stream."""
    cookie = bench.cookies["burst"]
    results = await asyncio.gather(
        *(
            request(bench.port, "POST", "/chat", {"message": "hi"}, cookie, keep_body=False)
            for _ in range(BURST)
        )
    )
    limited = [r for r in results if r.status == 429]
    ok = [r for r in results if r.done]
    return {
        "scenario": "burst",
        "n": BURST,
        "ok": len(ok),
        "limited": len(limited),
        "failed": BURST - len(ok) - len(limited),
        "limited_p95": pct([r.total for r in limited], 0.95),
        "first_p95": pct([r.first for r in ok if r.first is not None], 0.95),
    }


async def _paced(rate: float, until: asyncio.Event, make: Any, out: list[Result]) -> None:
    tasks = []
    while not until.is_set():
        tasks.append(asyncio.create_task(make(len(tasks))))
        await asyncio.sleep(1 / rate)
    out.extend(await asyncio.gather(*tasks))


async def mixed(bench: Bench, n: int) -> dict[str, Any]:
    """N streams, and logins and page loads while they run."""
    stop = asyncio.Event()
    logins: list[Result] = []
    pages: list[Result] = []
    page_cookie = bench.cookies[bench.users[-1]]
    extra = [u for u in bench.extra if u.startswith("login")]

    def do_login(i: int) -> Any:
        user = extra[i % len(extra)]
        body = {"username": user, "password": "benchmark-password-123"}
        return request(bench.port, "POST", "/login", body)

    def do_page(i: int) -> Any:
        path = "/" if i % 2 else "/get-all-conversations"
        return request(bench.port, "GET", path, None, page_cookie)

    side = [
        asyncio.create_task(_paced(10, stop, do_login, logins)),
        asyncio.create_task(_paced(20, stop, do_page, pages)),
    ]
    await asyncio.sleep(0.2)  # the side traffic is flowing when the streams start
    row, _ = await streams(bench, n, label="mixed")
    stop.set()
    await asyncio.gather(*side)
    row["login_p95"] = pct([r.total for r in logins if r.status == 200], 0.95)
    row["page_p95"] = pct([r.total for r in pages if r.status == 200], 0.95)
    row["side_failed"] = sum(1 for r in logins + pages if r.status != 200)
    return row


async def run_class(args: argparse.Namespace, worker_class: str) -> list[dict[str, Any]]:
    bench = Bench(args, worker_class)
    rows: list[dict[str, Any]] = []
    try:
        await bench.log_in_all()
        await bench.warm()
        rows.append(await idle(bench, args.idle))
        for n in args.streams:
            row, _ = await streams(bench, n)
            rows.append(row)
            await asyncio.sleep(1)
        rows.append(await burst(bench))
        await asyncio.sleep(1)
        if args.mixed:
            rows.append(await mixed(bench, args.mixed))
        if any(r.get("failed") for r in rows):
            for line in bench.log_tail():
                print(f"  app log: {line}", file=sys.stderr)
    finally:
        bench.close()
    return rows


def print_table(worker_class: str, args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    sizes = f"--threads {args.threads}" if worker_class == "gthread" else ""
    sizes += f" --worker-connections {args.connections}"
    print(
        f"\n{worker_class} -w {args.workers} {sizes}; streams of {DELTAS} deltas {DELAY * 1000:.0f} ms apart"
    )
    head = (
        f"{'scenario':<9}{'n':>5}{'ok':>5}{'429':>5}{'fail':>5}{'1st p50':>9}{'p95':>7}"
        f"{'tot p50':>9}{'p95':>7}{'gap p99':>9}{'CPU/d':>8}{'MB/str':>8}  other"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        if r["scenario"] == "idle":
            print(
                f"{'idle':<9}  CPU {r['idle_cpu_pct']:.1f}% of a core, workers' RSS {r['idle_rss_mb']:.0f} MB"
            )
            continue
        if r["scenario"] == "burst":
            print(
                f"{'burst':<9}{r['n']:>5}{r['ok']:>5}{r['limited']:>5}{r['failed']:>5}"
                f"{'':>9}{r['first_p95']:>7.0f}{'':>9}{'':>7}{'':>9}{'':>8}{'':>8}"
                f"  429 answered p95 {r['limited_p95']:.0f} ms"
            )
            continue
        other = f"all sent within {r['spread']:.2f} s"
        if r["scenario"] == "mixed":
            other += (
                f"; login p95 {r['login_p95']:.0f} ms, page p95 {r['page_p95']:.0f} ms, "
                f"side failures {r['side_failed']}"
            )
        if r["reasons"]:
            other += f" failed: {', '.join(r['reasons'])[:60]}"
        print(
            f"{r['scenario']:<9}{r['n']:>5}{r['ok']:>5}{r['limited']:>5}{r['failed']:>5}"
            f"{r['first_p50']:>9.0f}{r['first_p95']:>7.0f}{r['total_p50']:>9.0f}{r['total_p95']:>7.0f}"
            f"{r['gap_p99']:>9.0f}{r['cpu_per_delta']:>8.3f}{r['mb_per_stream']:>8.2f}  {other}"
        )
    print(
        "(times in ms; CPU/d: app CPU ms per relayed delta; MB/str: workers' RSS per open stream)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--classes", nargs="+", default=["gthread", "gevent"])
    parser.add_argument("--streams", type=int, nargs="*", default=[200, 500])
    parser.add_argument("--mixed", type=int, default=200, help="streams during logins (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=300, help="gthread threads a worker")
    parser.add_argument("--connections", type=int, default=1000, help="worker_connections")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU sampling")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    parser.add_argument(
        "--process-cap",
        action="store_true",
        help="keep gunicorn.conf.py's per-process stream cap (default: off, raw capacity)",
    )
    args = parser.parse_args()
    results = {c: asyncio.run(run_class(args, c)) for c in args.classes}
    for worker_class, rows in results.items():
        print_table(worker_class, args, rows)


if __name__ == "__main__":
    main()
