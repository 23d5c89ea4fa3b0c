"""The attachment quota holds under concurrent uploads: the store checks it under the lock of the
write itself (`AttachmentStore.put(..., quota=)`), never against a count read before."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import conversation_manager as cm
from app.attachments.errors import AttachmentRefused
from app.attachments.service import AttachmentService, AttachmentSettings
from conversation_manager.errors import QuotaExceeded
from conversation_manager.json.attachments import JsonAttachmentStore, attachment_id

KB = 1000


def _record(data: bytes) -> cm.Attachment:
    return cm.Attachment(
        id=attachment_id(data), kind="text", name="a.txt", media_type="text/plain", bytes=len(data)
    )


def test_put_refuses_new_content_past_the_quota(tmp_path: Path):
    store = JsonAttachmentStore(tmp_path, durable=False)
    first, second = b"a" * 600, b"b" * 600
    store.put("alice", first, _record(first), quota=1000)
    with pytest.raises(QuotaExceeded):
        store.put("alice", second, _record(second), quota=1000)
    assert store.get("alice", attachment_id(second)) is None
    assert store.used_bytes("alice") == 600
    # The same content again takes nothing more: accepted even at the quota.
    store.put("alice", first, _record(first), quota=600)
    # Another user has a quota of their own.
    store.put("bobby", second, _record(second), quota=1000)


class _Gate:
    """A store whose puts all wait until every upload has reached its put: an upload's own
    checks before `put` then all see the store empty (as concurrent requests may)."""

    def __init__(self, store: JsonAttachmentStore, parties: int) -> None:
        self._store = store
        self._barrier = threading.Barrier(parties, timeout=10)

    def put(self, *args: Any, **kwargs: Any) -> cm.Attachment:
        self._barrier.wait()
        return self._store.put(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_concurrent_uploads_cannot_pass_the_quota_together(tmp_path: Path):
    store = JsonAttachmentStore(tmp_path, durable=False)
    settings = AttachmentSettings(quota_bytes=1000 * KB, unused_after=1e9, sweep_every=1e9)
    service = AttachmentService(
        _Gate(store, 8),  # type: ignore[arg-type]
        settings,
        conversations=cm.JsonConversationStore(tmp_path),
    )
    results: list[str] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        data = bytes([65 + n]) * (240 * KB)
        try:
            service.upload("alice", f"f{n}.txt", "text/plain", data)
            outcome = "stored"
        except AttachmentRefused as exc:
            outcome = exc.code
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["quota"] * 4 + ["stored"] * 4
    assert store.used_bytes("alice") == 4 * 240 * KB <= settings.quota_bytes
