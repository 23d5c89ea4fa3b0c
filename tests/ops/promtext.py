"""Read Prometheus text without importing prometheus_client in the test process (it picks its
multiprocess mode once per process, at import), and run Python snippets in a fresh process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$")
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Key = tuple[str, frozenset[tuple[str, str]]]


def samples(text: str) -> dict[Key, float]:
    """`{(name, {(label, value), ...}): value}` of every sample line."""
    out: dict[Key, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE_RE.match(line)
        assert match, line
        name, labels, value = match.groups()
        out[(name, frozenset(_LABEL_RE.findall(labels or "")))] = float(value)
    return out


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels}` (exactly those labels), 0 when absent."""
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def total(text: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples(text).items() if n == name and want <= ls)


def run_python(code: str, env: dict[str, str | None], timeout: float = 60) -> str:
    """Run `code` in a fresh interpreter at the repository root; return its stdout (asserting exit
    0). A variable given as None is left out of its environment."""
    merged = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    full_env = {k: v for k, v in merged.items() if v is not None}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
