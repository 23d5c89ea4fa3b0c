"""A full disk is `StorageFull` (HTTP 507) for login, a failed login, sign-up, a share and a
password change, and a failed sign-up never leaves its account behind (issue 10, item 7)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from app.accounts import AccountStore, SessionStore, StorageFull
from app.shares import ShareStore

PASSWORD = "correct horse battery"
NEW_PASSWORD = "another long passphrase"
SNAPSHOT = {"chat_name": "x", "messages": [{"role": "user", "text": "hi", "timestamp": 1.0}]}


def _fail(*_: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def full_disk(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    """Make one step of every write fail with ENOSPC, as tests/store/test_enospc.py does."""
    if point == "write":
        monkeypatch.setattr(os, "write", _fail)
    elif point == "fsync":
        monkeypatch.setattr(os, "fsync", _fail)
    elif (
        point == "dir_fsync"
    ):  # everything written, only the directory entry cannot be made durable
        real = os.fsync

        def fsync(fd: int) -> None:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                _fail()
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)


POINTS = ["write", "fsync", "dir_fsync"]


@pytest.fixture
def parts(data_dir: Path, fast_hasher: PasswordHasher) -> Iterator[tuple[AccountStore, Path]]:
    sessions = SessionStore(data_dir)
    yield AccountStore(data_dir, hasher=fast_hasher, sessions=sessions), data_dir


def files(data_dir: Path, sub: str) -> list[str]:
    return sorted(
        p.name for p in (data_dir / ".app" / sub).iterdir() if not p.name.endswith(".lock")
    )


@pytest.mark.parametrize("point", POINTS)
def test_sign_up_on_a_full_disk_leaves_no_account(
    parts: tuple[AccountStore, Path], monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    store, data_dir = parts
    with monkeypatch.context() as m:
        full_disk(m, point)
        with pytest.raises(StorageFull):
            store.sign_up("alice", PASSWORD, only_if_none=True)
        with pytest.raises(StorageFull):
            store.create_user("bob", PASSWORD)
    assert store.list_users() == []
    assert not store.exists("alice")
    assert files(data_dir, "users") == [] and files(data_dir, "sessions") == []
    # Once there is room again, the same sign-up works: nothing half-made is in the way.
    sid = store.sign_up("alice", PASSWORD, only_if_none=True)
    assert store.sessions.lookup(sid) == "alice"


def test_sign_up_whose_account_cannot_be_published_leaves_no_session(
    parts: tuple[AccountStore, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, data_dir = parts
    real_link = os.link

    def link(src: object, dst: object, **kw: object) -> None:
        if "users" in os.fspath(dst):  # type: ignore[arg-type]
            _fail()
        real_link(src, dst, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "link", link)
    with pytest.raises(StorageFull):
        store.sign_up("alice", PASSWORD)
    assert store.list_users() == [] and files(data_dir, "sessions") == []


@pytest.mark.parametrize("point", ["write", "fsync"])
def test_login_and_failed_login_on_a_full_disk(
    parts: tuple[AccountStore, Path], monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    store, data_dir = parts
    store.create_user("alice", PASSWORD)
    with monkeypatch.context() as m:
        full_disk(m, point)
        if point == "write":  # the throttle write is not fsynced: only a failed write hits it
            with pytest.raises(StorageFull):
                store.verify("alice", "wrong password!", ip="10.0.0.1")
            with pytest.raises(StorageFull):
                store.verify("nobody", "wrong password!", ip="10.0.0.1")
        with pytest.raises(StorageFull):
            store.sessions.create("alice")  # the session a login starts
    assert files(data_dir, "sessions") == []
    assert store.verify("alice", PASSWORD, ip="10.0.0.1")


@pytest.mark.parametrize("point", POINTS)
def test_password_change_on_a_full_disk_changes_nothing(
    parts: tuple[AccountStore, Path], monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    store, _ = parts
    store.create_user("alice", PASSWORD)
    mine, other = store.sessions.create("alice"), store.sessions.create("alice")
    with monkeypatch.context() as m:
        full_disk(m, point)
        with pytest.raises(StorageFull):
            store.change_password("alice", PASSWORD, NEW_PASSWORD, keep_session_id=mine)
        with pytest.raises(StorageFull):
            store.reset_password("alice", NEW_PASSWORD)
    assert store.verify("alice", PASSWORD, ip=None)
    assert not store.verify("alice", NEW_PASSWORD, ip=None)
    assert store.sessions.lookup(other) == "alice"


@pytest.mark.parametrize("point", POINTS)
def test_share_on_a_full_disk(data_dir: Path, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    shares = ShareStore(data_dir)
    kept = shares.create("alice", "c_1", SNAPSHOT)
    with monkeypatch.context() as m:
        full_disk(m, point)
        with pytest.raises(StorageFull):
            shares.create("alice", "c_2", SNAPSHOT)
    assert [s.conversation_id for s in shares.list("alice")] == ["c_1"]
    assert shares.get(kept) is not None
    assert len(files(data_dir, "shares")) == 2  # the kept share and the owners' index dir


def test_a_full_disk_at_first_run_still_makes_the_secret_key_later(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.accounts import load_or_create_secret_key

    with monkeypatch.context() as m:
        full_disk(m, "write")
        with pytest.raises(StorageFull):
            load_or_create_secret_key(data_dir)
    assert len(load_or_create_secret_key(data_dir)) >= 32
