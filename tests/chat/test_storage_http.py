"""C9 and C3 at the HTTP level: a lock not had in time is 503, a full disk is 507; nothing changes."""

from __future__ import annotations

import errno
import os
import threading
import time

import filelock

from tests.conftest import chat, login, stored


def test_c9_lock_timeout_is_503_with_retry_after_and_the_file_unchanged(make_app, data_dir):
    app = make_app(CHAT_LOCK_TIMEOUT=1.0)
    client = login(app.test_client(), app)
    cid = chat(client, message="one")[0].data["conversation_id"]
    path = data_dir / "alice" / f"{cid}.json"
    before = path.read_bytes()
    holder = filelock.FileLock(str(data_dir / "alice" / ".lock"))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder:
            held.set()
            release.wait(20)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(5)
        t0 = time.monotonic()
        busy = client.post("/chat", json={"message": "two", "conversation_id": cid})
        elapsed = time.monotonic() - t0
        assert busy.status_code == 503 and busy.get_json()["error"]["code"] == "storage_busy"
        assert int(busy.headers["Retry-After"]) >= 1
        assert 0.9 <= elapsed < 5  # waited for the lock timeout, then answered
        assert path.read_bytes() == before
    finally:
        release.set()
        thread.join(10)
    again = chat(client, message="two", conversation_id=cid)  # the lock is free again
    assert again[-1].data["status"] == "completed"


def test_c3_full_disk_on_a_turn_is_507_and_the_file_unchanged(
    client, data_dir, monkeypatch, upstream
):
    cid = chat(client, message="one")[0].data["conversation_id"]
    path = data_dir / "alice" / f"{cid}.json"
    before = path.read_bytes()
    real_fsync = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    refused = client.post("/chat", json={"message": "two", "conversation_id": cid})
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert refused.status_code == 507 and refused.get_json()["error"]["code"] == "storage_full"
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if ".tmp" in p.name]
    assert chat(client, message="two", conversation_id=cid)[-1].data["status"] == "completed"


def test_a_turn_is_one_commit_new_conversation_or_not(client, data_dir, monkeypatch):
    """Accepting a turn writes the conversation once: the user message and the `in_progress`
    reply together, with the conversation itself when it is new (API "Performance targets")."""
    from conversation_manager.json.files import ConversationFiles

    saves: list[list[tuple[str, str | None]]] = []
    real_save = ConversationFiles.save

    def save(self, udir, conv, *args, **kwargs):
        saves.append([(m.role, m.status) for m in conv.messages])
        return real_save(self, udir, conv, *args, **kwargs)

    def commits() -> list[list[tuple[str, str | None]]]:
        """The saves before the reply's final one (a title may follow it)."""
        final = next(i for i, s in enumerate(saves) if s[-1] == ("assistant", "completed"))
        return saves[:final]

    monkeypatch.setattr(ConversationFiles, "save", save)
    cid = chat(client, message="one")[0].data["conversation_id"]
    assert commits() == [[("user", None), ("assistant", "in_progress")]]
    saves.clear()
    chat(client, message="two", conversation_id=cid)
    assert [s[-2:] for s in commits()] == [[("user", None), ("assistant", "in_progress")]]
    assert [m.get("status") for m in stored(data_dir, "alice", cid)["messages"]] == [
        None,
        "completed",
        None,
        "completed",
    ]


def test_a_full_disk_on_a_new_conversation_leaves_no_conversation(client, data_dir, monkeypatch):
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    refused = client.post("/chat", json={"message": "one"})
    monkeypatch.undo()
    assert refused.status_code == 507 and refused.get_json()["error"]["code"] == "storage_full"
    assert not list((data_dir / "alice").glob("*.json"))  # no empty conversation left behind
    assert client.get("/get-all-conversations").get_json()["conversations"] == []
