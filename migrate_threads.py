"""Command line for migrating the old app's `static/chats/<user>.json` threads into conversations.

A thin layer over `compat.migrate`: options, a terminal progress bar, the printed and JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import compat

DEFAULT_MODEL = "gpt-5.4-mini"
DEFAULT_PROVIDER = "openai"
DEFAULT_INSTRUCTIONS = "You are a helpful assistant."
EXIT_FAILED = 1  # the run could not happen; 0 and 2 come from MigrationReport.exit_code


class ProgressBar:
    """A one-line progress bar on a terminal stream, redrawn at most every 0.1 s."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self._last = 0.0
        self._drawn = False

    def update(self, done: int, total: int, label: str) -> None:
        """Redraw the bar for `done` of `total`."""
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = self.width * done // total if total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} {label[:32]:<32}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def build_parser() -> argparse.ArgumentParser:
    """The command line options."""
    parser = argparse.ArgumentParser(
        prog="migrate_threads.py",
        description="Migrate the old app's per-user thread files into this app's conversations.",
    )
    parser.add_argument("--source", type=Path, default=Path("static/chats"), help="old files")
    parser.add_argument("--dest", type=Path, required=True, help="the app's data dir")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    parser.add_argument("--user", help="only this old file's name (without .json)")
    parser.add_argument(
        "--fetch-messages",
        action="store_true",
        help="try GET /v1/threads/{id}/messages (OPENAI_API_KEY, OPENAI_BASE_URL); off by default",
    )
    parser.add_argument("--summary", type=Path, help="JSON summary path")
    parser.add_argument("--model", default=os.environ.get("CHAT_MODEL") or DEFAULT_MODEL)
    parser.add_argument("--provider", default=DEFAULT_PROVIDER)
    parser.add_argument(
        "--instructions", default=os.environ.get("CHAT_INSTRUCTIONS") or DEFAULT_INSTRUCTIONS
    )
    return parser


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """Write the JSON summary atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def print_summary(report: compat.MigrationReport, out: TextIO) -> None:
    """Print the plan (dry run) and the summary for a person."""
    data = report.as_dict()
    verb = "would migrate" if report.dry_run else "migrated"
    for item in report.plan:
        out.write(
            f"would migrate {item['user']}/{item['thread_id']}: {item['messages']} messages, "
            f"history {item['history']}, name {item['chat_name']!r}\n"
        )
    conv = data["conversations"]
    out.write(
        f"{'DRY RUN: ' if report.dry_run else ''}{conv['migrated']} {verb}, "
        f"{conv['already_present']} already present, {conv['skipped']} skipped; "
        f"{data['files_skipped']} files set aside; {len(report.users)} users\n"
    )
    out.write(
        f"messages imported: {report.messages_imported}, fetched: {report.messages_fetched}, "
        f"fetch failures: {len(report.fetch_failures)}\n"
    )
    for skip in report.skipped:
        where = skip.file + (f" {skip.thread_id}" if skip.thread_id else "")
        out.write(f"skipped {where}: {skip.reason}{': ' + skip.detail if skip.detail else ''}\n")
    for failure in report.fetch_failures:
        out.write(
            f"fetch failed {failure['user']}/{failure['thread_id']}: {failure['reason']} "
            "(kept as imported offline)\n"
        )
    for item in report.damaged_present:
        out.write(f"left alone (damaged, set aside) {item['user']}/{item['thread_id']}\n")
    if report.accounts_needed:
        out.write("accounts still needed (each reads a password):\n")
        for command in report.accounts_needed:
            out.write(f"  {command}\n")


def main(argv: list[str] | None = None) -> int:
    """Run the migration; 0 when nothing was skipped, 2 when something was, 1 on failure."""
    args = build_parser().parse_args(argv)
    fetcher = None
    if args.fetch_messages and not args.dry_run:
        if not os.environ.get("OPENAI_API_KEY"):
            print("--fetch-messages needs OPENAI_API_KEY", file=sys.stderr)
            return EXIT_FAILED
        fetcher = compat.make_fetcher()
    defaults = compat.Defaults(args.model, args.provider, args.instructions)
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    started = datetime.now(UTC)
    try:
        report = compat.migrate(
            args.source,
            args.dest,
            defaults,
            dry_run=args.dry_run,
            only_user=args.user,
            fetcher=fetcher,
            on_progress=bar.update if bar else None,
        )
    except compat.MigrationError as exc:
        print(f"migration not run: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except compat.StorageFull:
        print("the disk is full: stopped; free space and run again to finish", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if bar:
            bar.close()
    print_summary(report, sys.stdout)
    summary_path = args.summary
    if summary_path is None and not args.dry_run:
        stamp = started.strftime("%Y%m%dT%H%M%S%fZ")
        summary_path = args.dest / ".app" / f"migration-{stamp}.json"
    if summary_path is not None:
        write_summary(summary_path, report.as_dict())
        print(f"summary: {summary_path}")
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
