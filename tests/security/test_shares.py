"""Read-only share links: hashed tokens, snapshots without owner data, revocation (S16)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import pytest

from app import shares
from app.shares import InvalidShare, ShareNotFound, ShareStore
from tests.security.conftest import wait_until

SNAPSHOT = {
    "chat_name": "Trip plans",
    "owner": "alice",
    "conversation_id": "c_secret",
    "messages": [
        {
            "id": "m_1",
            "parent_id": None,
            "role": "user",
            "text": "Where to?",
            "timestamp": 1767378354.1,
            "response_id": None,
        },
        {
            "id": "m_2",
            "parent_id": "m_1",
            "role": "assistant",
            "text": "Lisbon.",
            "timestamp": 1767378360.2,
            "response_id": "resp_abc",
            "usage": {"input_tokens": 19},
            "cost_usd": 0.01,
            "metadata": {"email": "alice@example.com"},
            "request_id": "req_1",
        },
    ],
}


def _revoke(start, data_dir: str, user: str, share_id: str) -> None:
    wait_until(start)
    ShareStore(data_dir).revoke(user, share_id)


def test_only_the_hash_is_stored_and_snapshot_is_trimmed(data_dir: Path) -> None:
    store = ShareStore(data_dir)
    token = store.create("alice", "c_secret", SNAPSHOT)
    assert len(token) == 43  # token_urlsafe(32): 256 bits
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert (data_dir / ".app" / "shares" / f"{digest}.json").is_file()
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes()

    got = store.get(token)
    assert got is not None
    assert got["chat_name"] == "Trip plans"
    assert got["messages"] == [
        {"role": "user", "text": "Where to?", "timestamp": 1767378354.1},
        {"role": "assistant", "text": "Lisbon.", "timestamp": 1767378360.2},
    ]
    assert set(got) == {"chat_name", "messages", "shared_at"}
    text = json.dumps(got)
    for private in ("alice", "c_secret", "m_1", "resp_abc", "req_1", "email", "usage"):
        assert private not in text


def test_ten_thousand_tokens_do_not_collide() -> None:
    tokens = {shares.new_token() for _ in range(10_000)}
    assert len(tokens) == 10_000
    assert all(shares.is_token_shaped(t) for t in tokens)
    assert len(
        {hashlib.sha256(t.encode()).hexdigest()[: shares.SHARE_ID_CHARS] for t in tokens}
    ) == (10_000)


def test_wrong_unknown_malformed_revoked_and_expired_give_none(data_dir: Path) -> None:
    store = ShareStore(data_dir)
    token = store.create("alice", "c_1", SNAPSHOT)
    other = store.create("alice", "c_1", SNAPSHOT)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (
        flipped,
        shares.new_token(),
        "",
        None,
        7,
        token + "x",
        token[:-1],
        "../" + token[3:],
    ):
        assert store.get(bad) is None
    assert store.get(token) is not None
    store.revoke("alice", token)
    assert store.get(token) is None
    assert store.get(other) is not None
    with pytest.raises(ShareNotFound):
        store.revoke("alice", token)

    expiring = store.create("alice", "c_2", SNAPSHOT, expires_at=time.time() + 0.2)
    assert store.get(expiring) is not None
    time.sleep(0.3)
    assert store.get(expiring) is None
    assert [s.conversation_id for s in store.list("alice")] == ["c_1"]


def test_owner_lists_and_revokes_by_share_id_other_users_cannot(data_dir: Path) -> None:
    store = ShareStore(data_dir)
    t1 = store.create("alice", "c_1", SNAPSHOT)
    t2 = store.create("alice", "c_2", {"chat_name": "Other", "messages": []})
    listed = store.list("alice")
    assert [s.conversation_id for s in listed] == ["c_2", "c_1"]  # newest first
    assert [s.chat_name for s in store.list("alice", "c_1")] == ["Trip plans"]
    assert store.list("bob") == []
    share_id = store.list("alice", "c_1")[0].share_id
    assert len(share_id) == shares.SHARE_ID_CHARS
    assert share_id == hashlib.sha256(t1.encode()).hexdigest()[: shares.SHARE_ID_CHARS]

    for key in (share_id, t1, "nonsense", "../x"):
        with pytest.raises(ShareNotFound):
            store.revoke("bob", key)
    assert store.get(t1) is not None

    store.revoke("alice", share_id)
    assert store.get(t1) is None
    assert [s.conversation_id for s in store.list("alice")] == ["c_2"]
    assert store.revoke_conversation("alice", "c_2") == 1
    assert store.get(t2) is None
    assert store.list("alice") == []


def test_revocation_in_another_process_takes_effect_at_once(data_dir: Path, run_processes) -> None:
    store = ShareStore(data_dir)
    token = store.create("alice", "c_1", SNAPSHOT)
    assert store.get(token) is not None
    run_processes(_revoke, [(str(data_dir), "alice", store.list("alice")[0].share_id)])
    assert store.get(token) is None


@pytest.mark.parametrize("cid", ["", "../c", "c/1", "a" * 65, "c 1", None])
def test_bad_conversation_ids_and_snapshots_are_refused(data_dir: Path, cid) -> None:
    store = ShareStore(data_dir)
    with pytest.raises(InvalidShare):
        store.create("alice", cid, SNAPSHOT)
    assert not list((data_dir / ".app" / "shares").glob("*.json"))


def test_bad_snapshot_is_refused(data_dir: Path) -> None:
    store = ShareStore(data_dir)
    for bad in ({}, {"messages": "x"}, {"messages": [{"role": "system", "text": "x"}]}):
        with pytest.raises(InvalidShare):
            store.create("alice", "c_1", bad)


def test_tokens_never_logged(data_dir: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    store = ShareStore(data_dir)
    token = store.create("alice", "c_1", SNAPSHOT)
    store.get(token)
    store.revoke("alice", token)
    assert caplog.records
    assert token not in caplog.text
    assert token[:12] not in caplog.text
