"""Load benchmark: N concurrent chat streams against the app under a real gunicorn, on loopback.

Each stream is a ~1 s answer from the fake upstream (50 deltas, 20 ms apart), one user per stream.
Prints time to the first text and total time (p50/p95), failures, and the app's CPU per relayed delta.
Run: .venv/bin/python bench/load.py [--streams 16 64 128] [--workers 2] [--threads 64]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.relay import (  # noqa: E402
    children,
    cpu_seconds,
    free_port,
    start_fake_upstream,
    start_gunicorn,
    wait_port,
)

PASSWORD = "benchmark-password-123"
DELTAS = 50


def login(port: int, user: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"username": user, "password": PASSWORD})
    conn.request("POST", "/login", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"login failed for {user}: {response.status}")
    return response.getheader("Set-Cookie").split(";")[0]


def stream(port: int, cookie: str, start: threading.Event, out: list) -> None:
    start.wait()
    t0 = time.perf_counter()
    first = None
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Content-Type": "application/json", "Cookie": cookie}
        conn.request("POST", "/chat", json.dumps({"message": "hi"}), headers)
        response = conn.getresponse()
        data = b""
        while True:
            chunk = response.read1(65536)
            if not chunk:
                break
            data += chunk
            if first is None and b"event: delta" in data:
                first = time.perf_counter() - t0
        conn.close()
        ok = response.status == 200 and b"event: done" in data
        reason = "" if ok else f"HTTP {response.status} {data[-160:]!r}"
        out.append((ok, first, time.perf_counter() - t0, reason))
    except OSError as exc:
        out.append((False, first, time.perf_counter() - t0, repr(exc)))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def run(n: int, args: argparse.Namespace) -> dict[str, float]:
    fake_port, app_port = free_port(), free_port()
    fake = start_fake_upstream(fake_port, DELTAS, 0.02)
    data_dir = tempfile.mkdtemp(prefix="bench-load-")
    from app.accounts import AccountStore

    accounts = AccountStore(data_dir)
    users = [f"load{i:03d}" for i in range(n)]
    for user in users:
        accounts.create_user(user, PASSWORD)
    env = {
        "CHAT_DATA_DIR": data_dir,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
        "CHAT_TURNS_PER_MINUTE": "100000",
        "CHAT_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000",
        # Raw capacity: no stream caps (the per-process cap would answer 429 past 48 per worker).
        "CHAT_MAX_STREAMS_PER_PROCESS": "0",
        "CHAT_MAX_STREAMS_PER_USER": "0",
    }
    app_log = open(Path(data_dir) / "gunicorn.log", "wb")  # noqa: SIM115 - closed in finally
    app = start_gunicorn(app_port, env, app_log, workers=args.workers, threads=args.threads)
    try:
        wait_port(fake_port, fake)
        wait_port(app_port, app)
        cookies = [login(app_port, user) for user in users]
        workers = children(app.pid)
        cpu0 = sum(cpu_seconds(pid) for pid in workers)
        start = threading.Event()
        out: list = []
        threads = [
            threading.Thread(target=stream, args=(app_port, cookie, start, out))
            for cookie in cookies
        ]
        for thread in threads:
            thread.start()
        t0 = time.perf_counter()
        start.set()
        for thread in threads:
            thread.join(300)
        wall = time.perf_counter() - t0
        cpu = sum(cpu_seconds(pid) for pid in workers) - cpu0
        ok = [r for r in out if r[0]]
        for failure in sorted({r[3] for r in out if not r[0]}):
            print(f"  {n} streams, failed: {failure}", file=sys.stderr)
        if len(ok) < n:  # what the app said about them
            log = Path(data_dir, "gunicorn.log").read_text(errors="replace").splitlines()
            for line in [x for x in log if "turn_" in x or "upstream" in x][-10:]:
                print(f"  app log: {line}", file=sys.stderr)
        firsts = [r[1] for r in ok if r[1] is not None]
        totals = [r[2] for r in ok]
        return {
            "n": n,
            "ok": len(ok),
            "first_p50": pct(firsts, 0.5) if firsts else float("nan"),
            "first_p95": pct(firsts, 0.95) if firsts else float("nan"),
            "total_p50": pct(totals, 0.5) if totals else float("nan"),
            "total_p95": pct(totals, 0.95) if totals else float("nan"),
            "wall": wall,
            "cpu_per_delta": cpu * 1000 / max(1, len(ok) * DELTAS),
        }
    finally:
        app.terminate()
        fake.terminate()
        app.wait(15)
        fake.wait(15)
        app_log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, nargs="+", default=[16, 64, 128])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=64)
    args = parser.parse_args()
    rows = [run(n, args) for n in args.streams]
    print(
        f"\nLoad: gunicorn gthread -w {args.workers} --threads {args.threads}; "
        f"each stream {DELTAS} deltas 20 ms apart (about 1 s), one user per stream"
    )
    header = (
        f"{'streams':>8}{'ok':>6}{'1st text p50':>14}{'p95':>10}{'total p50':>12}{'p95':>10}"
        f"{'wall':>9}{'CPU/delta':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['n']:>8}{r['ok']:>6}{r['first_p50']:>11.0f} ms{r['first_p95']:>7.0f} ms"
            f"{r['total_p50']:>9.0f} ms{r['total_p95']:>7.0f} ms{r['wall']:>7.1f} s"
            f"{r['cpu_per_delta']:>9.3f} ms"
        )


if __name__ == "__main__":
    main()
