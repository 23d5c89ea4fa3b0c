"""The migration run: old user files -> conversations through the store, and its summary report.

Imports no Flask; the store has the last word on what exists.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from compat.convert import ConversationPlan, Defaults, plan_conversation
from compat.fetch import Fetcher
from compat.formats import OldFile, OldThreadRecord, Skip, read_old_file
from conversation_manager import (
    ConversationError,
    ConversationExists,
    HistoryUnavailable,
    InvalidId,
    JsonConversationStore,
    StorageBusy,
    StorageFull,
)
from responses_client.adapters.openai_threads import FetchFailed


class MigrationError(Exception):
    """The migration cannot run at all (e.g. the source is not a directory)."""


@dataclass
class MigrationReport:
    """What a run did (or, dry, would do); `as_dict` is the JSON summary."""

    source: str
    dest: str
    dry_run: bool
    fetch_messages: bool
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    migrated: int = 0
    already_present: int = 0
    messages_imported: int = 0
    messages_fetched: int = 0
    users: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[Skip] = field(default_factory=list)
    fetch_failures: list[dict[str, str]] = field(default_factory=list)
    damaged_present: list[dict[str, str]] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)
    accounts_needed: list[str] = field(default_factory=list)

    def user_counts(self, user: str) -> dict[str, int]:
        """The per-user counters, created on first use."""
        return self.users.setdefault(user, {"migrated": 0, "already_present": 0, "skipped": 0})

    def count_present(self, user: str) -> None:
        """Record a thread whose conversation already exists (left alone)."""
        self.already_present += 1
        self.user_counts(user)["already_present"] += 1

    def skip(self, skip: Skip) -> None:
        """Record something set aside."""
        self.skipped.append(skip)
        if skip.user is not None and skip.thread_id is not None:
            self.user_counts(skip.user)["skipped"] += 1

    @property
    def exit_code(self) -> int:
        """0 when everything migrated or was already there, 2 when anything was set aside."""
        return 2 if self.skipped else 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON summary."""
        reasons = Counter(s.reason for s in self.skipped)
        return {
            "source": self.source,
            "dest": self.dest,
            "dry_run": self.dry_run,
            "fetch_messages": self.fetch_messages,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "conversations": {
                "migrated": self.migrated,
                "already_present": self.already_present,
                "skipped": sum(1 for s in self.skipped if s.thread_id is not None),
            },
            "files_skipped": sum(1 for s in self.skipped if s.thread_id is None),
            "messages_imported": self.messages_imported,
            "messages_fetched": self.messages_fetched,
            "users": self.users,
            "skipped_reasons": dict(sorted(reasons.items())),
            "skipped": [asdict(s) for s in self.skipped],
            "fetch_failures": self.fetch_failures,
            "damaged_present": self.damaged_present,
            "accounts_needed": self.accounts_needed,
            "exit_code": self.exit_code,
        }


def accounts_needed(dest: Path, users: Iterable[str]) -> list[str]:
    """List `users create` commands for users without `<dest>/.app/users/<name>.json`.

    Before the auth module has made `.app/users/`, every user is listed.
    """
    accounts = Path(dest) / ".app" / "users"
    known = accounts.is_dir()
    return [
        f"flask --app app users create {name}"
        for name in sorted(set(users))
        if not (known and (accounts / f"{name}.json").is_file())
    ]


def _duplicates(files: list[OldFile]) -> set[str]:
    seen: Counter[str] = Counter()
    doubled: set[str] = set()
    for old in files:
        doubled |= old.duplicate_keys
        seen.update({t.thread_id for t in old.threads} | old.duplicate_keys)
    return doubled | {tid for tid, n in seen.items() if n > 1}


def _create(store: JsonConversationStore, plan: ConversationPlan, defaults: Defaults) -> None:
    """Create one conversation, waiting out a busy lock a few times (the app may be writing)."""
    for attempt in range(4):
        try:
            store.create(plan.user, **plan.create_kwargs(defaults))
            return
        except StorageBusy as exc:
            if attempt == 3:
                raise
            time.sleep(min(float(getattr(exc, "retry_after", 1.0) or 1.0), 2.0))


