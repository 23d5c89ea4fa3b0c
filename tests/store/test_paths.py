"""Validation corpus for user names and ids, path confinement, and symlinks never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversation_manager import (
    HistoryUnavailable,
    InvalidId,
    JsonConversationStore,
    StorageError,
    names,
    validate_conversation_id,
    validate_user,
)
from conversation_manager.json.layout import user_dir

from .conftest import STOPPED, USER, new_conversation, snapshot

BAD_NAMES = [
    "../x",
    "..",
    ".",
    "",
    "/etc/passwd",
    "a/b",
    "a\\..\\b",
    "%2e%2e",
    "abc\x00",
    "\x00",
    "a" * 300,
    "ALICE",
    "alice.",
    "alice ",
    "alice\n",
    "alice\r\n",
    " alice",
    "\u0430lice",
    "ali\u0441e",
    "\uff41lice",
    "alic\u212a",
    "\uff41\uff4c\uff49\uff43\uff45",
    "alice\u200b",
    "ali ce",
    "-" * 33,
    "al",
    "../../etc",
    "alice/..",
    "~root",
    "$HOME",
]
BAD_IDS = [
    "../x",
    "..",
    ".",
    "",
    "/etc/passwd",
    "a/b",
    "a\\..\\b",
    "%2e%2e",
    "\x00",
    "c\x00",
    "a" * 65,
    "a" * 300,
    "c_1.",
    "c_1 ",
    "c_1\n",
    "c_\u0430",
    "\uff43_1",
    "c_1\u200b",
    ".hidden",
    "c.json",
    "c_1/..",
    "~",
    "c:1",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_user_names_refused(name: str, store: JsonConversationStore, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    with pytest.raises(InvalidId):
        validate_user(name)
    with pytest.raises(InvalidId):
        user_dir(store.data_dir, name)
    calls = [
        lambda: store.create(name, chat_name="x", model="m", provider="p", instructions=""),
        lambda: store.get(name, "c_1"),
        lambda: store.list(name),
        lambda: store.rename(name, "c_1", "x"),
        lambda: store.delete(name, "c_1"),
        lambda: store.begin_turn(
            name, "c_1", text="x", parent_id=None, model="m", provider="p", context_mode="first"
        ),
    ]
    for call in calls:
        with pytest.raises(InvalidId):
            call()
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("cid", BAD_IDS)
def test_bad_conversation_ids_refused(
    cid: str, store: JsonConversationStore, tmp_path: Path
) -> None:
    new_conversation(store)
    before = snapshot(tmp_path)
    with pytest.raises(InvalidId):
        validate_conversation_id(cid)
    calls = [
        lambda: store.create(
            USER, chat_name="x", model="m", provider="p", instructions="", conversation_id=cid
        ),
        lambda: store.get(USER, cid),
        lambda: store.rename(USER, cid, "x"),
        lambda: store.delete(USER, cid),
        lambda: store.set_current(USER, cid, "root"),
        lambda: store.mark_interrupted(USER, cid, "m_1", "", message=STOPPED),
        lambda: store.finish_assistant_message(USER, cid, "m_1", text="", status="failed"),
        lambda: store.begin_turn(
            USER, cid, text="x", parent_id=None, model="m", provider="p", context_mode="first"
        ),
    ]
    for call in calls:
        with pytest.raises(InvalidId):
            call()
    assert snapshot(tmp_path) == before


@given(st.text(max_size=70))
def test_validation_matches_the_pattern_exactly(text: str) -> None:
    ok_id = len(text) in range(1, 65) and all(
        c.isascii() and (c.isalnum() or c in "_-") for c in text
    )
    try:
        validate_conversation_id(text)
        accepted = True
    except InvalidId:
        accepted = False
    assert accepted == ok_id
    ok_user = 3 <= len(text) <= 32 and all(
        c in "abcdefghijklmnopqrstuvwxyz0123456789_-" for c in text
    )
    try:
        validate_user(text)
        accepted = True
    except InvalidId:
        accepted = False
    assert accepted == ok_user


def test_good_names_accepted() -> None:
    assert validate_user("bob_smith-2") == "bob_smith-2"
    assert validate_conversation_id("thread_AbC-123") == "thread_AbC-123"
    assert validate_conversation_id("-") == "-"


def test_symlinked_user_dir_not_followed(data_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "c_1.json").write_text("{}")
    (data_dir / "mallory").symlink_to(outside, target_is_directory=True)
    store = JsonConversationStore(data_dir)
    before = snapshot(outside)
    for call in (
        lambda: store.list("mallory"),
        lambda: store.get("mallory", "c_1"),
        lambda: store.create("mallory", chat_name="x", model="m", provider="p", instructions=""),
        lambda: store.delete("mallory", "c_1"),
    ):
        with pytest.raises(StorageError):
            call()
    store.sweep()
    assert snapshot(outside) == before


def test_symlinked_conversation_file_not_followed(
    store: JsonConversationStore, data_dir: Path, tmp_path: Path
) -> None:
    real = new_conversation(store)
    target = tmp_path / "target.json"
    target.write_bytes(
        (data_dir / USER / f"{real.id}.json").read_bytes().replace(real.id.encode(), b"c_link")
    )
    before = target.read_bytes()
    (data_dir / USER / "c_link.json").symlink_to(target)
    with pytest.raises(HistoryUnavailable):
        store.get(USER, "c_link")
    listed = {s.id: s.history_available for s in store.list(USER)}
    assert listed == {real.id: True, "c_link": False}
    assert target.read_bytes() == before
    assert os.path.islink(next((data_dir / USER / ".corrupt").iterdir()))


@given(st.one_of(st.text(max_size=70), st.integers(), st.none()))
def test_predicates_agree_with_the_validators(value: object) -> None:
    for check, validate in (
        (names.is_valid_user, names.validate_user),
        (names.is_valid_new_user, names.validate_new_user),
        (names.is_valid_conversation_id, names.validate_conversation_id),
    ):
        try:
            validate(value)
            accepted = True
        except InvalidId:
            accepted = False
        assert check(value) == accepted


def test_new_accounts_may_not_start_with_a_dash_or_underscore() -> None:
    for name in ("--help", "-ab", "_ab"):
        assert names.is_valid_user(name) and not names.is_valid_new_user(name)
    assert names.validate_new_user("a-b_c") == "a-b_c"
