"""The relay benchmark's upstreams: one protocol's fake, scripted to a long answer, in its own process.

Run: .venv/bin/python -m bench.relay_fakes PROTOCOL --port P --n-deltas N [--delta-delay S]
PROTOCOL is responses | chat_completions | anthropic | gemini. The fake answers every call with
N text deltas of "word " (5 characters each), S seconds apart, until the process is terminated.
Each fake is built through its test module's public class and attributes (`reply`, `chunk_size`,
`n_deltas`, `delta_delay`), so the benchmark reads the same bytes the tests do.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PIECE = "word "
# protocol -> (module, class, constructor keywords)
FAKES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "responses": ("tests.fake_upstream", "FakeUpstream", {}),
    "chat_completions": ("tests.fakes.chat_completions", "FakeChat", {"style": "deepseek"}),
    "anthropic": ("tests.fakes.anthropic", "FakeAnthropic", {}),
    "gemini": ("tests.fakes.gemini", "FakeGemini", {}),
}


def build(protocol: str, port: int, n_deltas: int, delay: float) -> Any:
    """The protocol's fake on 127.0.0.1:`port`, answering `n_deltas` deltas of PIECE."""
    module, cls, kwargs = FAKES[protocol]
    fake = getattr(importlib.import_module(module), cls)("127.0.0.1", port, **kwargs)
    fake.reply = PIECE  # cut into deltas of its length and repeated to n_deltas
    fake.chunk_size = len(PIECE)
    fake.n_deltas = n_deltas
    fake.delta_delay = delay
    return fake


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM or Ctrl-C."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("protocol", choices=sorted(FAKES))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n-deltas", type=int, required=True)
    ap.add_argument("--delta-delay", type=float, default=0.0)
    args = ap.parse_args(argv)
    fake = build(args.protocol, args.port, args.n_deltas, args.delta_delay)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    fake.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
