"""Soak: a bounded run at a steady concurrency, with the workers' memory and open files sampled.

The app under gunicorn (the production config, the worker class given) against the fake upstream
(~1 s answers). `--concurrency` clients each run turns back to back until `--seconds` have passed
(each continues its conversation for 5 turns, then starts a new one). Every `--every` seconds the
workers' RSS and open file descriptors are sampled. At the end, with the server stopped:

- no temporary file (`.tmp-`) is left anywhere in the data directory;
- every conversation file parses;
- every reply the clients saw finish is saved exactly once, `completed`, with the text streamed.

Prints the samples, the turn figures and the checks; exits 1 when a check fails.
Run: .venv/bin/python bench/soak.py [--seconds 600] [--concurrency 100] [--worker-class gevent]
Smoke: .venv/bin/python bench/soak.py --seconds 20 --concurrency 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load_client import (  # noqa: E402
    children,
    create_users,
    login,
    open_files,
    pct,
    request,
    rss_bytes,
    start_app,
    start_fake,
)
from bench.relay import free_port, wait_port  # noqa: E402

DELTAS, DELAY = 50, 0.02
PIECE = "word "  # bench.relay_fakes' delta text
PER_USER = 10
TURNS_PER_CONVERSATION = 5
FLAT_PCT = 10.0  # RSS growth after warm-up (the first 20 % of the run) still called flat


def first_data(body: bytes) -> dict[str, Any]:
    """The data of a stream's first (`conversation`) event."""
    for line in body.split(b"\n"):
        if line.startswith(b"data: "):
            return json.loads(line[6:])
    return {}


