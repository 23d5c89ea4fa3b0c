"""The JSON template records (conversation_manager/json/templates.py): where they live, a crashed
move, damaged files, concurrent writers, ids, and the owner rule."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import pytest

from conversation_manager import InvalidId
from conversation_manager.json.templates import JsonTemplateRecords
from conversation_manager.store import TemplateRecord


def record(
    tid: str, owner: str = "alice", *, shared: bool = False, created: float = 1.0
) -> TemplateRecord:
    return TemplateRecord(
        id=tid, owner=owner, name=f"name {tid}", instructions="i", shared=shared, created=created
    )


@pytest.fixture
def records(tmp_path: Path) -> JsonTemplateRecords:
    return JsonTemplateRecords(tmp_path, lock_timeout=5.0)


def test_private_and_shared_places(records: JsonTemplateRecords, tmp_path: Path) -> None:
    records.put(record("t_a"))
    records.put(record("t_b", shared=True, created=2.0))
    records.put(record("t_c", "bob", created=3.0))
    assert [r.id for r in records.visible("alice")] == ["t_a", "t_b"]
    assert [r.id for r in records.visible("bob")] == ["t_b", "t_c"]
    assert records.get("bob", "t_a") is None
    assert records.get("bob", "t_b") is not None
    assert "t_a" in json.loads((tmp_path / "alice" / ".templates.json").read_text())
    assert "t_b" in json.loads((tmp_path / ".app" / "templates" / "shared.json").read_text())
    # Only the owner changes or deletes; another user's attempt changes nothing.
    assert records.update("bob", "t_b", lambda r: dataclasses.replace(r, name="x")) is None
    assert records.delete("bob", "t_b") is False
    assert records.delete("bob", "t_a") is False
    assert records.get("alice", "t_b").name == "name t_b"  # type: ignore[union-attr]


def test_a_move_between_places(records: JsonTemplateRecords) -> None:
    records.put(record("t_a"))
    moved = records.update("alice", "t_a", lambda r: dataclasses.replace(r, shared=True))
    assert moved is not None and moved.shared
    assert [r.id for r in records.visible("bob")] == ["t_a"]
    back = records.update("alice", "t_a", lambda r: dataclasses.replace(r, shared=False))
    assert back is not None and not back.shared
    assert records.visible("bob") == []
    with pytest.raises(ValueError):
        records.update("alice", "t_a", lambda r: dataclasses.replace(r, owner="bob"))


def test_a_copy_left_by_a_crashed_move_is_shown_once(
    records: JsonTemplateRecords, tmp_path: Path
) -> None:
    records.put(record("t_a", shared=True))
    # As if the move to private wrote the private copy and died before removing the shared one.
    own = tmp_path / "alice" / ".templates.json"
    shared = json.loads((tmp_path / ".app" / "templates" / "shared.json").read_text())
    private = {"t_a": {**shared["t_a"], "shared": False, "name": "private copy"}}
    own.write_text(json.dumps(private))
    assert [r.name for r in records.visible("alice")] == ["name t_a"]
    assert records.delete("alice", "t_a") is True
    assert records.visible("alice") == [] and records.get("alice", "t_a") is None


def test_damaged_files_read_as_empty_and_are_replaced(
    records: JsonTemplateRecords, tmp_path: Path
) -> None:
    records.put(record("t_a"))
    (tmp_path / "alice" / ".templates.json").write_text("{not json")
    assert records.visible("alice") == []
    records.put(record("t_b"))
    assert [r.id for r in records.visible("alice")] == ["t_b"]
    (tmp_path / "alice" / ".templates.json").write_text(json.dumps({"t_c": {"owner": 3}}))
    assert records.visible("alice") == []  # a malformed entry is skipped


def test_concurrent_writers_lose_nothing(records: JsonTemplateRecords) -> None:
    def put(n: int) -> None:
        records.put(record(f"t_{n}", shared=n % 2 == 0, created=float(n)))

    threads = [threading.Thread(target=put, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(r.id for r in records.visible("alice")) == sorted(f"t_{n}" for n in range(20))


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "x" * 65, "a.b"])
def test_ids_outside_the_pattern(records: JsonTemplateRecords, bad: str) -> None:
    with pytest.raises(InvalidId):
        records.get("alice", bad)
    with pytest.raises(InvalidId):
        records.put(record(bad))


def test_a_user_without_a_directory(records: JsonTemplateRecords, tmp_path: Path) -> None:
    assert records.visible("carol") == []
    assert records.get("carol", "t_a") is None
    assert not (tmp_path / "carol").exists()  # reading makes nothing
