"""The migration command end to end on the mixed corpus: M1, M3, M4, M6, M7, summary, scale."""

from __future__ import annotations

import io
import itertools
import json
import socket
import time
from pathlib import Path

import pytest

import compat
import migrate_threads
from tests.migration.conftest import (
    T0,
    Corpus,
    conversations,
    entry,
    run_cli,
    tree_bytes,
    tree_checksum,
    tree_stat,
    write_old,
)


def summary_of(dest: Path) -> dict:
    """The newest JSON summary written under `dest/.app/`."""
    paths = sorted((dest / ".app").glob("migration-*.json"))
    assert paths, "no summary written"
    return json.loads(paths[-1].read_text())


def test_migrates_the_valid_threads_and_sets_the_rest_aside(corpus: Corpus, dest: Path) -> None:
    before = tree_checksum(corpus.source)
    result = run_cli("--source", corpus.source, "--dest", dest)
    assert result.returncode == 2, result.stderr  # M4: something was skipped
    convs = conversations(dest)
    assert {k: len(v["messages"]) for k, v in convs.items()} == corpus.expected
    summary = summary_of(dest)
    assert summary["conversations"]["migrated"] == len(corpus.expected)
    assert summary["exit_code"] == 2
    skipped_files = {s["file"] for s in summary["skipped"] if s["thread_id"] is None}
    assert skipped_files == corpus.skipped_files
    skipped_threads = {(s["file"], s["thread_id"]) for s in summary["skipped"] if s["thread_id"]}
    assert skipped_threads == corpus.skipped_threads
    reasons = {s["file"]: s["reason"] for s in summary["skipped"] if s["thread_id"] is None}
    assert reasons["José.json"] == reasons["Alice.json"] == "invalid_user_name"
    assert reasons["emptyfile.json"] == reasons["blankfile.json"] == "empty_file"
    assert reasons["badjson.json"] == "bad_json"
    assert reasons["notobject.json"] == "not_an_object"
    assert reasons["latin1.json"] == "bad_encoding"
    for name in corpus.skipped_files:
        assert name in result.stdout  # listed for the operator
    assert tree_checksum(corpus.source) == before  # M3
    assert not (dest / "José").exists() and not (dest / "jose").exists()


def test_conversation_records(corpus: Corpus, dest: Path) -> None:
    run_cli("--source", corpus.source, "--dest", dest)
    convs = conversations(dest)
    a1 = convs[("alice", "thread_a1")]
    assert a1["id"] == "thread_a1"
    assert a1["legacy"] == {"thread_id": "thread_a1", "history": "imported"}
    assert a1["chat_name"] == "A chat"
    assert a1["created_at"] == T0 and a1["last_update"] == T0 + 60
    assert a1["model"] == "gpt-5.4-mini" and a1["provider"] == "openai"
    assert a1["metadata"]["legacy_metadata"] == {"topic": "sales"}
    assert a1["last_response_id"] is None
    msgs = a1["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert [m["text"] for m in msgs] == [
        "What is in the report?",
        "Sales grew.",
        "Thanks ✓",
        "You're welcome",
    ]
    assert msgs[0]["parent_id"] is None
    assert all(m["parent_id"] == p["id"] for p, m in itertools.pairwise(msgs))
    assert a1["current_message_id"] == msgs[-1]["id"]
    for m in msgs:
        assert m["response_id"] is None
        if m["role"] == "assistant":  # the store keeps metadata on assistant messages only
            assert m["status"] == "completed" and m["context_mode"] is None
            assert m["metadata"] == {"imported": True}
    a2 = convs[("alice", "thread_a2")]
    assert a2["legacy"]["history"] == "unavailable" and a2["messages"] == []
    assert a2["created_at"] == 1_700_000_000.0 and a2["last_update"] == 1_700_006_400.0
    assert convs[("alice", "thread_a3")]["chat_name"] == "Hi"  # no name: the first message
    a4 = convs[("alice", "thread_a4")]
    assert a4["chat_name"] == compat.DEFAULT_CHAT_NAME
    assert a4["created_at"] == a4["last_update"] == T0


def test_second_run_changes_nothing(corpus: Corpus, dest: Path) -> None:
    """M1: byte-identical files, "0 migrated, N already present"."""
    first = run_cli("--source", corpus.source, "--dest", dest)
    assert first.returncode == 2
    files = tree_bytes(dest)
    stats = {k: v for k, v in tree_stat(dest).items() if not k.startswith(".app")}
    second = run_cli("--source", corpus.source, "--dest", dest)
    assert second.returncode == 2  # the same old damage is still reported
    assert f"0 migrated, {len(corpus.expected)} already present" in second.stdout
    assert tree_bytes(dest) == files
    assert {k: v for k, v in tree_stat(dest).items() if not k.startswith(".app")} == stats


def test_existing_conversation_is_never_overwritten(tmp_path: Path, dest: Path) -> None:
    source = tmp_path / "chats"
    write_old(source, "alice.json", {"thread_1": entry("thread_1", chat_name="first")})
    assert run_cli("--source", source, "--dest", dest).returncode == 0
    write_old(source, "alice.json", {"thread_1": entry("thread_1", chat_name="changed")})
    result = run_cli("--source", source, "--dest", dest)
    assert result.returncode == 0
    assert "0 migrated, 1 already present" in result.stdout
    assert conversations(dest)[("alice", "thread_1")]["chat_name"] == "first"