def streamed_text(body: bytes) -> str:
    """The text of a stream's delta events."""
    text, event = [], ""
    for line in body.split(b"\n"):
        if line.startswith(b"event: "):
            event = line[7:].decode()
        elif line.startswith(b"data: ") and event == "delta":
            text.append(json.loads(line[6:])["text"])
    return "".join(text)


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.deadline = 0.0
        self.seen: list[tuple[str, str, str, str]] = []  # (user, cid, message id, text)
        self.failures: Counter[str] = Counter()
        self.firsts: list[float] = []
        self.totals: list[float] = []
        self.samples: list[tuple[float, int, int, int]] = []  # (t, turns, rss, fds)

    async def client(self, port: int, user: str, cookie: str) -> None:
        cid: str | None = None
        turns = 0
        while time.monotonic() < self.deadline:
            body: dict[str, Any] = {"message": "hi"}
            if cid is not None and turns % TURNS_PER_CONVERSATION:
                body["conversation_id"] = cid
            result = await request(port, "POST", "/chat", body, cookie)
            turns += 1
            if not result.done:
                self.failures[result.error or f"HTTP {result.status} {result.ended}"] += 1
                cid = None
                await asyncio.sleep(0.5)
                continue
            data = first_data(result.body)
            cid = data["conversation_id"]
            self.seen.append((user, cid, data["assistant_message_id"], streamed_text(result.body)))
            if result.first is not None:
                self.firsts.append(result.first)
            self.totals.append(result.total)

    async def sampler(self, app_pid: int, t0: float) -> None:
        while time.monotonic() < self.deadline:
            workers = children(app_pid)
            self.samples.append(
                (
                    time.monotonic() - t0,
                    len(self.seen),
                    sum(rss_bytes(p) for p in workers),
                    sum(open_files(p) for p in workers),
                )
            )
            await asyncio.sleep(min(self.args.every, max(0.1, self.deadline - time.monotonic())))

    async def warm(self, port: int, cookie: str, user: str) -> None:
        """Rounds of turns before the clock starts, so every worker has loaded what a turn needs."""
        for _ in range(3):
            results = await asyncio.gather(
                *(
                    request(port, "POST", "/chat", {"message": "hi"}, cookie)
                    for _ in range(4 * self.args.workers)
                )
            )
            for result in results:
                if result.done:  # saved like any other: the checks count them
                    data = first_data(result.body)
                    self.seen.append(
                        (
                            user,
                            data["conversation_id"],
                            data["assistant_message_id"],
                            streamed_text(result.body),
                        )
                    )

    async def run(self, port: int, app_pid: int, users: list[str]) -> None:
        cookies = {user: await login(port, user) for user in users}
        await self.warm(port, cookies[users[0]], users[0])
        t0 = time.monotonic()
        self.deadline = t0 + self.args.seconds
        clients = [
            self.client(port, users[i // PER_USER], cookies[users[i // PER_USER]])
            for i in range(self.args.concurrency)
        ]
        await asyncio.gather(self.sampler(app_pid, t0), *clients)
        workers = children(app_pid)  # after the last turn: the final sample
        self.samples.append(
            (
                time.monotonic() - t0,
                len(self.seen),
                sum(rss_bytes(p) for p in workers),
                sum(open_files(p) for p in workers),
            )
        )


def check(data_dir: Path, seen: list[tuple[str, str, str, str]]) -> list[str]:
    """The end-of-run checks; the list of what failed (empty: all passed)."""
    problems = []
    temps = [p for p in data_dir.rglob("*") if ".tmp-" in p.name]
    if temps:
        problems.append(f"{len(temps)} temporary files left, e.g. {temps[0].name}")
    files: dict[tuple[str, str], dict[str, Any]] = {}
    for path in data_dir.glob("*/c_*.json"):
        try:
            files[(path.parent.name, path.stem)] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name} does not parse: {type(exc).__name__}")
    for user, cid, mid, text in seen:
        doc = files.get((user, cid))
        if doc is None:
            problems.append(f"conversation {cid} missing")
            continue
        saved = [m for m in doc.get("messages", []) if m.get("id") == mid]
        if len(saved) != 1:
            problems.append(f"reply {mid} saved {len(saved)} times")
        elif saved[0].get("status") != "completed" or saved[0].get("text") != text:
            problems.append(f"reply {mid} saved {saved[0].get('status')} with other text")
    replies = sum(
        1 for doc in files.values() for m in doc.get("messages", []) if m.get("role") == "assistant"
    )
    if replies != len(seen):
        problems.append(f"{replies} replies on disk, {len(seen)} turns finished")
    return problems


def report(soak: Soak, args: argparse.Namespace, problems: list[str]) -> None:
    print(
        f"\nSoak: {args.seconds:.0f} s, {args.concurrency} concurrent clients, gunicorn "
        f"{args.worker_class} -w {args.workers} (threads {args.threads}); answers {DELTAS} x "
        f"{DELAY * 1000:.0f} ms"
    )
    print(f"{'t (s)':>8}{'turns':>8}{'RSS MB':>10}{'open fds':>10}")
    for t, turns, rss, fds in soak.samples:
        print(f"{t:>8.0f}{turns:>8}{rss / 2**20:>10.1f}{fds:>10}")
    warm = [s for s in soak.samples if s[0] >= args.seconds * 0.2] or soak.samples
    if warm:
        first, last = warm[0], warm[-1]
        growth = (last[2] - first[2]) / max(1, first[2]) * 100
        flat = "flat" if growth <= FLAT_PCT else f"GROWING (over {FLAT_PCT:.0f}%)"
        print(
            f"after warm-up: RSS {first[2] / 2**20:.1f} -> {last[2] / 2**20:.1f} MB "
            f"({growth:+.1f}%: {flat}), open fds {first[3]} -> {last[3]} (after the last turn)"
        )
    print(
        f"turns {len(soak.seen)} finished (with the warm-up), {sum(soak.failures.values())} failed "
        f"{dict(soak.failures) or ''}; first text p50 {pct(soak.firsts, 0.5):.0f} ms "
        f"p95 {pct(soak.firsts, 0.95):.0f} ms; total p50 {pct(soak.totals, 0.5):.0f} ms "
        f"p95 {pct(soak.totals, 0.95):.0f} ms"
    )
    print("checks: " + ("all passed" if not problems else "FAILED"))
    for line in ["no temporary files", "every conversation file parses", "every reply saved once"]:
        print(f"  {line}")
    for problem in problems[:20]:
        print(f"  problem: {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--worker-class", default="gevent")  # the production config's
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=300)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--every", type=float, default=0.0, help="seconds between samples")
    args = parser.parse_args()
    args.every = args.every or max(1.0, args.seconds / 20)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    users = [f"soak{i:03d}" for i in range(math.ceil(args.concurrency / PER_USER))]
    create_users(str(data_dir), users)
    fake_port, port = free_port(), free_port()
    fake = start_fake(fake_port, DELTAS, DELAY)
    log = (data_dir.parent / f"{data_dir.name}.log").open("wb")
    app = start_app(
        port,
        str(data_dir),
        fake_port,
        log,
        worker_class=args.worker_class,
        workers=args.workers,
        threads=args.threads,
        connections=args.connections,
        extra_env={"CHAT_MAX_STREAMS_PER_PROCESS": "0"},
    )
    soak = Soak(args)
    try:
        wait_port(fake_port, fake)
        wait_port(port, app)
        asyncio.run(soak.run(port, app.pid, users))
    finally:
        app.terminate()
        app.wait(60)
        fake.terminate()
        fake.wait(15)
        log.close()
    problems = check(data_dir, soak.seen)
    report(soak, args, problems)
    if problems:
        print(f"data directory kept: {data_dir} (app log: {log.name})")
        sys.exit(1)
    shutil.rmtree(data_dir, ignore_errors=True)
    Path(log.name).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
