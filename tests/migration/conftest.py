"""Migration test fixtures: a corpus of old `static/chats` files, CLI runs, tree snapshots."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "migrate_threads.py"
T0 = 1_700_000_000


def entry(
    tid: str,
    *,
    created_at: Any = T0,
    chat_name: Any = "A chat",
    last_update: Any = T0 + 60,
    messages: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One old entry as the old app wrote it."""
    data: dict[str, Any] = {"id": tid, "object": "thread", "created_at": created_at}
    data["metadata"] = metadata if metadata is not None else {}
    out: dict[str, Any] = {"data": data, "chat_name": chat_name, "last_update": last_update}
    if messages is not None:
        out["messages"] = messages
    return out


def write_old(source: Path, name: str, content: Any) -> Path:
    """Write one old file: bytes as given, anything else as JSON."""
    source.mkdir(parents=True, exist_ok=True)
    path = source / name
    data = (
        content if isinstance(content, bytes) else json.dumps(content, ensure_ascii=False).encode()
    )
    path.write_bytes(data)
    return path


@dataclass
class Corpus:
    """An old `static/chats` tree and what a migration of it must give."""

    source: Path
    expected: dict[tuple[str, str], int] = field(default_factory=dict)  # (user, tid) -> messages
    skipped_files: set[str] = field(default_factory=set)
    skipped_threads: set[tuple[str, str]] = field(default_factory=set)  # (file, tid)


def build_mixed_corpus(source: Path) -> Corpus:
    """Valid users with cached messages plus every kind of damage the migration must set aside."""
    c = Corpus(source)
    alice = {
        "thread_a1": entry(
            "thread_a1",
            messages=[
                {"role": "user", "text": "What is in the report?"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "text",
                            "text": {
                                "value": "Sales grew【4:0†source】.",
                                "annotations": [
                                    {"type": "file_citation", "text": "【4:0†source】"}
                                ],
                            },
                        }
                    ],
                },
                {"role": "user", "content": "Thanks ✓"},
                {"role": "assistant", "content": [{"type": "text", "text": "You're welcome"}]},
            ],
            metadata={"topic": "sales"},
        ),
        "thread_a2": entry(
            "thread_a2", created_at="2023-11-14T22:13:20Z", last_update="2023-11-15"
        ),
        "thread_a3": entry("thread_a3", chat_name=None, messages=[{"role": "user", "text": "Hi"}]),
        "thread_a4": {"data": {"created_at": T0}},  # minimal: defaults for the rest
        "thread_shared": entry("thread_shared"),  # also in dave.json: ambiguous
        "bad id/../x": entry("bad id/../x"),
        "thread_nodata": {"chat_name": "no data", "last_update": T0},
        "thread_wrongtype": {"data": "not an object"},
        "thread_badtime": entry("thread_badtime", created_at="yesterday"),
        "thread_badmsg": entry("thread_badmsg", messages=[{"role": "system"}]),
        "thread_notime": {"data": {"id": "thread_notime"}},
    }
    write_old(source, "alice.json", alice)
    c.expected.update(
        {("alice", "thread_a1"): 4, ("alice", "thread_a2"): 0, ("alice", "thread_a3"): 1}
    )
    c.expected[("alice", "thread_a4")] = 0
    for tid in (
        "thread_shared",
        "bad id/../x",
        "thread_nodata",
        "thread_wrongtype",
        "thread_badtime",
        "thread_badmsg",
        "thread_notime",
    ):
        c.skipped_threads.add(("alice.json", tid))
    write_old(
        source,
        "dave.json",
        {"thread_shared": entry("thread_shared"), "thread_d1": entry("thread_d1")},
    )
    c.expected[("dave", "thread_d1")] = 0
    c.skipped_threads.add(("dave.json", "thread_shared"))
    write_old(source, "bob_2.json", {f"thread_b{i}": entry(f"thread_b{i}") for i in range(5)})
    c.expected.update({("bob_2", f"thread_b{i}"): 0 for i in range(5)})
    write_old(source, "erin.json", {})  # a user with nothing to migrate
    # Files set aside whole.
    for name, content in {
        "José.json": {"thread_j": entry("thread_j")},
        "Alice.json": {"thread_up": entry("thread_up")},
        "zz.json": {"thread_short": entry("thread_short")},
        "emptyfile.json": b"",
        "blankfile.json": b"  \n",
        "badjson.json": b'{"thread_x": {"data": ',
        "notobject.json": b"[1, 2]",
        "latin1.json": '{"thread_l": {"data": {"created_at": 1}, "chat_name": "caf\xe9"}}'.encode(
            "latin-1"
        ),
    }.items():
        write_old(source, name, content)
        c.skipped_files.add(name)
    (source / "README.txt").write_text("not a chat file")
    return c


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    """The mixed corpus under `tmp_path/static/chats`."""
    return build_mixed_corpus(tmp_path / "static" / "chats")


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    """The app's data dir (not created)."""
    return tmp_path / "data"


def run_cli(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `migrate_threads.py` in a child process from the repo root."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHAT_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """The CLI runner."""
    return run_cli


def tree_bytes(root: Path, *, skip_summaries: bool = True) -> dict[str, bytes]:
    """Every file under `root` with its bytes (migration summaries left out)."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not (skip_summaries and p.name.startswith("migration-"))
    }


def tree_stat(root: Path) -> dict[str, tuple[int, int, int, int]]:
    """Inode, mtime, size and mode of every entry under `root` (and root itself)."""
    if not root.exists():
        return {}
    out = {}
    for p in [root, *sorted(root.rglob("*"))]:
        st = p.lstat()
        out[str(p.relative_to(root))] = (st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode)
    return out


def tree_checksum(root: Path) -> str:
    """One sha256 over names, modes, mtimes and bytes of the whole tree."""
    digest = hashlib.sha256()
    for name, stat in tree_stat(root).items():
        digest.update(f"{name}\0{stat[1:]}\0".encode())
        path = root / name
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def conversations(dest: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Every conversation file under `dest`, parsed, keyed by (user, id)."""
    out = {}
    if not dest.exists():
        return out
    for user in sorted(p for p in dest.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(user.glob("*.json")):
            if not path.name.startswith("."):
                out[(user.name, path.stem)] = json.loads(path.read_bytes())
    return out
