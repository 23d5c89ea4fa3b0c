"""Relay benchmark per protocol: one streamed answer consumed with the SDK alone vs through the app.

For each protocol (Responses, Chat Completions, Anthropic Messages, Gemini generateContent) the
protocol's fake upstream runs in its own process; the same long answer is read (a) by this process
through that provider's SDK alone (its typed events) and (b) through the app under gunicorn
(gthread, 1 worker) configured with that provider only. Prints one table: time to first text,
total time, and CPU per upstream delta (the SDK's in this process, the app worker's from /proc).
Targets: API.md "Performance targets".

Run: .venv/bin/python bench/relay.py [--turns 20] [--deltas 2000]
     [--protocols responses,chat_completions,anthropic,gemini] [--modes burst,paced]
Each run starts a new conversation every 5 turns (later turns continue it: chained on Responses,
replayed on the stateless protocols).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.accounts import AccountStore  # noqa: E402
from bench.relay_sdk import SdkTurn, anthropic_turn, chat_turn, gemini_turn, responses_turn  # noqa: E402

PASSWORD = "benchmark-password-123"
TICKS = os.sysconf("SC_CLK_TCK")
MODEL = "bench"
MODES = {"burst": 0.0, "paced": 0.002}  # seconds between upstream deltas


@dataclass(frozen=True)
class Protocol:
    """How to run one protocol's fake, point the app at it, and read it with the SDK alone."""

    name: str  # bench.relay_fakes' protocol name
    label: str
    base_url: Callable[[int], str]  # the base URL as that provider's SDK and variable take it
    env: Callable[[str], dict[str, str]]  # the app's environment for that provider alone
    sdk: Callable[[str], SdkTurn]  # a client on the base URL -> one streamed turn
    raw: bool  # the app parses the wire itself (else it reads the SDK's typed iterator)


PROTOCOLS: dict[str, Protocol] = {
    "responses": Protocol(
        name="responses",
        label="Responses",
        base_url=lambda port: f"http://127.0.0.1:{port}/v1",
        env=lambda url: {"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": url},
        sdk=responses_turn,
        raw=True,
    ),
    "chat_completions": Protocol(
        name="chat_completions",
        label="Chat Completions",
        base_url=lambda port: f"http://127.0.0.1:{port}",
        env=lambda url: {"DEEPSEEK_API_KEY": "sk-bench", "DEEPSEEK_BASE_URL": url},
        sdk=chat_turn,
        raw=True,
    ),
    "anthropic": Protocol(
        name="anthropic",
        label="Anthropic",
        base_url=lambda port: f"http://127.0.0.1:{port}",
        env=lambda url: {"ANTHROPIC_API_KEY": "sk-ant-bench", "ANTHROPIC_BASE_URL": url},
        sdk=anthropic_turn,
        raw=True,
    ),
    "gemini": Protocol(
        name="gemini",
        label="Gemini",
        base_url=lambda port: f"http://127.0.0.1:{port}",
        env=lambda url: {"GEMINI_API_KEY": "bench-gemini-key", "GEMINI_BASE_URL": url},
        sdk=gemini_turn,
        raw=False,
    ),
}

ADDED_FIRST_MS = 5.0  # at most this much added to the time to first text (median)
RAW_CPU_MS = 0.1  # app CPU per delta where the app parses the wire itself
TYPED_EXTRA_CPU_MS = 0.05  # over the SDK's own, where the app reads the SDK's typed iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process exited: {proc.args!r}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


