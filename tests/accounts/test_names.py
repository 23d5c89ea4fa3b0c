"""New accounts take the new name pattern (no leading `-` or `_`: `-rf`, `--help`); accounts made
earlier under the old pattern keep working everywhere (login, sessions, password changes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher

import conversation_manager as cm
from app.accounts import AccountStore, InvalidUsername, SessionStore
from conversation_manager.json.accounts import JsonAccountRecords
from conversation_manager.store import AccountRecord

PASSWORD = "correct horse battery"
NEW_PASSWORD = "another long passphrase"
OLD_STYLE = ["-rf", "--help", "-x-", "_under", "__init__"]


@pytest.mark.parametrize("name", OLD_STYLE)
def test_new_accounts_refuse_a_leading_dash_or_underscore(
    name: str, data_dir: Path, fast_hasher: PasswordHasher
) -> None:
    store = AccountStore(data_dir, hasher=fast_hasher)
    with pytest.raises(InvalidUsername) as info:
        store.create_user(name, PASSWORD)
    assert isinstance(info.value, cm.InvalidId)  # one error for a bad name, whoever raises it
    with pytest.raises(InvalidUsername):
        store.create_user(name, PASSWORD, only_if_none=True)
    with pytest.raises(InvalidUsername):
        store.sign_up(name, PASSWORD)
    assert store.list_users() == []
    assert list((data_dir / ".app" / "sessions").iterdir()) == []


@pytest.mark.parametrize("name", OLD_STYLE)
def test_accounts_made_earlier_keep_working(
    name: str, data_dir: Path, fast_hasher: PasswordHasher
) -> None:
    JsonAccountRecords(data_dir).create(AccountRecord(name, fast_hasher.hash(PASSWORD), 1.0, 1.0))
    sessions = SessionStore(data_dir)
    store = AccountStore(data_dir, hasher=fast_hasher, sessions=sessions)
    assert store.list_users() == [name] and store.exists(name)
    assert store.verify(name, PASSWORD, ip="10.0.0.1")
    sid = sessions.create(name)
    assert sessions.lookup(sid) == name
    store.change_password(name, PASSWORD, NEW_PASSWORD, keep_session_id=sid)
    assert store.verify(name, NEW_PASSWORD, ip=None)
    store.reset_password(name, PASSWORD)
    assert sessions.lookup(sid) is None
    assert store.verify(name, PASSWORD, ip=None)


def test_names_that_start_with_a_letter_or_digit_are_fine(
    data_dir: Path, fast_hasher: PasswordHasher
) -> None:
    store = AccountStore(data_dir, hasher=fast_hasher)
    for name in ("abc", "0day", "a-b_c", "z" * 32):
        store.create_user(name, PASSWORD)
    assert store.list_users() == sorted(["abc", "0day", "a-b_c", "z" * 32])
    with pytest.raises(InvalidUsername):
        store.create_user("z" * 33, PASSWORD)
