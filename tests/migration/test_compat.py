"""Unit tests of the old formats: times, content flattening, citation markers, entries, plans."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import compat
from tests.migration.conftest import T0, entry, write_old


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (T0, float(T0)),
        (T0 * 1000, float(T0)),  # milliseconds
        ("1700000000", float(T0)),
        ("2023-11-14T22:13:20Z", float(T0)),
        ("2023-11-14T22:13:20+00:00", float(T0)),
        ("2023-11-14T22:13:20", float(T0)),  # naive: UTC
        (None, None),
        ("", None),
    ],
)
def test_times(raw: object, expected: float | None) -> None:
    assert compat.to_unix(raw) == expected


@pytest.mark.parametrize("raw", [True, "yesterday", -1, float("nan"), [1]])
def test_bad_times(raw: object) -> None:
    with pytest.raises(ValueError):
        compat.to_unix(raw)


def test_content_flattening() -> None:
    assert compat.content_text("a【12:3†source】b") == "ab"
    assert compat.content_text([{"type": "text", "text": "x"}, "y"]) == "x\ny"
    parts = [
        {"type": "image_url", "image_url": {"url": "https://e.test/i.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "refusal", "refusal": "no"},
        {"type": "audio"},
    ]
    assert (
        compat.content_text(parts) == "[image: https://e.test/i.png]\n[image]\nno\n[audio omitted]"
    )
    path_note = {
        "type": "text",
        "text": {
            "value": "see sandbox:/mnt/data/a.csv",
            "annotations": [
                {
                    "type": "file_path",
                    "text": "sandbox:/mnt/data/a.csv",
                    "file_path": {"file_id": "f-1"},
                }
            ],
        },
    }
    assert compat.content_text([path_note]) == "see [file: f-1]"


def test_old_message_shapes() -> None:
    assert compat.OldMessage.model_validate({"role": "User", "text": "hi"}).role == "user"
    msg = compat.OldMessage.model_validate({"role": "assistant", "content": "ok", "created_at": T0})
    assert (msg.text, msg.timestamp) == ("ok", T0)
    for bad in (
        {"role": "system", "text": "x"},
        {"role": "user"},
        {"role": "user", "text": 3},
        "x",
    ):
        with pytest.raises(ValidationError):
            compat.OldMessage.model_validate(bad)


def test_entry_strict_where_no_default() -> None:
    compat.OldEntry.model_validate({"data": {}})
    for bad in (
        {},
        {"data": None},
        {"data": {"object": "assistant"}},
        {"data": {"metadata": []}},
        {"data": {}, "chat_name": 5},
        {"data": {}, "messages": {}},
    ):
        with pytest.raises(ValidationError):
            compat.OldEntry.model_validate(bad)


def test_read_old_file_reports_mismatched_and_repeated_ids(tmp_path: Path) -> None:
    path = write_old(tmp_path, "alice.json", b"")
    path.write_bytes(
        b'{"thread_a": {"data": {"id": "thread_b"}, "last_update": 1},'
        b' "thread_c": {"data": {"created_at": 1}}, "thread_c": {"data": {"created_at": 2}}}'
    )
    old = compat.read_old_file(path)
    assert [s.reason for s in old.skips] == ["invalid_entry"]
    assert old.duplicate_keys == {"thread_c"}


def test_plan_names_and_times() -> None:
    def plan(raw: dict) -> compat.ConversationPlan:
        record = compat.OldThreadRecord(
            "alice", "thread_1", compat.OldEntry.model_validate(raw), "a"
        )
        return compat.plan_conversation(record)

    assert plan(entry("thread_1", chat_name="  Trip  ")).chat_name == "Trip"
    named = plan(entry("thread_1", chat_name="", metadata={"title": "From metadata"}))
    assert named.chat_name == "From metadata"
    long = "word " * 30
    first = plan(entry("thread_1", chat_name=None, messages=[{"role": "user", "text": long}]))
    assert first.chat_name.endswith("…") and len(first.chat_name) <= 60
    only_update = plan({"data": {}, "last_update": "2023-11-14T22:13:20Z"})
    assert only_update.created_at == only_update.last_update == T0
    msgs = [{"role": "user", "text": "a", "timestamp": T0 + 5}, {"role": "assistant", "text": "b"}]
    p = plan({"data": {"created_at": T0}, "messages": msgs})
    assert [m["timestamp"] for m in p.messages] == [T0 + 5, T0 + 5]
    assert p.last_update == T0 + 5
    assert p.messages[1]["parent_id"] == p.messages[0]["id"]
    assert p.messages[0]["id"] == compat.message_id("thread_1", 0)  # stable across runs
    with pytest.raises(ValueError):
        plan({"data": {}})
