"""Under gevent, gunicorn.conf.py's `patch_for_gevent` runs fsync and argon2 in the hub's thread pool.

Checked in a fresh interpreter (monkey patching cannot be undone): while one greenlet calls a slow
`os.fsync` (or hashes a password), another keeps ticking; unpatched, the loop would stand still.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
from gevent import monkey
monkey.patch_all()
import os, runpy, time
import gevent
from gevent.monkey import get_original

real_sleep = get_original("time", "sleep")
os.fsync = lambda fd: real_sleep(0.5)  # a slow disk: blocks its OS thread, not the loop (if pooled)
conf = runpy.run_path("gunicorn.conf.py")
if PATCH:
    conf["patch_for_gevent"]()

ticks = []
def ticker():
    while True:
        ticks.append(time.monotonic())
        gevent.sleep(0.01)

t = gevent.spawn(ticker)
gevent.sleep(0.05)
before = len(ticks)
gevent.spawn(os.fsync, 0).join()
during_fsync = len(ticks) - before

import argon2
hasher = argon2.PasswordHasher(time_cost=4, memory_cost=64 * 1024)
before = len(ticks)
t0 = time.monotonic()
hasher.verify(hasher.hash("correct horse battery staple"), "correct horse battery staple")
spent = time.monotonic() - t0
during_hash = len(ticks) - before

import io
from PIL import Image
from app.attachments import prepare
noise = Image.frombytes("RGB", (1600, 1200), os.urandom(1600 * 1200 * 3))
png = io.BytesIO()
noise.save(png, "PNG", compress_level=1)
before = len(ticks)
t0 = time.monotonic()
fmt, out = prepare.render(png.getvalue(), "PNG")
render_spent = time.monotonic() - t0
during_render = len(ticks) - before
print(during_fsync, during_hash, round(spent, 3), during_render, round(render_spent, 3), fmt)
"""


def run(patch: bool) -> tuple[int, int, float, int, float]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.replace("PATCH", str(patch))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    fsync_ticks, hash_ticks, spent, render_ticks, render_spent, fmt = out.stdout.split()
    assert fmt in ("PNG", "JPEG")  # the noise is too large as a PNG: made a JPEG (or smaller)
    return int(fsync_ticks), int(hash_ticks), float(spent), int(render_ticks), float(render_spent)


def test_fsync_hashing_and_image_work_do_not_stop_the_loop() -> None:
    fsync_ticks, hash_ticks, spent, render_ticks, render_spent = run(patch=True)
    assert fsync_ticks >= 10  # 0.5 s of fsync: the ticker ran on (50 ticks when idle)
    assert hash_ticks >= max(2, int(spent / 0.01) // 5)
    assert render_ticks >= max(2, int(render_spent / 0.01) // 5)


def test_unpatched_they_would() -> None:
    fsync_ticks, hash_ticks, _, render_ticks, _ = run(patch=False)
    assert fsync_ticks <= 2 and hash_ticks <= 2 and render_ticks <= 2


def test_gevent_streams_cap_follows_worker_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    for worker_class, expected in (("gevent", "750"), ("gthread", "48")):
        monkeypatch.delenv("CHAT_MAX_STREAMS_PER_PROCESS", raising=False)
        cfg = SimpleNamespace(threads=64, worker_connections=1000, worker_class_str=worker_class)
        conf["post_fork"](None, SimpleNamespace(cfg=cfg))
        assert os.environ["CHAT_MAX_STREAMS_PER_PROCESS"] == expected
    monkeypatch.delenv("CHAT_MAX_STREAMS_PER_PROCESS", raising=False)


def test_pooled_connection_checks_use_the_real_poll_under_gevent() -> None:
    """httpcore2 asks every idle pooled connection whether it is readable each time it assigns a
    request; under gevent that check must not cost an event-loop round (it never blocks)."""
    script = r"""
from gevent import monkey
monkey.patch_all()
import socket
from responses_client.adapters import transport
assert transport._POLL is monkey.get_original("select", "poll")
a, b = socket.socketpair()
assert not transport._readable(a)
b.close()
assert transport._readable(a)  # the peer closed: readable (EOF), so the pool drops it
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.stdout.strip() == "ok", out.stderr
