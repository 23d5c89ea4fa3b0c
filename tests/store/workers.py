"""Code run in child processes by the crash and concurrency tests (importable under spawn)."""

from __future__ import annotations

import sys
import time

from conversation_manager import JsonConversationStore


def append_turns(data_dir: str, user: str, cid: str, writer: int, count: int) -> None:
    """Add `count` turns at the root, each begin_turn + finish, tagged with the writer."""
    # durable=False: this checks the lock, not the disk; fsyncs only slow the 480 commits down
    store = JsonConversationStore(data_dir, lock_timeout=60.0, durable=False)
    for i in range(count):
        _, _, reply = store.begin_turn(
            user,
            cid,
            text=f"w{writer}-{i}",
            parent_id=None,
            model="m",
            provider="openai",
            context_mode="first",
        )
        store.finish_assistant_message(
            user, cid, reply.id, text=f"w{writer}-{i}", status="completed", response_id=f"r{i}"
        )


def hold_lock(data_dir: str, user: str) -> None:
    """Take the user's lock, say so, and sleep until killed."""
    store = JsonConversationStore(data_dir)
    udir = store.files.find_user_dir(user, create=True)
    assert udir is not None
    with store.files.locked(udir):
        sys.stdout.write("held\n")
        sys.stdout.flush()
        time.sleep(120)


if __name__ == "__main__":
    hold_lock(sys.argv[1], sys.argv[2])
