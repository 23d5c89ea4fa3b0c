"""The password rule (API.md): at least 12 characters, not all white space, no NUL or other
control character; a lone surrogate is refused, never a crash. Passwords set earlier still work."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher

from app.accounts import AccountStore, WeakPassword, check_password
from conversation_manager.json.accounts import JsonAccountRecords
from conversation_manager.store import AccountRecord

GOOD = "correct horse battery"

REFUSED = {
    "twelve spaces": (" " * 12, "blank"),
    "twelve NULs": ("\x00" * 12, "control"),
    "tabs and newlines": ("\t\n\r \t\n\r \t\n\r ", "control"),
    "unicode spaces": ("\u3000\u2003\u00a0" * 4, "blank"),
    "one NUL inside": ("long enough pass\x00word", "control"),
    "a bell": ("long enough\x07 password", "control"),
    "DEL": ("long enough\x7f password", "control"),
    "a C1 control": ("long enough\x85 password", "control"),
    "a lone surrogate": ("long enough \ud800 password", "not_text"),
    "a lone low surrogate": ("\udfff" * 12, "not_text"),
    "eleven characters": ("x" * 11, "too_short"),
    "not a string": (b"bytes are not text", "not_text"),
    "None": (None, "not_text"),
}

ACCEPTED = [
    "x" * 12,
    "spaces inside are fine",
    "  leading and trailing  ",
    "pässwörd mit ümläuten",
    "emoji \U0001f600 family \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "密码密码密码密码密码密码",
]


@pytest.mark.parametrize("case", REFUSED, ids=str)
def test_refused_with_a_reason(case: str) -> None:
    password, reason = REFUSED[case]
    with pytest.raises(WeakPassword) as info:
        check_password(password)
    assert info.value.reason == reason
    assert str(info.value)


@pytest.mark.parametrize("password", ACCEPTED)
def test_accepted(password: str) -> None:
    assert check_password(password) == password


@pytest.mark.parametrize("case", REFUSED, ids=str)
def test_every_way_to_set_a_password_uses_the_rule(
    case: str, data_dir: Path, fast_hasher: PasswordHasher
) -> None:
    password, _ = REFUSED[case]
    store = AccountStore(data_dir, hasher=fast_hasher)
    with pytest.raises(WeakPassword):
        store.create_user("alice", password)
    with pytest.raises(WeakPassword):
        store.sign_up("alice", password)
    assert store.list_users() == []
    store.create_user("alice", GOOD)
    with pytest.raises(WeakPassword):
        store.change_password("alice", GOOD, password, keep_session_id=None)
    with pytest.raises(WeakPassword):
        store.reset_password("alice", password)
    assert store.verify("alice", GOOD, ip=None)


def test_a_lone_surrogate_at_login_is_a_failed_login(
    data_dir: Path, fast_hasher: PasswordHasher
) -> None:
    store = AccountStore(data_dir, hasher=fast_hasher)
    store.create_user("alice", GOOD)
    assert store.verify("alice", "\ud800" * 12, ip="10.0.0.1") is False
    assert store.verify("nobody", "\ud800" * 12, ip="\ud800") is False
    assert store.verify("alice", GOOD, ip="10.0.0.1")


def test_a_password_set_under_the_old_rule_still_logs_in(
    data_dir: Path, fast_hasher: PasswordHasher
) -> None:
    old = " " * 12  # accepted before the rule changed
    records = JsonAccountRecords(data_dir)
    records.create(AccountRecord("alice", fast_hasher.hash(old), 1.0, 1.0))
    store = AccountStore(data_dir, hasher=fast_hasher)
    assert store.verify("alice", old, ip=None)
    store.change_password("alice", old, GOOD, keep_session_id=None)
    assert store.verify("alice", GOOD, ip=None)
    stored = records.get("alice")
    assert stored is not None and stored.password_changed > 1.0 and stored.created == 1.0
