"""M2 (SIGKILL mid-run, a rerun completes, each thread once) and M5 (alongside the app's writers)."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conversation_manager import JsonConversationStore
from tests.migration.conftest import (
    REPO,
    SCRIPT,
    conversations,
    entry,
    run_cli,
    tree_checksum,
    write_old,
)

pytestmark = pytest.mark.slow


def _old_tree(source: Path, users: int, threads: int) -> dict[tuple[str, str], int]:
    expected = {}
    for u in range(users):
        name = f"user{u:02d}"
        content = {}
        for t in range(threads):
            tid = f"thread_{u:02d}_{t:04d}"
            msgs = [{"role": "user", "text": f"q {tid}"}, {"role": "assistant", "text": "a"}]
            content[tid] = entry(tid, messages=msgs if t % 2 else None)
            expected[(name, tid)] = 2 if t % 2 else 0
        write_old(source, f"{name}.json", content)
    return expected


def _wait_for_files(dest: Path, count: int, child: subprocess.Popen[bytes]) -> None:
    """Wait until `dest` holds `count` conversation files (or the run ended, or 30 s passed)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and child.poll() is None:
        users = [p for p in dest.iterdir() if p.is_dir()] if dest.exists() else []
        if sum(1 for u in users for f in u.glob("*.json")) >= count:
            return
        time.sleep(0.002)


def test_killed_runs_resume_and_migrate_every_thread_exactly_once(tmp_path: Path) -> None:
    source = tmp_path / "chats"
    expected = _old_tree(source, users=3, threads=100)
    checksum = tree_checksum(source)
    rng = random.Random(6)
    killed_midway = 0
    loops = 20
    for loop in range(loops):
        dest = tmp_path / f"data{loop}"
        # Kill one to three times at random points, then let a last run finish.
        for _ in range(rng.randint(1, 2)):
            child = subprocess.Popen(
                [sys.executable, str(SCRIPT), "--source", str(source), "--dest", str(dest)],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Kill once the run has written some conversations (a random share of them), not
            # after a fixed time: how long the start-up and the writes take varies by machine.
            _wait_for_files(dest, rng.randint(1, len(expected) // 2), child)
            child.send_signal(signal.SIGKILL)
            child.wait()
            partial = len(conversations(dest))
            killed_midway += 0 < partial < len(expected)
        result = run_cli("--source", source, "--dest", dest)
        assert result.returncode == 0, result.stdout + result.stderr
        convs = conversations(dest)  # every file parses: no torn write
        assert {k: len(v["messages"]) for k, v in convs.items()} == expected
        for (user, tid), conv in convs.items():
            assert conv["id"] == tid and conv["legacy"]["thread_id"] == tid
            assert user == f"user{tid[7:9]}"
        if loop % 5 == 0:
            again = run_cli("--source", source, "--dest", dest)
            assert f"0 migrated, {len(expected)} already present" in again.stdout
    assert tree_checksum(source) == checksum  # M3: no old file changed
    assert killed_midway >= 5, f"only {killed_midway} kills landed mid-run: harness not biting"


def _writer(data_dir: str, user: str, cid: str, n: int, tag: int) -> None:
    store = JsonConversationStore(data_dir)
    for i in range(n):
        _conv, _user_msg, assistant = store.begin_turn(
            user,
            cid,
            text=f"w{tag}-{i}",
            parent_id=None,
            model="gpt-5.4-mini",
            provider="openai",
            context_mode="first",
        )
        store.finish_assistant_message(user, cid, assistant.id, text="ok", status="completed")


def test_runs_alongside_writers_of_the_same_user(tmp_path: Path) -> None:
    """M5: W spawned writers append through the store while the migration fills the same user."""
    source = tmp_path / "chats"
    dest = tmp_path / "data"
    content = {f"thread_{t:04d}": entry(f"thread_{t:04d}") for t in range(300)}
    write_old(source, "alice.json", content)
    store = JsonConversationStore(dest)
    live = store.create(
        "alice", chat_name="live", model="gpt-5.4-mini", provider="openai", instructions="x"
    )
    writers, turns = 4, 25
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_writer, args=(str(dest), "alice", live.id, turns, w))
        for w in range(writers)
    ]
    for p in procs:
        p.start()
    result = run_cli("--source", source, "--dest", dest)
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert result.returncode == 0, result.stdout + result.stderr
    conv = store.get("alice", live.id)
    users = [m.text for m in conv.messages if m.role == "user"]
    assert len(users) == writers * turns and len(set(users)) == writers * turns
    for w in range(writers):  # each writer's order kept
        mine = [t for t in users if t.startswith(f"w{w}-")]
        assert mine == [f"w{w}-{i}" for i in range(turns)]
    listed = {s.id for s in store.list("alice")}
    assert listed == set(content) | {live.id}
    summary = json.loads(next((dest / ".app").glob("migration-*.json")).read_text())
    assert summary["conversations"]["migrated"] == 300


def test_sigkill_leaves_no_partial_conversation(tmp_path: Path) -> None:
    """A killed run leaves only whole files (dot-prefixed temporaries at most)."""
    source = tmp_path / "chats"
    _old_tree(source, users=1, threads=400)
    dest = tmp_path / "data"
    child = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--source", str(source), "--dest", str(dest)], cwd=REPO
    )
    time.sleep(0.8)
    child.send_signal(signal.SIGKILL)
    child.wait()
    for path in (dest / "user00").glob("*.json") if dest.exists() else ():
        json.loads(path.read_bytes())
    leftovers = [n for n in os.listdir(dest / "user00")] if (dest / "user00").exists() else []
    assert all(n.endswith(".json") or n.startswith(".") for n in leftovers)
