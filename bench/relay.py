"""Relay benchmark: one streamed answer consumed with the SDK directly vs through the app (gunicorn).

Prints time to first text, total time and the app's CPU per relayed upstream delta.
Run: .venv/bin/python bench/relay.py [--turns 20] [--deltas 2000]
Each run: a new conversation every 5 turns; the app under gunicorn (gthread, 1 worker).
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import openai  # noqa: E402

from app.accounts import AccountStore  # noqa: E402

PASSWORD = "benchmark-password-123"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process exited: {proc.args}")
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


def sdk_turn(client: openai.OpenAI, model: str) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    first = None
    deltas = 0
    with client.responses.create(model=model, input="hi", stream=True) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas += 1
                if first is None:
                    first = time.perf_counter() - t0
    return first or 0.0, time.perf_counter() - t0, deltas


class AppClient:
    def __init__(self, port: int) -> None:
        self.port = port
        conn = http.client.HTTPConnection("127.0.0.1", port)
        body = json.dumps({"username": "bench", "password": PASSWORD})
        conn.request("POST", "/login", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        self.cookie = response.getheader("Set-Cookie").split(";")[0]
        conn.close()
        self.conversation_id: str | None = None
        self.turns = 0

    def turn(self, per_conversation: int = 5) -> tuple[float, float, int]:
        """One turn; every `per_conversation` turns a new conversation starts (its first turn
        creates the conversation, the others continue it with `previous_response_id`)."""
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
            if first is None and b"event: delta" in data + chunk:
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


def start_fake_upstream(port: int, n_deltas: int, delta_delay: float) -> subprocess.Popen:
    """Start the fake upstream in its own process, answering `n_deltas` deltas of "word "."""
    command = [sys.executable, "-m", "tests.fake_upstream", "--port", str(port), "--reply", "word "]
    command += ["--chunk-size", "5", "--n-deltas", str(n_deltas), "--delta-delay", str(delta_delay)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)


def start_gunicorn(
    port: int, env: dict[str, str], log: Any, *, workers: int, threads: int
) -> subprocess.Popen:
    """Start the app under gunicorn (gthread), its output going to `log`."""
    command = [str(Path(sys.executable).with_name("gunicorn")), "-k", "gthread"]
    command += ["-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}"]
    command += ["--access-logfile", "/dev/null", "app:create_app()"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def run(args: argparse.Namespace, paced: float) -> dict[str, float]:
    fake_port, app_port = free_port(), free_port()
    fake = start_fake_upstream(fake_port, args.deltas, paced)
    data_dir = tempfile.mkdtemp(prefix="bench-relay-")
    AccountStore(data_dir).create_user("bench", PASSWORD)
    base_url = f"http://127.0.0.1:{fake_port}/v1"
    env = {
        "CHAT_DATA_DIR": data_dir,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": base_url,
        "CHAT_TURNS_PER_MINUTE": "100000",
    }
    app_log = open(Path(data_dir) / "gunicorn.log", "wb")  # noqa: SIM115 - closed in finally
    app = start_gunicorn(app_port, env, app_log, workers=1, threads=8)
    try:
        wait_port(fake_port, fake)
        wait_port(app_port, app)
        sdk = openai.OpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)
        client = AppClient(app_port)
        for _ in range(3):  # warm both paths
            sdk_turn(sdk, "bench")
            client.turn()
        worker = children(app.pid)[0]
        sdk_first, sdk_total, app_first, app_total = [], [], [], []
        cpu0 = cpu_seconds(worker)
        frames = 0
        for _ in range(args.turns):
            first, total, _ = client.turn()
            app_first.append(first)
            app_total.append(total)
        cpu = cpu_seconds(worker) - cpu0
        sdk_cpu0 = time.process_time()
        for _ in range(args.turns):
            first, total, _ = sdk_turn(sdk, "bench")
            sdk_first.append(first)
            sdk_total.append(total)
        sdk_cpu = time.process_time() - sdk_cpu0
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--deltas", type=int, default=2000)
    args = parser.parse_args()
    rows = [("burst (no delay)", run(args, 0.0)), ("paced (2 ms a delta)", run(args, 0.002))]
    print(f"\nRelay: {args.turns} turns of {args.deltas} deltas each, fake upstream on 127.0.0.1")
    header = (
        f"{'upstream':<22}{'SDK 1st text':>13}{'app 1st text':>13}{'added':>9}"
        f"{'SDK total':>11}{'app total':>11}{'SDK CPU/delta':>15}{'app CPU/delta':>15}"
        f"{'frames':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, r in rows:
        print(
            f"{name:<22}{r['sdk_first']:>10.2f} ms{r['app_first']:>10.2f} ms"
            f"{r['app_first'] - r['sdk_first']:>6.2f} ms{r['sdk_total']:>8.0f} ms"
            f"{r['app_total']:>8.0f} ms{r['sdk_cpu_per_delta']:>12.4f} ms"
            f"{r['cpu_per_delta']:>12.4f} ms{r['frames']:>8}"
        )
    print("targets: added time to first text <= 5 ms (median); app CPU per delta <= 0.1 ms")
    print("SDK CPU/delta: this process consuming the stream with the SDK's typed events alone")


if __name__ == "__main__":
    main()