def _migrate_one(
    *,
    record: OldThreadRecord,
    store: JsonConversationStore,
    dry_run: bool,
    defaults: Defaults,
    fetcher: Fetcher | None,
    report: MigrationReport,
) -> None:
    """Plan, check and create one thread's conversation (a dry run only plans), into the report."""

    def skip(reason: str, detail: str = "") -> None:
        report.skip(Skip(record.file, reason, detail, record.user, record.thread_id))

    try:
        plan = plan_conversation(record)
        # A cheap look that writes nothing; `create` has the last word under the store's lock.
        present = store.exists(plan.user, plan.conversation_id)
    except ValueError as exc:
        return skip("invalid_entry", str(exc)[:200])
    except InvalidId:
        return skip("invalid_thread_id", record.thread_id[:80])
    except ConversationError as exc:  # e.g. the user directory is a symbolic link
        return skip("storage_error", type(exc).__name__)
    if present:
        report.count_present(record.user)
        return None

    if fetcher is not None and not dry_run:
        try:
            fetched = fetcher(record.thread_id)
        except FetchFailed as exc:
            failure = {"user": record.user, "thread_id": record.thread_id, "reason": exc.reason}
            report.fetch_failures.append(failure)
        else:
            if fetched:
                plan = plan_conversation(record, fetched, "fetched")

    if dry_run:
        report.plan.append(
            {
                "user": plan.user,
                "thread_id": plan.conversation_id,
                "chat_name": plan.chat_name,
                "messages": len(plan.messages),
                "history": plan.history,
            }
        )
    else:
        try:
            _create(store, plan, defaults)
        except StorageFull:
            raise
        except StorageBusy:
            return skip("storage_busy", "the store's lock was not had in time; rerun")
        except ConversationExists:  # another run created it meanwhile
            report.count_present(record.user)
            return None
        except HistoryUnavailable:  # its file was damaged and set aside by the app: left alone
            report.count_present(record.user)
            report.damaged_present.append({"user": record.user, "thread_id": record.thread_id})
            return None
        except ConversationError as exc:
            return skip("storage_error", type(exc).__name__)
    report.migrated += 1
    report.user_counts(record.user)["migrated"] += 1
    if plan.history == "fetched":
        report.messages_fetched += len(plan.messages)
    else:
        report.messages_imported += len(plan.messages)
    return None


def migrate(
    source: Path,
    dest: Path,
    defaults: Defaults,
    *,
    dry_run: bool = False,
    only_user: str | None = None,
    fetcher: Fetcher | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> MigrationReport:
    """Migrate every old user file under `source` into the store at `dest` (see docs)."""
    source, dest = Path(source), Path(dest)
    if not source.is_dir():
        raise MigrationError(f"source {source} is not a directory")
    report = MigrationReport(str(source), str(dest), dry_run, fetcher is not None)
    paths = sorted(
        p for p in source.iterdir() if p.suffix == ".json" and not p.name.startswith(".")
    )
    if only_user is not None and not (source / f"{only_user}.json").is_file():
        raise MigrationError(f"no file {only_user}.json under {source}")
    files = [read_old_file(p) for p in paths]
    doubled = _duplicates(files)
    if only_user is not None:
        files = [f for f in files if f.file == f"{only_user}.json"]

    todo: list[OldThreadRecord] = []
    for old in files:
        for skip in old.skips:
            report.skip(skip)
        for tid in sorted(old.duplicate_keys):
            report.skip(
                Skip(old.file, "duplicate_thread_id", "repeated in this file", old.user, tid)
            )
        for record in old.threads:
            if record.thread_id in doubled:
                if record.thread_id not in old.duplicate_keys:
                    detail = "the same thread id appears in another user's file"
                    report.skip(
                        Skip(
                            record.file,
                            "duplicate_thread_id",
                            detail,
                            record.user,
                            record.thread_id,
                        )
                    )
                continue
            todo.append(record)

    store = JsonConversationStore(dest)  # makes nothing until something is created
    for done, record in enumerate(todo, start=1):
        _migrate_one(
            record=record,
            store=store,
            dry_run=dry_run,
            defaults=defaults,
            fetcher=fetcher,
            report=report,
        )
        if on_progress:
            on_progress(done, len(todo), record.user)

    present_users = [u for u, n in report.users.items() if n["migrated"] or n["already_present"]]
    report.accounts_needed = accounts_needed(dest, present_users)
    report.finished_at = time.time()
    return report
