"""Fixtures shared by the conversation store tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conversation_manager import Conversation, ConversationStore, JsonConversationStore

USER = "alice"
STOPPED = "stopped"  # the words of an `interrupted` error: the caller's (the app has the table)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def store(data_dir: Path) -> JsonConversationStore:
    return JsonConversationStore(data_dir, lock_timeout=5.0)


def new_conversation(store: ConversationStore, user: str = USER, **kw: object) -> Conversation:
    args: dict[str, object] = {
        "chat_name": "Test",
        "model": "gpt-test",
        "provider": "openai",
        "instructions": "Be brief.",
    }
    args.update(kw)
    return store.create(user, **args)  # type: ignore[arg-type]


def turn(
    store: ConversationStore,
    cid: str,
    text: str | None = "hello",
    parent_id: str | None = None,
    *,
    user: str = USER,
    status: str = "completed",
    response_id: str | None = "resp_x",
    usage: dict[str, int] | None = None,
    cost_usd: float | None = 0.001,
) -> tuple[str | None, str]:
    """Run one full turn; return (user message id, assistant message id)."""
    _, umsg, amsg = store.begin_turn(
        user,
        cid,
        text=text,
        parent_id=parent_id,
        model="gpt-test",
        provider="openai",
        context_mode="first",
    )
    store.finish_assistant_message(
        user,
        cid,
        amsg.id,
        text=f"answer to {text}",
        status=status,  # type: ignore[arg-type]
        response_id=response_id,
        usage=usage,
        cost_usd=cost_usd,
    )
    return (umsg.id if umsg else None), amsg.id


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes | None]]:
    """Return every path under `root` with its mode, mtime and bytes (files only)."""
    out: dict[str, tuple[int, int, bytes | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            data = None
            if os.path.isfile(path) and not os.path.islink(path):
                data = Path(path).read_bytes()
            out[os.path.relpath(path, root)] = (st.st_mode, st.st_mtime_ns, data)
    return out


def temp_files(udir: Path) -> list[str]:
    return [n for n in os.listdir(udir) if ".tmp-" in n]