class AppClient:
    def __init__(self, port: int) -> None:
        self.port = port
        conn = http.client.HTTPConnection("127.0.0.1", port)
        body = json.dumps({"username": "bench", "password": PASSWORD})
        conn.request("POST", "/login", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        self.cookie = (response.getheader("Set-Cookie") or "").split(";")[0]
        conn.close()
        self.conversation_id: str | None = None
        self.turns = 0

    def turn(self, per_conversation: int = 5) -> tuple[float, float, int]:
        """One turn; every `per_conversation` turns a new conversation starts (its first turn
        creates the conversation, the others continue it)."""
        body = {"message": "hi"}
        if self.turns % per_conversation == 0:
            self.conversation_id = None
        self.turns += 1
        if self.conversation_id:
            body["conversation_id"] = self.conversation_id
        conn = http.client.HTTPConnection("127.0.0.1", self.port)
        t0 = time.perf_counter()
        headers = {"Content-Type": "application/json", "Cookie": self.cookie}
        conn.request("POST", "/chat", json.dumps(body), headers)
        response = conn.getresponse()
        first = None
        frames = 0
        data = b""
        while True:
            chunk = response.read1(65536)
            if not chunk:
                break
            if first is None and b"event: delta" in data[-16:] + chunk:
                first = time.perf_counter() - t0
            data += chunk
        total = time.perf_counter() - t0
        conn.close()
        for block in data.split(b"\n\n"):
            if block.startswith(b"event: conversation"):
                payload = block.split(b"data: ", 1)[1]
                self.conversation_id = json.loads(payload)["conversation_id"]
            frames += block.startswith(b"event: delta")
        if b"event: done" not in data:
            raise SystemExit(f"turn did not complete: {data[-300:]!r}")
        return first or 0.0, total, frames


def start_fake(protocol: Protocol, port: int, n_deltas: int, delay: float) -> subprocess.Popen:
    """Start a protocol's fake upstream in its own process, answering `n_deltas` of "word "."""
    command = [sys.executable, "-m", "bench.relay_fakes", protocol.name, "--port", str(port)]
    command += ["--n-deltas", str(n_deltas), "--delta-delay", str(delay)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)


def start_gunicorn(
    port: int, env: dict[str, str], log: Any, *, workers: int, threads: int
) -> subprocess.Popen:
    """Start the app under gunicorn (gthread), its output going to `log`."""
    command = [str(Path(sys.executable).with_name("gunicorn")), "-k", "gthread"]
    command += ["-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}"]
    command += ["--access-logfile", "/dev/null", "app:create_app()"]
    # Only this protocol's provider: drop any key or base URL the shell had.
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("CHAT_")
    }
    env = {**inherited, "PYTHONUNBUFFERED": "1", **env}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def run(protocol: Protocol, args: argparse.Namespace, paced: float) -> dict[str, float]:
    fake_port, app_port = free_port(), free_port()
    fake = start_fake(protocol, fake_port, args.deltas, paced)
    data_dir = tempfile.mkdtemp(prefix="bench-relay-")
    AccountStore(data_dir).create_user("bench", PASSWORD)
    base_url = protocol.base_url(fake_port)
    env = {
        **protocol.env(base_url),
        "CHAT_DATA_DIR": data_dir,
        "CHAT_MODEL": MODEL,
        "CHAT_TURNS_PER_MINUTE": "100000",
    }
    app_log = open(Path(data_dir) / "gunicorn.log", "wb")  # noqa: SIM115 - closed in finally
    app = start_gunicorn(app_port, env, app_log, workers=1, threads=8)
    try:
        wait_port(fake_port, fake)
        wait_port(app_port, app)
        sdk_turn = protocol.sdk(base_url)
        client = AppClient(app_port)
        for _ in range(3):  # warm both paths
            sdk_turn()
            client.turn()
        worker = children(app.pid)[0]
        sdk_first, sdk_total, app_first, app_total = [], [], [], []
        cpu0 = cpu_seconds(worker)
        for _ in range(args.turns):
            first, total, _ = client.turn()
            app_first.append(first)
            app_total.append(total)
        cpu = cpu_seconds(worker) - cpu0
        sdk_cpu0 = time.process_time()
        sdk_deltas = 0
        for _ in range(args.turns):
            first, total, deltas = sdk_turn()
            sdk_first.append(first)
            sdk_total.append(total)
            sdk_deltas += deltas
        sdk_cpu = time.process_time() - sdk_cpu0
        if sdk_deltas != args.turns * args.deltas:
            raise SystemExit(f"the SDK read {sdk_deltas} deltas, not {args.turns * args.deltas}")
        # Frames the browser got in one more turn (deltas are coalesced per network read).
        frames = client.turn()[2]
        return {
            "sdk_first": statistics.median(sdk_first) * 1000,
            "app_first": statistics.median(app_first) * 1000,
            "sdk_total": statistics.median(sdk_total) * 1000,
            "app_total": statistics.median(app_total) * 1000,
            "cpu_per_delta": cpu * 1000 / (args.turns * args.deltas),
            "sdk_cpu_per_delta": sdk_cpu * 1000 / (args.turns * args.deltas),
            "frames": frames,
        }
    except SystemExit:
        print(Path(data_dir, "gunicorn.log").read_text()[-3000:], file=sys.stderr)
        for conversation in Path(data_dir, "bench").glob("*.json"):
            last = json.loads(conversation.read_text())["messages"][-1]
            print({k: last.get(k) for k in ("status", "error", "metadata")}, file=sys.stderr)
        raise
    finally:
        app.terminate()
        fake.terminate()
        app.wait(10)
        fake.wait(10)
        app_log.close()


