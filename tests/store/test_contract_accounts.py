"""The contract of the accounts, sessions, login-attempt, secret-key and share records, per backend.

Backend-neutral: the tests see only the Protocols of `conversation_manager.store` and the harness
(build, make busy, make the disk full). A PostgreSQL harness joins by adding a class and a name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import filelock
import pytest

from conversation_manager import InvalidId, StorageBusy, StorageFull
from conversation_manager.json.accounts import (
    THROTTLE_LOCK_STRIPES,
    JsonAccountRecords,
    JsonLoginAttempts,
    JsonSecretKey,
)
from conversation_manager.json.sessions import JsonSessionRecords
from conversation_manager.json.shares import JsonShareRecords
from conversation_manager.store import (
    AccountRecord,
    AccountRecords,
    Attempt,
    LoginAttemptRecords,
    SecretKeyRecord,
    SessionRecord,
    SessionRecords,
    ShareRecord,
    ShareRecords,
)

LOCK_TIMEOUT = 0.3
KEY_A, KEY_B, KEY_C = "a" * 64, "b" * 64, "c" * 64
DIGEST_1, DIGEST_2, DIGEST_3 = "1" * 64, "2" * 64, "3" * 64


class Harness(Protocol):
    accounts: AccountRecords
    sessions: SessionRecords
    attempts: LoginAttemptRecords
    secret: SecretKeyRecord
    shares: ShareRecords

    def busy(self) -> contextlib.AbstractContextManager[None]:
        """Hold every lock these records take, elsewhere, for the block."""
        ...

    def disk_full(self) -> contextlib.AbstractContextManager[None]:
        """Make every write fail for lack of space during the block."""
        ...


class JsonHarness:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.data_dir = tmp_path / "data"
        self.data_dir.mkdir()
        self.accounts = JsonAccountRecords(self.data_dir, lock_timeout=LOCK_TIMEOUT)
        self.sessions = JsonSessionRecords(self.data_dir, lock_timeout=LOCK_TIMEOUT)
        self.attempts = JsonLoginAttempts(self.data_dir, lock_timeout=LOCK_TIMEOUT)
        self.secret = JsonSecretKey(self.data_dir)
        self.shares = JsonShareRecords(self.data_dir, lock_timeout=LOCK_TIMEOUT)
        self._monkeypatch = monkeypatch

    def _lock_files(self) -> list[str]:
        app = self.data_dir / ".app"
        files = [app / "users" / ".create.lock", app / "sessions" / ".sessions.lock"]
        files += [app / "users" / f"{n}.json.lock" for n in ("alice", "bob")]
        files += [app / "shares" / ".by-owner" / f"{n}.json.lock" for n in ("alice", "bob")]
        files += [app / "throttle" / f".stripe-{i:02x}.lock" for i in range(THROTTLE_LOCK_STRIPES)]
        return [str(f) for f in files]

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        held, done = threading.Event(), threading.Event()

        def hold() -> None:
            # Another thread's objects: their own descriptors, so flock excludes the records'.
            with contextlib.ExitStack() as stack:
                for path in self._lock_files():
                    stack.enter_context(filelock.FileLock(path))
                held.set()
                done.wait(30)

        thread = threading.Thread(target=hold)
        thread.start()
        try:
            assert held.wait(10)
            yield
        finally:
            done.set()
            thread.join(10)

    @contextlib.contextmanager
    def disk_full(self) -> Iterator[None]:
        def fail(*_: object) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        with self._monkeypatch.context() as m:
            m.setattr(os, "write", fail)
            m.setattr(os, "fsync", fail)
            yield


HARNESSES = {"json": JsonHarness}


@pytest.fixture(params=["json"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Harness:
    return HARNESSES[request.param](tmp_path, monkeypatch)


def account(name: str = "alice", password_hash: str = "$argon2id$x") -> AccountRecord:  # noqa: S107
    return AccountRecord(name, password_hash, 1000.0, 1000.0)


def session(user: str = "alice", *, expires: float = 9e9, last_seen: float = 1000.0) -> Any:
    return SessionRecord(user=user, created=1000.0, expires=expires, last_seen=last_seen)


def share(digest: str = DIGEST_1, owner: str = "alice", cid: str = "c_1") -> ShareRecord:
    snapshot = {"chat_name": "Trip", "messages": [{"role": "user", "text": "hi", "timestamp": 1.0}]}
    return ShareRecord(digest, owner, cid, 1000.0, None, snapshot)


def attempts_of(backend: Harness, key: str) -> list[Attempt]:
    seen: list[list[Attempt]] = []

    def keep(entries: list[Attempt]) -> list[Attempt]:
        seen.append(list(entries))
        return entries

    backend.attempts.update(key, keep)
    return seen[0]


# --- accounts ---------------------------------------------------------------------------------


def test_accounts_create_get_names_any(backend: Harness) -> None:
    assert not backend.accounts.any() and backend.accounts.names() == []
    assert backend.accounts.get("alice") is None
    assert backend.accounts.create(account("bob")) == "created"
    assert backend.accounts.create(account("alice")) == "created"
    assert backend.accounts.create(account("alice", "$other")) == "taken"
    assert backend.accounts.get("alice") == account("alice")
    assert backend.accounts.names() == ["alice", "bob"]
    assert backend.accounts.any()


def test_accounts_create_only_if_none(backend: Harness) -> None:
    assert backend.accounts.create(account("alice"), only_if_none=True) == "created"
    assert backend.accounts.create(account("bob"), only_if_none=True) == "closed"
    assert backend.accounts.create(account("alice"), only_if_none=True) == "closed"
    assert backend.accounts.names() == ["alice"]


def test_accounts_only_if_none_has_one_winner_among_threads(backend: Harness) -> None:
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def create(i: int) -> None:
        barrier.wait(10)
        for _ in range(100):  # a busy lock is retried: the point is the single winner
            with contextlib.suppress(StorageBusy):
                outcomes.append(backend.accounts.create(account(f"user{i}"), only_if_none=True))
                return

    threads = [threading.Thread(target=create, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["closed"] * 9 + ["created"]
    assert len(backend.accounts.names()) == 1


def test_accounts_update(backend: Harness) -> None:
    backend.accounts.create(account())
    new = dataclasses.replace(account(), password_hash="$new", password_changed=2000.0)
    assert backend.accounts.update("alice", lambda r: new) == new
    assert backend.accounts.get("alice") == new
    assert backend.accounts.update("alice", lambda r: None) == new  # None keeps it as is
    assert backend.accounts.update("nobody", lambda r: new) is None
    assert backend.accounts.get("nobody") is None


@pytest.mark.parametrize("name", ["../x", "", "a/b", "ALICE", "ab", None])
def test_accounts_refuse_bad_names(backend: Harness, name: Any) -> None:
    with pytest.raises(InvalidId):
        backend.accounts.get(name)
    with pytest.raises(InvalidId):
        backend.accounts.create(account(name))
    with pytest.raises(InvalidId):
        backend.accounts.update(name, lambda r: r)


def test_accounts_busy(backend: Harness) -> None:
    backend.accounts.create(account())
    with backend.busy():
        with pytest.raises(StorageBusy):
            backend.accounts.create(account("bob"))
        with pytest.raises(StorageBusy):
            backend.accounts.update("alice", lambda r: dataclasses.replace(r, password_hash="$x"))
    assert backend.accounts.get("alice") == account()
    assert backend.accounts.names() == ["alice"]


def test_accounts_disk_full_changes_nothing(backend: Harness) -> None:
    backend.accounts.create(account())
    with backend.disk_full():
        with pytest.raises(StorageFull):
            backend.accounts.create(account("bob"))
        with pytest.raises(StorageFull):
            backend.accounts.update("alice", lambda r: dataclasses.replace(r, password_hash="$x"))
    assert backend.accounts.names() == ["alice"]
    assert backend.accounts.get("alice") == account()
    assert backend.accounts.get("bob") is None


# --- sessions ---------------------------------------------------------------------------------


def test_sessions_put_get_touch_delete(backend: Harness) -> None:
    backend.sessions.put(KEY_A, session(last_seen=1000.0))
    assert backend.sessions.get(KEY_A) == session(last_seen=1000.0)
    assert backend.sessions.get(KEY_B) is None
    backend.sessions.touch(KEY_A, 1234.5)
    got = backend.sessions.get(KEY_A)
    assert got is not None and got.last_seen == pytest.approx(1234.5)
    assert backend.sessions.delete(KEY_A) is True
    assert backend.sessions.delete(KEY_A) is False
    backend.sessions.touch(KEY_A, 2000.0)  # a touch never brings a session back
    assert backend.sessions.get(KEY_A) is None


def test_sessions_delete_user_keeps_one(backend: Harness) -> None:
    backend.sessions.put(KEY_A, session("alice"))
    backend.sessions.put(KEY_B, session("alice"))
    backend.sessions.put(KEY_C, session("bob"))
    assert backend.sessions.delete_user("alice", except_key=KEY_A) == 1
    assert backend.sessions.get(KEY_A) is not None and backend.sessions.get(KEY_B) is None
    assert backend.sessions.get(KEY_C) is not None
    assert backend.sessions.delete_user("alice") == 1
    assert backend.sessions.get(KEY_A) is None


def test_sessions_sweep(backend: Harness) -> None:
    backend.sessions.put(KEY_A, session(expires=1500.0, last_seen=1400.0))  # expired
    backend.sessions.put(KEY_B, session(expires=9e9, last_seen=1100.0))  # idle
    backend.sessions.put(KEY_C, session(expires=9e9, last_seen=1900.0))  # live
    assert backend.sessions.sweep(expires_before=2000.0, seen_before=None) == 1
    assert backend.sessions.get(KEY_B) is not None
    assert backend.sessions.sweep(expires_before=2000.0, seen_before=1500.0) == 1
    assert backend.sessions.get(KEY_C) is not None
    assert backend.sessions.get(KEY_A) is None and backend.sessions.get(KEY_B) is None


def test_sessions_refuse_bad_keys_and_users(backend: Harness) -> None:
    for key in ("", "../" + "a" * 61, "A" * 64, "a" * 63):
        with pytest.raises(InvalidId):
            backend.sessions.get(key)
    with pytest.raises(InvalidId):
        backend.sessions.put(KEY_A, session("../x"))
    with pytest.raises(InvalidId):
        backend.sessions.delete_user("../x")


def test_sessions_busy_and_full(backend: Harness) -> None:
    backend.sessions.put(KEY_A, session())
    with backend.busy():
        with pytest.raises(StorageBusy):
            backend.sessions.put(KEY_B, session())
        with pytest.raises(StorageBusy):
            backend.sessions.delete_user("alice")
        assert backend.sessions.get(KEY_A) is not None  # reads need no lock
    with backend.disk_full(), pytest.raises(StorageFull):
        backend.sessions.put(KEY_C, session())
    assert backend.sessions.get(KEY_B) is None and backend.sessions.get(KEY_C) is None
    assert backend.sessions.get(KEY_A) is not None


# --- login attempts ---------------------------------------------------------------------------


def test_attempts_update_and_sweep(backend: Harness) -> None:
    assert attempts_of(backend, "user-alice") == []
    backend.attempts.update("user-alice", lambda e: [*e, (1000.0, "n1")])
    backend.attempts.update("user-alice", lambda e: [*e, (1001.0, "n2")])
    backend.attempts.update("ip-" + "f" * 32, lambda e: [(1500.0, "n3")])
    assert attempts_of(backend, "user-alice") == [(1000.0, "n1"), (1001.0, "n2")]
    assert backend.attempts.sweep(before=1200.0) == 1
    assert attempts_of(backend, "user-alice") == []
    assert attempts_of(backend, "ip-" + "f" * 32) == [(1500.0, "n3")]
    backend.attempts.update("ip-" + "f" * 32, lambda e: [])
    assert attempts_of(backend, "ip-" + "f" * 32) == []


def test_attempts_refuse_bad_keys(backend: Harness) -> None:
    for key in ("", "../x", "user-../x", "alice"):
        with pytest.raises(InvalidId):
            backend.attempts.update(key, lambda e: e)


def test_attempts_busy_and_full(backend: Harness) -> None:
    with backend.busy(), pytest.raises(StorageBusy):
        backend.attempts.update("user-alice", lambda e: [(1.0, "n")])
    with backend.disk_full(), pytest.raises(StorageFull):
        backend.attempts.update("user-alice", lambda e: [(1.0, "n")])
    assert attempts_of(backend, "user-alice") == []


# --- the secret key ---------------------------------------------------------------------------


def test_secret_key_is_made_once(backend: Harness) -> None:
    first = backend.secret.get_or_create(b"k" * 64)
    assert first == b"k" * 64
    assert backend.secret.get_or_create(b"z" * 64) == first


def test_secret_key_disk_full(backend: Harness) -> None:
    with backend.disk_full(), pytest.raises(StorageFull):
        backend.secret.get_or_create(b"k" * 64)
    assert backend.secret.get_or_create(b"z" * 64) == b"z" * 64


# --- shares -----------------------------------------------------------------------------------


def test_shares_put_get_list_delete(backend: Harness) -> None:
    backend.shares.put(share(DIGEST_1, "alice", "c_1"))
    backend.shares.put(share(DIGEST_2, "alice", "c_2"))
    backend.shares.put(share(DIGEST_3, "bob", "c_1"))
    assert backend.shares.get(DIGEST_1) == share(DIGEST_1, "alice", "c_1")
    assert backend.shares.get("9" * 64) is None
    assert backend.shares.get("../x") is None
    assert sorted(s.digest for s in backend.shares.of_owner("alice")) == [DIGEST_1, DIGEST_2]
    summary = next(s for s in backend.shares.of_owner("alice") if s.digest == DIGEST_1)
    assert (summary.conversation_id, summary.chat_name, summary.created) == ("c_1", "Trip", 1000.0)
    assert backend.shares.delete("bob", DIGEST_1) is False  # not bob's
    assert backend.shares.get(DIGEST_1) is not None
    assert backend.shares.delete("alice", DIGEST_1) is True
    assert backend.shares.delete("alice", DIGEST_1) is False
    assert backend.shares.get(DIGEST_1) is None
    assert backend.shares.delete_conversation("alice", "c_2") == 1
    assert backend.shares.of_owner("alice") == []
    assert [s.digest for s in backend.shares.of_owner("bob")] == [DIGEST_3]


def test_shares_refuse_bad_owners(backend: Harness) -> None:
    with pytest.raises(InvalidId):
        backend.shares.of_owner("../x")
    with pytest.raises(InvalidId):
        backend.shares.put(share(owner="../x"))


def test_shares_busy_and_full(backend: Harness) -> None:
    backend.shares.put(share(DIGEST_1))
    with backend.busy():
        with pytest.raises(StorageBusy):
            backend.shares.put(share(DIGEST_2))
        with pytest.raises(StorageBusy):
            backend.shares.delete("alice", DIGEST_1)
    with backend.disk_full(), pytest.raises(StorageFull):
        backend.shares.put(share(DIGEST_3))
    assert backend.shares.get(DIGEST_2) is None and backend.shares.get(DIGEST_3) is None
    assert [s.digest for s in backend.shares.of_owner("alice")] == [DIGEST_1]
    assert backend.shares.get(DIGEST_1) is not None