def test_dry_run_writes_nothing_and_prints_the_plan(corpus: Corpus, dest: Path) -> None:
    """M7 on an empty dest and on a half-migrated one."""
    result = run_cli("--source", corpus.source, "--dest", dest, "--dry-run")
    assert result.returncode == 2
    assert not dest.exists()
    assert "would migrate alice/thread_a1: 4 messages, history imported" in result.stdout
    assert f"DRY RUN: {len(corpus.expected)} would migrate" in result.stdout

    assert run_cli("--source", corpus.source, "--dest", dest, "--user", "bob_2").returncode == 0
    before = tree_stat(dest)
    before_bytes = tree_bytes(dest, skip_summaries=False)
    result = run_cli("--source", corpus.source, "--dest", dest, "--dry-run", "--fetch-messages")
    assert tree_stat(dest) == before
    assert tree_bytes(dest, skip_summaries=False) == before_bytes
    assert f"{len(corpus.expected) - 5} would migrate, 5 already present" in result.stdout


def test_dry_run_summary_only_where_asked(corpus: Corpus, dest: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = run_cli("--source", corpus.source, "--dest", dest, "--dry-run", "--summary", out)
    assert not dest.exists()
    plan = json.loads(out.read_text())
    assert plan["dry_run"] is True and plan["conversations"]["migrated"] == len(corpus.expected)
    assert str(out) in result.stdout


def test_only_one_user(corpus: Corpus, dest: Path) -> None:
    result = run_cli("--source", corpus.source, "--dest", dest, "--user", "dave")
    assert result.returncode == 2  # its shared thread is set aside
    assert set(conversations(dest)) == {("dave", "thread_d1")}
    assert run_cli("--source", corpus.source, "--dest", dest, "--user", "nobody").returncode == 1


def test_account_commands_listed_for_users_without_accounts(corpus: Corpus, dest: Path) -> None:
    (dest / ".app" / "users").mkdir(parents=True)
    (dest / ".app" / "users" / "alice.json").write_text("{}")
    result = run_cli("--source", corpus.source, "--dest", dest)
    assert summary_of(dest)["accounts_needed"] == [
        "flask --app app users create bob_2",
        "flask --app app users create dave",
    ]
    assert "  flask --app app users create dave" in result.stdout
    assert "users create alice" not in result.stdout
    assert "users create erin" not in result.stdout  # nothing migrated for erin


def test_accounts_needed_lists_all_before_auth(tmp_path: Path) -> None:
    assert compat.accounts_needed(tmp_path, ["b_b", "aaa"]) == [
        "flask --app app users create aaa",
        "flask --app app users create b_b",
    ]


def test_defaults_from_options_and_environment(tmp_path: Path, dest: Path) -> None:
    source = tmp_path / "chats"
    write_old(source, "alice.json", {"thread_1": entry("thread_1")})
    env = {"CHAT_MODEL": "gpt-test", "CHAT_INSTRUCTIONS": "Be brief."}
    assert run_cli("--source", source, "--dest", dest, env=env).returncode == 0
    conv = conversations(dest)[("alice", "thread_1")]
    assert (conv["model"], conv["instructions"]) == ("gpt-test", "Be brief.")
    write_old(source, "bob.json", {"thread_2": entry("thread_2")})
    args = ("--model", "m2", "--provider", "other", "--instructions", "X")
    assert run_cli("--source", source, "--dest", dest, *args, env=env).returncode == 0
    conv = conversations(dest)[("bob", "thread_2")]
    assert (conv["model"], conv["provider"], conv["instructions"]) == ("m2", "other", "X")


def test_no_network_without_fetch(
    corpus: Corpus, dest: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """M6: in-process, with every socket connection refused."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError("network access during migration")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    code = migrate_threads.main(["--source", str(corpus.source), "--dest", str(dest)])
    assert code == 2
    assert attempts == []
    assert len(conversations(dest)) == len(corpus.expected)
    assert "already present" in capsys.readouterr().out


def test_three_thousand_threads_in_a_few_seconds(tmp_path: Path, dest: Path) -> None:
    source = tmp_path / "chats"
    many = {
        f"thread_{i:05d}": entry(
            f"thread_{i:05d}",
            messages=[{"role": "user", "text": f"q{i}"}, {"role": "assistant", "text": f"a{i}"}]
            if i % 3 == 0
            else None,
        )
        for i in range(3000)
    }
    write_old(source, "heavy.json", many)
    write_old(source, "light.json", {"thread_x": entry("thread_x")})
    started = time.monotonic()
    result = run_cli("--source", source, "--dest", dest)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert len(list((dest / "heavy").glob("thread_*.json"))) == 3000
    summary = summary_of(dest)
    assert summary["conversations"]["migrated"] == 3001
    assert summary["messages_imported"] == 2000
    print(f"3,001 threads migrated in {elapsed:.2f} s")
    assert elapsed < 30  # generous for CI; measured figure in the report
    started = time.monotonic()
    again = run_cli("--source", source, "--dest", dest)
    print(f"rerun over 3,001 present threads in {time.monotonic() - started:.2f} s")
    assert "0 migrated, 3001 already present" in again.stdout


def test_progress_bar_only_on_a_terminal(tmp_path: Path, dest: Path) -> None:
    source = tmp_path / "chats"
    write_old(source, "alice.json", {"thread_1": entry("thread_1")})
    result = run_cli("--source", source, "--dest", dest)
    assert "[" not in result.stderr  # stderr is a pipe here: no bar
    stream = io.StringIO()
    bar = migrate_threads.ProgressBar(stream, width=10)
    bar.update(1, 4, "alice")
    bar.update(4, 4, "alice")
    bar.close()
    text = stream.getvalue()
    assert "\r[##--------] 1/4 alice" in text and "\r[##########] 4/4" in text
    assert text.endswith("\n")


def test_missing_source_fails_cleanly(tmp_path: Path, dest: Path) -> None:
    result = run_cli("--source", tmp_path / "nope", "--dest", dest)
    assert result.returncode == 1 and "not a directory" in result.stderr
    assert not dest.exists()
