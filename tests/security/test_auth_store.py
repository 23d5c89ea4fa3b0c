"""Accounts, password hashing, throttling, sessions, the secret key (S2-S4, S11, S17, S18)."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import statistics
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher

import conversation_manager as cm
from app import accounts as auth
from app import ledger, limits, shares
from app.accounts import (
    AccountStore,
    InvalidCredentials,
    InvalidUsername,
    NameTaken,
    SessionStore,
    Throttled,
    WeakPassword,
)
from conversation_manager.json.limits import JsonLimitRecords
from tests.security.conftest import wait_until

PASSWORD = "correct horse battery"
OTHER_PASSWORD = "another long passphrase"

TRAVERSAL_NAMES = [
    "../x",
    "..",
    ".",
    "",
    "/etc/passwd",
    "a/b",
    "a\\..\\b",
    "%2e%2e",
    "\x00",
    "abc\x00",
    "a" * 300,
    "a" * 33,
    "ab",
    "CON",
    "alice.",
    "alice ",
    " alice",
    "alice\n",
    "ALICE",
    "Alice",
    "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth "alice" (NFKC folds it to ASCII: still refused)
    "alic\u0435",  # Cyrillic e
    ".app",
    "~alice",
    "ali ce",
    None,
    42,
]


# --- process workers (top level, so spawn can import them) -----------------------------------


def _fail_logins(start, data_dir: str, names: list[str], ip: str) -> list[str]:
    store = AccountStore(data_dir)
    wait_until(start)
    out = []
    for name in names:
        try:
            out.append("ok" if store.verify(name, "wrong password!", ip=ip) else "fail")
        except Throttled:
            out.append("throttled")
    return out


def _revoke(start, data_dir: str, session_id: str) -> None:
    wait_until(start)
    SessionStore(data_dir).revoke(session_id)


def _revoke_all(start, data_dir: str, user: str, keep: str) -> int:
    wait_until(start)
    return SessionStore(data_dir).revoke_all(user, except_session_id=keep)


def _secret_key(start, data_dir: str) -> bytes:
    wait_until(start)
    return auth.load_or_create_secret_key(data_dir)


def _signup(start, data_dir: str, password: str) -> str:
    store = AccountStore(data_dir)
    wait_until(start)
    try:
        store.create_user("first", password)
    except NameTaken:
        return "taken"
    return "created"


def _stored_hash(data_dir: Path, name: str) -> str:
    import json

    return json.loads((data_dir / ".app" / "users" / f"{name}.json").read_text())["password_hash"]


# --- accounts and hashing (S17) ---------------------------------------------------------------


def test_stored_hash_is_argon2id_at_owasp_parameters(data_dir: Path) -> None:
    store = AccountStore(data_dir)
    store.create_user("alice", PASSWORD)
    stored = _stored_hash(data_dir, "alice")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in (data_dir / ".app" / "users" / "alice.json").read_text()
    mode = stat.S_IMODE((data_dir / ".app" / "users" / "alice.json").stat().st_mode)
    assert mode == 0o600


def test_create_user_errors_and_listing(data_dir: Path) -> None:
    store = AccountStore(data_dir)
    assert not store.has_users()
    with pytest.raises(WeakPassword):
        store.create_user("alice", "x" * 11)
    assert not store.has_users()
    store.create_user("alice", "x" * 12)
    with pytest.raises(NameTaken):
        store.create_user("alice", PASSWORD)
    store.create_user("bob_2-x", PASSWORD)
    assert store.has_users()
    assert store.list_users() == ["alice", "bob_2-x"]
    assert store.verify("alice", "x" * 12, ip="10.0.0.1")


def test_first_signup_race_has_one_winner(data_dir: Path, run_processes) -> None:
    results = run_processes(_signup, [(str(data_dir), f"password number {i}") for i in range(4)])
    assert sorted(results) == ["created", "taken", "taken", "taken"]
    assert AccountStore(data_dir).list_users() == ["first"]


def test_old_parameter_hash_is_upgraded_on_login(data_dir: Path) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    AccountStore(data_dir, hasher=weak).create_user("alice", PASSWORD)
    assert _stored_hash(data_dir, "alice").startswith("$argon2id$v=19$m=8192,t=1,p=1$")

    store = AccountStore(data_dir)
    assert not store.verify("alice", "wrong password!", ip=None)
    assert _stored_hash(data_dir, "alice").startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert store.verify("alice", PASSWORD, ip=None)
    assert _stored_hash(data_dir, "alice").startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert store.verify("alice", PASSWORD, ip=None)


def test_unknown_user_and_wrong_password_fail_alike_and_take_similar_time(data_dir: Path) -> None:
    store = AccountStore(data_dir, max_failures_per_account=1000, max_failures_per_address=1000)
    store.create_user("alice", PASSWORD)

    def timed(name: str) -> float:
        start = time.perf_counter()
        assert store.verify(name, "wrong password!", ip="10.0.0.9") is False
        return time.perf_counter() - start

    timed("alice")  # warm-up
    wrong, unknown, invalid = [], [], []
    for _ in range(10):
        wrong.append(timed("alice"))
        unknown.append(timed("nobody"))
        invalid.append(timed("../etc"))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 <= ratio <= 2, ratio
    ratio_invalid = statistics.median(invalid) / statistics.median(wrong)
    assert 0.5 <= ratio_invalid <= 2, ratio_invalid

    # The same failure for every cause, also where an exception carries it.
    errors = []
    for name in ("alice", "nobody", "../etc"):
        with pytest.raises(InvalidCredentials) as info:
            store.change_password(name, "wrong password!", OTHER_PASSWORD, keep_session_id=None)
        errors.append((type(info.value), str(info.value)))
    assert len(set(errors)) == 1


# --- throttling (S17) -------------------------------------------------------------------------


def test_account_throttled_after_failures_across_processes(data_dir: Path, run_processes) -> None:
    AccountStore(data_dir).create_user("alice", PASSWORD)
    # 3 + 2 failures from two processes and two addresses: the account limit (5) is shared.
    results = run_processes(
        _fail_logins,
        [(str(data_dir), ["alice"] * 3, "10.0.0.1"), (str(data_dir), ["alice"] * 2, "10.0.0.2")],
    )
    assert sorted(r for part in results for r in part) == ["fail"] * 5
    store = AccountStore(data_dir)
    with pytest.raises(Throttled) as info:
        store.verify("alice", PASSWORD, ip="10.0.0.3")  # even the right password is not checked
    assert 0 < info.value.retry_after <= auth.DEFAULT_FAILURE_WINDOW
    # Another account from the same addresses is not affected.
    store.create_user("bob", PASSWORD)
    assert store.verify("bob", PASSWORD, ip="10.0.0.1")


def test_address_throttled_after_failures_across_processes(data_dir: Path, run_processes) -> None:
    store = AccountStore(data_dir)
    store.create_user("alice", PASSWORD)
    names = [f"user{i:02d}" for i in range(20)]  # one failure per name: only the address adds up
    results = run_processes(
        _fail_logins,
        [(str(data_dir), names[:10], "203.0.113.7"), (str(data_dir), names[10:], "203.0.113.7")],
    )
    assert sorted(r for part in results for r in part) == ["fail"] * 20
    with pytest.raises(Throttled):
        store.verify("alice", PASSWORD, ip="203.0.113.7")
    with pytest.raises(Throttled):
        store.verify("../bad", PASSWORD, ip="203.0.113.7")
    assert store.verify("alice", PASSWORD, ip="198.51.100.1")


def test_success_resets_account_and_window_slides(data_dir: Path) -> None:
    store = AccountStore(data_dir, max_failures_per_account=3, failure_window_seconds=0.5)
    store.create_user("alice", PASSWORD)
    for _ in range(2):
        assert not store.verify("alice", "wrong password!", ip="10.0.0.1")
    assert store.verify("alice", PASSWORD, ip="10.0.0.1")
    for _ in range(3):
        assert not store.verify("alice", "wrong password!", ip="10.0.0.1")
    with pytest.raises(Throttled):
        store.verify("alice", PASSWORD, ip="10.0.0.1")
    time.sleep(0.6)
    assert store.verify("alice", PASSWORD, ip="10.0.0.1")
    store.sweep()


# --- sessions (S2-S4) -------------------------------------------------------------------------


def test_session_create_lookup_and_only_hash_stored(data_dir: Path) -> None:
    sessions = SessionStore(data_dir, 3600)
    sid = sessions.create("alice")
    assert len(sid) == 43
    assert sessions.lookup(sid) == "alice"
    assert sessions.create("alice") != sid  # a login always gets a fresh id (S2)
    digest = hashlib.sha256(sid.encode()).hexdigest()
    files = sorted(p.name for p in (data_dir / ".app" / "sessions").glob("*.json"))
    assert f"{digest}.json" in files
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert sid.encode() not in path.read_bytes()
    info = sessions.info(sid)
    assert info is not None
    assert info["user"] == "alice"
    assert info["expires"] == pytest.approx(info["created"] + 3600)
    for bad in (None, "", "x" * 43, "../" + sid[3:], sid + "A", sid[:-1], 123):
        assert sessions.lookup(bad) is None


def test_revoke_from_another_process(data_dir: Path, run_processes) -> None:
    sessions = SessionStore(data_dir, 3600)
    sid = sessions.create("alice")
    run_processes(_revoke, [(str(data_dir), sid)])
    assert sessions.lookup(sid) is None  # S3: the old id no longer works anywhere


def test_revoke_all_from_another_process_keeps_one(data_dir: Path, run_processes) -> None:
    sessions = SessionStore(data_dir, 3600)
    a, b, c = (sessions.create("alice") for _ in range(3))
    bob = sessions.create("bob")
    assert run_processes(_revoke_all, [(str(data_dir), "alice", a)]) == [2]
    assert sessions.lookup(a) == "alice"
    assert sessions.lookup(b) is None
    assert sessions.lookup(c) is None
    assert sessions.lookup(bob) == "bob"


def test_expired_and_idle_sessions(data_dir: Path) -> None:
    short = SessionStore(data_dir, 0.2)
    sid = short.create("alice")
    assert short.lookup(sid) == "alice"
    idle = SessionStore(data_dir, 3600, idle_timeout_seconds=0.2)
    sid2 = idle.create("alice")
    time.sleep(0.3)
    assert short.lookup(sid) is None
    assert idle.lookup(sid2) is None
    assert SessionStore(data_dir, 3600).lookup(sid2) == "alice"  # only idle, not expired
    assert idle.sweep_expired() == 2
    assert not list((data_dir / ".app" / "sessions").glob("*.json"))


def test_password_change_ends_other_sessions(data_dir: Path) -> None:
    sessions = SessionStore(data_dir, 3600)
    store = AccountStore(data_dir, sessions=sessions)
    store.create_user("alice", PASSWORD)
    mine, other = sessions.create("alice"), sessions.create("alice")
    with pytest.raises(WeakPassword):
        store.change_password("alice", PASSWORD, "short", keep_session_id=mine)
    with pytest.raises(InvalidCredentials):
        store.change_password("alice", "wrong password!", OTHER_PASSWORD, keep_session_id=mine)
    assert sessions.lookup(other) == "alice"
    store.change_password("alice", PASSWORD, OTHER_PASSWORD, keep_session_id=mine)
    assert sessions.lookup(mine) == "alice"
    assert sessions.lookup(other) is None  # S4
    assert not store.verify("alice", PASSWORD, ip=None)
    assert store.verify("alice", OTHER_PASSWORD, ip=None)
    store.reset_password("alice", PASSWORD)
    assert sessions.lookup(mine) is None
    assert store.verify("alice", PASSWORD, ip=None)


# --- secret key (S18) -------------------------------------------------------------------------


def test_secret_key_created_once_by_racing_processes(data_dir: Path, run_processes) -> None:
    keys = run_processes(_secret_key, [(str(data_dir),)] * 4)
    assert len(set(keys)) == 1
    assert len(keys[0]) >= 32
    path = data_dir / ".app" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.load_or_create_secret_key(data_dir) == keys[0]
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


# --- user names (S11) and secrets in logs (S13) -----------------------------------------------


def _snapshot(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if ".app/throttle" not in str(p)  # failed logins are counted per address
    }


@pytest.mark.parametrize("name", TRAVERSAL_NAMES, ids=repr)
def test_user_names_outside_the_pattern_are_refused_everywhere(data_dir: Path, name) -> None:
    store = AccountStore(data_dir)
    store.create_user("alice", PASSWORD)
    sessions = SessionStore(data_dir, 3600)
    records = JsonLimitRecords(data_dir)
    turn_limits = limits.TurnLimits(
        records,
        turns_per_minute=5,
        concurrent_turns=2,
        budget_limit=1.0,
        budget_unit="usd",
        budget_period="day",
    )
    spend = ledger.Ledger(records)
    share_store = shares.ShareStore(data_dir)
    root = data_dir.parent
    before = _snapshot(root)

    with pytest.raises(InvalidUsername):
        store.create_user(name, PASSWORD)
    assert store.verify(name, PASSWORD, ip="10.0.0.1") is False
    assert not store.exists(name)
    with pytest.raises(InvalidUsername):
        sessions.create(name)
    with pytest.raises(InvalidUsername):
        sessions.revoke_all(name)
    # Limits check names with the one rule too; InvalidUsername is a cm.InvalidId.
    with pytest.raises(cm.InvalidId):
        turn_limits.precheck(name)
    with pytest.raises(cm.InvalidId):
        turn_limits.admit(name, estimated_tokens=1, estimated_cost_usd=0.01)
    with pytest.raises(cm.InvalidId):
        turn_limits.spent(name, period="day")
    with pytest.raises(cm.InvalidId):
        spend.record(name, cost_usd=1.0, tokens=1)
    with pytest.raises(InvalidUsername):
        share_store.create(name, "c_1", {"chat_name": "x", "messages": []})
    with pytest.raises(InvalidUsername):
        share_store.list(name)

    assert _snapshot(root) == before
    assert store.list_users() == ["alice"]


def test_no_password_or_session_id_in_logs(data_dir: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sessions = SessionStore(data_dir, 3600)
    store = AccountStore(data_dir, sessions=sessions)
    store.create_user("alice", PASSWORD)
    store.verify("alice", "wrong password!", ip="10.0.0.1")
    store.verify("alice", PASSWORD, ip="10.0.0.1")
    sid = sessions.create("alice")
    sessions.lookup(sid)
    store.change_password("alice", PASSWORD, OTHER_PASSWORD, keep_session_id=sid)
    sessions.revoke(sid)
    key = auth.load_or_create_secret_key(data_dir)
    text = caplog.text
    assert caplog.records
    for secret in (PASSWORD, OTHER_PASSWORD, "wrong password!", sid, sid[:12], key.hex()[:16]):
        assert secret not in text


def test_session_and_account_files_are_private(data_dir: Path) -> None:
    SessionStore(data_dir, 60).create("alice")
    AccountStore(data_dir).create_user("alice", PASSWORD)
    for sub in ("users", "sessions"):
        files = list((data_dir / ".app" / sub).glob("*.json"))
        assert files
        for path in files:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_damaged_session_file_is_no_session(data_dir: Path) -> None:
    sessions = SessionStore(data_dir, 3600)
    sid = sessions.create("alice")
    path = data_dir / ".app" / "sessions" / f"{hashlib.sha256(sid.encode()).hexdigest()}.json"
    for junk in ("{not json", "[]", '{"user": "alice", "expires": "never"}', '{"expires": 9e99}'):
        path.write_text(junk)
        assert sessions.lookup(sid) is None
    assert sessions.sweep_expired() == 1
    assert not path.exists()
