"""The sweep: unused files older than 24 h go (at start-up and on upload, at most hourly per user);
files a conversation message or a share snapshot lists stay."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tests.attachments.conftest import upload
from tests.attachments.test_serve import _attach
from tests.conftest import chat

DAY = 24 * 3600


def _age(data_dir: Path, user: str, aid: str, seconds: float) -> None:
    """Make an attachment's files look `seconds` old."""
    directory = data_dir / user / ".attachments"
    meta = directory / f"{aid}.json"
    sha = json.loads(meta.read_text())["sha256"]
    then = time.time() - seconds
    for path in directory.iterdir():
        if path.name == meta.name or path.name.startswith(sha):
            os.utime(path, (then, then))


def _present(data_dir: Path, user: str) -> set[str]:
    directory = data_dir / user / ".attachments"
    return {p.name[:-5] for p in directory.iterdir() if p.name.startswith("att_")}


def _detach(data_dir: Path, user: str, cid: str) -> None:
    path = data_dir / user / f"{cid}.json"
    record = json.loads(path.read_text())
    for message in record["messages"]:
        message.pop("attachments", None)
    path.write_text(json.dumps(record))


def _setup(client: Any, data_dir: Path) -> dict[str, str]:
    """used: on a message; shared: only in a share snapshot; old and fresh: on nothing."""
    ids = {
        name: upload(client, f"{name} file\n".encode(), f"{name}.txt").get_json()["id"]
        for name in ("used", "shared", "old", "fresh")
    }
    frames = chat(client, message="with files")
    cid = frames[0].data["conversation_id"]
    message_id = frames[0].data["user_message_id"]
    _attach(
        data_dir,
        "alice",
        cid,
        message_id,
        {
            "id": ids["shared"],
            "kind": "text",
            "name": "shared.txt",
            "media_type": "text/plain",
            "bytes": 12,
        },
    )
    assert client.post(f"/conversations/{cid}/share").status_code == 201
    _detach(data_dir, "alice", cid)  # the conversation no longer lists it; the snapshot does
    _attach(
        data_dir,
        "alice",
        cid,
        message_id,
        {
            "id": ids["used"],
            "kind": "text",
            "name": "used.txt",
            "media_type": "text/plain",
            "bytes": 10,
        },
    )
    for name in ("used", "shared", "old"):
        _age(data_dir, "alice", ids[name], DAY + 60)
    _age(data_dir, "alice", ids["fresh"], DAY - 600)
    return ids


def test_the_sweep_removes_unused_old_files_and_keeps_used_ones(app, client, data_dir):
    ids = _setup(client, data_dir)
    service = app.extensions["services"].attachments
    assert service.sweep("alice") == 1
    assert _present(data_dir, "alice") == {ids["used"], ids["shared"], ids["fresh"]}
    # The content file and its variants went with the sidecar; the others' content stayed.
    directory = data_dir / "alice" / ".attachments"
    shas = {
        json.loads((directory / f"{aid}.json").read_text())["sha256"]
        for aid in _present(data_dir, "alice")
    }
    assert {p.name for p in directory.iterdir() if not p.name.startswith(".")} == shas | {
        f"{aid}.json" for aid in _present(data_dir, "alice")
    }
    assert client.get(f"/attachments/{ids['old']}").status_code == 404
    assert client.get(f"/attachments/{ids['used']}").status_code == 200


def test_the_start_up_sweep_removes_old_unused_files(make_app, app, client, data_dir):
    ids = _setup(client, data_dir)
    make_app()  # a new process starting on the same data
    assert _present(data_dir, "alice") == {ids["used"], ids["shared"], ids["fresh"]}


def test_an_upload_sweeps_at_most_once_an_hour(app, client, data_dir):
    service = app.extensions["services"].attachments
    first = upload(client, b"first\n", "first.txt").get_json()["id"]  # sweeps (nothing to do)
    _age(data_dir, "alice", first, DAY + 60)
    upload(client, b"second\n", "second.txt")  # within the hour: no sweep
    assert first in _present(data_dir, "alice")
    real = service.clock
    service.clock = lambda: real() + 3601
    upload(client, b"third\n", "third.txt")
    assert first not in _present(data_dir, "alice")


def test_a_re_upload_makes_a_file_fresh_again(app, client, data_dir):
    aid = upload(client, b"again\n", "a.txt").get_json()["id"]
    _age(data_dir, "alice", aid, DAY + 60)
    upload(client, b"again\n", "a.txt")
    assert app.extensions["services"].attachments.sweep("alice") == 0
    assert aid in _present(data_dir, "alice")


def test_an_orphan_content_file_goes_only_when_old(app, client, data_dir):
    directory = data_dir / "alice" / ".attachments"
    upload(client, b"x\n", "x.txt")
    orphan_new = directory / ("a" * 64)
    orphan_old = directory / ("b" * 64)
    orphan_new.write_bytes(b"a put in progress")
    orphan_old.write_bytes(b"a crashed put")
    then = time.time() - DAY - 60
    os.utime(orphan_old, (then, then))
    aid = next(iter(_present(data_dir, "alice")))
    _age(data_dir, "alice", aid, DAY + 60)
    app.extensions["services"].attachments.sweep("alice")
    assert orphan_new.exists() and not orphan_old.exists()


def test_an_old_file_named_by_a_turn_is_fresh_again(app, client, data_dir):
    aid = upload(client, b"late\n", "late.txt").get_json()["id"]
    _age(data_dir, "alice", aid, DAY + 60)
    service = app.extensions["services"].attachments
    assert [a.id for a in service.resolve("alice", [aid])] == [aid]
    assert service.sweep("alice") == 0
    assert aid in _present(data_dir, "alice")


def test_a_kept_file_is_not_reconsidered_at_once(app, client, data_dir, monkeypatch):
    ids = _setup(client, data_dir)
    service = app.extensions["services"].attachments
    service.sweep("alice")
    reads = []
    real_list = service.conversations.list
    monkeypatch.setattr(
        service.conversations, "list", lambda user: reads.append(user) or real_list(user)
    )
    assert service.sweep("alice") == 0
    assert reads == []  # nothing stale left: the conversations were not read again
    assert ids["used"] in _present(data_dir, "alice")