def verdict(protocol: Protocol, r: dict[str, float]) -> str:
    """Whether a row meets API.md's targets: `ok`, else which figure is over."""
    over = []
    if r["app_first"] - r["sdk_first"] > ADDED_FIRST_MS:
        over.append("1st text")
    if protocol.raw and r["cpu_per_delta"] > RAW_CPU_MS:
        over.append("CPU")
    if not protocol.raw and r["cpu_per_delta"] - r["sdk_cpu_per_delta"] > TYPED_EXTRA_CPU_MS:
        over.append("CPU")
    return "ok" if not over else "over: " + ", ".join(over)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--deltas", type=int, default=2000)
    parser.add_argument("--protocols", default=",".join(PROTOCOLS))
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    chosen = [PROTOCOLS[name] for name in args.protocols.split(",")]
    modes = [(mode, MODES[mode]) for mode in args.modes.split(",")]
    rows: list[tuple[Protocol, str, dict[str, float] | str]] = []
    for p in chosen:
        for mode, delay in modes:
            try:
                rows.append((p, mode, run(p, args, delay)))
            except SystemExit as exc:  # one protocol failing still leaves the others' rows
                rows.append((p, mode, f"failed: {exc}"[:80]))
    print(f"\nRelay: {args.turns} turns of {args.deltas} deltas each, fake upstreams on 127.0.0.1")
    header = (
        f"{'protocol':<18}{'upstream':<8}{'SDK 1st':>10}{'app 1st':>10}{'added':>9}"
        f"{'SDK total':>11}{'app total':>11}{'SDK CPU/d':>11}{'app CPU/d':>11}"
        f"{'frames':>8}  target"
    )
    print(header)
    print("-" * len(header))
    for p, mode, r in rows:
        if isinstance(r, str):
            print(f"{p.label:<18}{mode:<8}{r}")
            continue
        print(
            f"{p.label:<18}{mode:<8}{r['sdk_first']:>7.2f} ms{r['app_first']:>7.2f} ms"
            f"{r['app_first'] - r['sdk_first']:>6.2f} ms{r['sdk_total']:>8.0f} ms"
            f"{r['app_total']:>8.0f} ms{r['sdk_cpu_per_delta']:>8.4f} ms"
            f"{r['cpu_per_delta']:>8.4f} ms{r['frames']:>8}  {verdict(p, r)}"
        )
    print(
        f"targets: added time to first text <= {ADDED_FIRST_MS:g} ms (median); app CPU per delta"
        f" <= {RAW_CPU_MS:g} ms where the app parses the wire (Responses, Chat Completions,"
        f" Anthropic), <= the SDK's + {TYPED_EXTRA_CPU_MS:g} ms for Gemini (its typed iterator)"
    )
    print(
        "burst: the fake sends without pause; paced: 2 ms between deltas. SDK CPU/d: this"
        " process reading the stream with the SDK's typed events alone"
    )


if __name__ == "__main__":
    main()
