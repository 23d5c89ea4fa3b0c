"""Only the first account may sign up while sign-up is closed, also when the sign-ups race:
10 threads, or several processes, on a fresh install make exactly one account (issue 10, item 4)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from app.accounts import AccountStore, NameTaken, SessionStore, SignupClosed
from tests.security.conftest import wait_until

PASSWORD = "correct horse battery"


def _cheap() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _first_signup(start: Any, data_dir: str, name: str) -> str:
    store = AccountStore(data_dir, hasher=_cheap())
    wait_until(start)
    try:
        sid = store.sign_up(name, PASSWORD, only_if_none=True)
    except SignupClosed:
        return "closed"
    return "created" if SessionStore(data_dir).lookup(sid) == name else "no session"


def test_ten_threads_make_one_account(data_dir: Path, fast_hasher: PasswordHasher) -> None:
    store = AccountStore(data_dir, hasher=fast_hasher)
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def signup(i: int) -> None:
        barrier.wait(10)
        try:
            store.create_user(f"user{i}", PASSWORD, only_if_none=True)
            outcomes.append("created")
        except SignupClosed:
            outcomes.append("closed")

    threads = [threading.Thread(target=signup, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["closed"] * 9 + ["created"]
    assert len(store.list_users()) == 1


def test_ten_threads_through_sign_up_make_one_account_and_one_session(
    data_dir: Path, fast_hasher: PasswordHasher
) -> None:
    sessions = SessionStore(data_dir)
    store = AccountStore(data_dir, hasher=fast_hasher, sessions=sessions)
    barrier = threading.Barrier(10)
    sids: list[str] = []
    closed: list[int] = []

    def signup(i: int) -> None:
        barrier.wait(10)
        try:
            sids.append(store.sign_up(f"user{i}", PASSWORD, only_if_none=True))
        except SignupClosed:
            closed.append(i)

    threads = [threading.Thread(target=signup, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(sids) == 1 and len(closed) == 9
    (user,) = store.list_users()
    assert sessions.lookup(sids[0]) == user
    # The losers' sessions were taken back: only the winner's is left.
    assert len(list((data_dir / ".app" / "sessions").glob("*.json"))) == 1


def test_processes_make_one_account(
    data_dir: Path, run_processes: Callable[..., list[Any]]
) -> None:
    results = run_processes(_first_signup, [(str(data_dir), f"user{i}") for i in range(6)])
    assert sorted(results) == ["closed"] * 5 + ["created"]
    assert len(AccountStore(data_dir).list_users()) == 1


def test_open_sign_up_still_makes_many(data_dir: Path, fast_hasher: PasswordHasher) -> None:
    store = AccountStore(data_dir, hasher=fast_hasher)
    store.create_user("alice", PASSWORD, only_if_none=True)
    with pytest.raises(SignupClosed):
        store.sign_up("bob", PASSWORD, only_if_none=True)
    store.sign_up("bob", PASSWORD)  # sign-up enabled: anyone may
    with pytest.raises(NameTaken):
        store.sign_up("bob", PASSWORD)
    assert store.list_users() == ["alice", "bob"]
    assert len(list((data_dir / ".app" / "sessions").glob("*.json"))) == 1
