"""`--fetch-messages` against the fake upstream: pages, citations, images, 404 and 500 per thread."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import compat
from tests.fake_upstream import FakeUpstream, running
from tests.migration.conftest import conversations, entry, run_cli, tree_checksum, write_old

DEFAULTS = compat.Defaults("gpt-5.4-mini", "openai", "Be helpful.")


def thread_message(tid: str, n: int, role: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    """A thread.message object as the Assistants API sent it."""
    return {
        "id": f"msg_{tid}_{n:04d}",
        "object": "thread.message",
        "created_at": 1_700_000_000 + n,
        "thread_id": tid,
        "role": role,
        "status": "completed",
        "assistant_id": "asst_1" if role == "assistant" else None,
        "run_id": None,
        "attachments": [],
        "metadata": {},
        "completed_at": None,
        "incomplete_at": None,
        "incomplete_details": None,
        "content": content,
    }


def text_part(value: str, annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": annotations or []}}


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    long = [
        thread_message(
            "thread_long", i, "user" if i % 2 == 0 else "assistant", [text_part(f"m{i}")]
        )
        for i in range(230)
    ]
    cited = [
        thread_message("thread_cited", 0, "user", [text_part("Summarise the file")]),
        thread_message(
            "thread_cited",
            1,
            "assistant",
            [
                text_part(
                    "It grew【4:0†source】 a lot【7:1†notes.pdf】.",
                    [
                        {
                            "type": "file_citation",
                            "text": "【4:0†source】",
                            "start_index": 7,
                            "end_index": 19,
                            "file_citation": {"file_id": "file-abc"},
                        }
                    ],
                ),
                {"type": "image_file", "image_file": {"file_id": "file-img1", "detail": "auto"}},
            ],
        ),
    ]
    for fake in running():
        fake.threads = {"thread_long": long, "thread_cited": cited, "thread_broken": "500"}
        yield fake


@pytest.fixture
def old_tree(tmp_path: Path) -> Path:
    source = tmp_path / "chats"
    write_old(
        source,
        "alice.json",
        {
            "thread_long": entry("thread_long"),
            "thread_cited": entry("thread_cited"),
            "thread_gone": entry(
                "thread_gone", messages=[{"role": "user", "text": "cached"}]
            ),  # 404 upstream, cached locally
            "thread_broken": entry("thread_broken"),  # 500 upstream, nothing cached
        },
    )
    return source


def test_fetch_through_the_sdk(
    upstream: FakeUpstream, old_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", upstream.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fetch")
    dest = tmp_path / "data"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the SDK's warning stays inside
        report = compat.migrate(
            old_tree, dest, DEFAULTS, fetcher=compat.make_fetcher(max_retries=0)
        )
    convs = conversations(dest)
    long = convs[("alice", "thread_long")]
    assert long["legacy"]["history"] == "fetched"
    assert [m["text"] for m in long["messages"]] == [f"m{i}" for i in range(230)]
    assert long["messages"][0]["timestamp"] == 1_700_000_000
    cited = convs[("alice", "thread_cited")]
    assert cited["legacy"]["history"] == "fetched"
    assert cited["messages"][1]["text"] == "It grew a lot.\n[image: file-img1]"
    assert cited["messages"][1]["status"] == "completed"
    gone = convs[("alice", "thread_gone")]
    assert gone["legacy"]["history"] == "imported"
    assert [m["text"] for m in gone["messages"]] == ["cached"]
    assert convs[("alice", "thread_broken")]["legacy"]["history"] == "unavailable"
    assert {(f["thread_id"], f["reason"]) for f in report.fetch_failures} == {
        ("thread_gone", "not_found (404)"),
        ("thread_broken", "http_500"),
    }
    assert report.messages_fetched == 232 and report.messages_imported == 1
    assert report.exit_code == 0  # a failed fetch is reported, nothing was skipped
    pages = [r for r in upstream.requests if "thread_long" in r.path]
    assert len(pages) == 3  # 100 + 100 + 30, oldest first
    assert all(r.query.get("order") == ["asc"] for r in pages)


def test_fetch_from_the_command_line(
    upstream: FakeUpstream, old_tree: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "data"
    before = tree_checksum(old_tree)
    env = {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": "sk-test-fetch"}
    result = run_cli("--source", old_tree, "--dest", dest, "--fetch-messages", env=env)
    assert result.returncode == 0, result.stderr
    assert "fetch failed alice/thread_gone: not_found (404)" in result.stdout
    assert "sk-test-fetch" not in result.stdout + result.stderr
    assert "DeprecationWarning" not in result.stderr
    assert "4 migrated" in result.stdout
    assert tree_checksum(old_tree) == before
    # A rerun does not fetch again: the conversations are there.
    seen = len(upstream.requests)
    again = run_cli("--source", old_tree, "--dest", dest, "--fetch-messages", env=env)
    assert "0 migrated, 4 already present" in again.stdout
    assert len(upstream.requests) == seen


def test_fetch_needs_a_key(old_tree: Path, tmp_path: Path) -> None:
    result = run_cli("--source", old_tree, "--dest", tmp_path / "data", "--fetch-messages")
    assert result.returncode == 1 and "OPENAI_API_KEY" in result.stderr
    assert not (tmp_path / "data").exists()


def test_unreachable_upstream_leaves_offline_import(old_tree: Path, tmp_path: Path) -> None:
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-x"}
    result = run_cli("--source", old_tree, "--dest", tmp_path / "data", "--fetch-messages", env=env)
    assert result.returncode == 0
    assert result.stdout.count("connection_error") == 4
    assert len(conversations(tmp_path / "data")) == 4
