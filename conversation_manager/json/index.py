"""The per-user listing index: an append-only JSON-lines log of summaries, derived from the files.

Each entry records the file's inode, mtime and size, so one scandir shows which are stale.
Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..atomic_files import Damaged, Missing, read_file, write_atomic
from ..models import ConversationSummary
from ..names import is_valid_conversation_id
from .layout import INDEX_NAME

log = logging.getLogger(__name__)

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_COMPACT_SLACK = 64 * 1024  # bytes of log beyond twice the compacted size before a rewrite

FileKey = tuple[int, int, int]  # (st_ino, st_mtime_ns, st_size)


def file_key(st: os.stat_result) -> FileKey:
    """Return what identifies one version of a conversation file."""
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def conversation_files(udir: Path) -> dict[str, FileKey | None]:
    """Return the key of every conversation file in the user directory (None: not a regular file),
    in one scandir; raises OSError."""
    files: dict[str, FileKey | None] = {}
    with os.scandir(udir) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith(".") or not name.endswith(".json"):
                continue
            cid = name[:-5]
            if not is_valid_conversation_id(cid):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # deleted since the directory was read: not there
                continue
            files[cid] = file_key(st) if stat.S_ISREG(st.st_mode) else None
    return files


@dataclass
class IndexEntry:
    """The last known summary of one conversation file."""

    key: FileKey
    summary: ConversationSummary


@dataclass
class IndexState:
    """The index as read: live entries, tombstoned ids and the log's sizes."""

    entries: dict[str, IndexEntry]
    lines: int
    ok: bool


def entry_line(cid: str, key: FileKey | None, summary: ConversationSummary | None) -> bytes:
    """Return one log line: a summary entry, or a tombstone when `summary` is None."""
    if summary is None or key is None:
        record: dict[str, Any] = {"id": cid, "deleted": True}
    else:
        record = {"id": cid, "k": list(key), "s": summary.model_dump(mode="json")}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _header(base: int) -> bytes:
    return json.dumps({"index": 1, "base": base}).encode() + b"\n"


def read_index(udir: Path) -> IndexState:
    """Read the log; torn or garbage lines are skipped (the files are the truth)."""
    try:
        data, _ = read_file(udir / INDEX_NAME)
    except (Missing, Damaged):
        return IndexState({}, 0, ok=False)
    except OSError:
        log.warning("index_unreadable", extra={"event": "index_unreadable"})
        return IndexState({}, 0, ok=False)
    raw_lines = [line for line in data.split(b"\n") if line]
    try:  # one parse for the whole log; per line only when some line is torn or garbage
        records: list[Any] = json.loads(b"[" + b",".join(raw_lines) + b"]")
    except ValueError:
        records = [_loads_or_none(line) for line in raw_lines]
    latest: dict[str, Any] = {}
    bad = 0
    for number, record in enumerate(records):
        cid = record.get("id") if isinstance(record, dict) else None
        if not isinstance(cid, str) or not is_valid_conversation_id(cid):
            if not (number == 0 and isinstance(record, dict) and "index" in record):
                bad += 1
            continue
        if record.get("deleted"):
            latest.pop(cid, None)
        else:
            latest[cid] = record
    entries: dict[str, IndexEntry] = {}
    for cid, record in latest.items():  # only the last entry of each id is validated
        try:
            ino, mtime_ns, size = (int(x) for x in record["k"])
            summary = ConversationSummary.model_validate(record["s"])
            if summary.id != cid:
                raise ValueError("id mismatch")
        except (ValueError, KeyError, TypeError, ValidationError):
            bad += 1
            continue
        entries[cid] = IndexEntry((ino, mtime_ns, size), summary)
    return IndexState(entries, len(raw_lines), ok=bad <= 1)


def _loads_or_none(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def rewrite_index(udir: Path, entries: dict[str, IndexEntry], *, durable: bool) -> None:
    """Write the compacted log (one entry per live conversation) atomically."""
    body = b"".join(entry_line(cid, e.key, e.summary) for cid, e in entries.items())
    write_atomic(udir / INDEX_NAME, _header(len(body)) + body, durable=durable)


def append_index(udir: Path, lines: bytes, *, durable: bool) -> None:
    """Append entries (no fsync: derived data); compact when the log outgrows its live entries."""
    path = udir / INDEX_NAME
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o600)
    try:
        size = os.fstat(fd).st_size
        prefix = b""
        if size == 0:
            prefix = _header(0)
        elif os.pread(fd, 1, size - 1) != b"\n":
            prefix = b"\n"  # a torn last line stays alone on its line and is skipped on read
        os.write(fd, prefix + lines)
        size += len(prefix) + len(lines)
        try:
            base = int(json.loads(os.pread(fd, 200, 0).split(b"\n", 1)[0])["base"])
        except (ValueError, KeyError, TypeError, IndexError):
            base = 0
    finally:
        os.close(fd)
    if size > 2 * base + _COMPACT_SLACK:
        rewrite_index(udir, read_index(udir).entries, durable=durable)
