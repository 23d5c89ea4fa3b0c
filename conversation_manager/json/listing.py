"""Listing a user's conversations from the index, and repairing the index from the files.

The files are the truth: a stale or missing index entry is read from its file (lock held) and
written back. Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..atomic_files import Damaged, Missing, storage_error
from ..errors import StorageError
from ..models import ConversationSummary
from .index import (
    FileKey,
    IndexEntry,
    append_index,
    conversation_files,
    entry_line,
    file_key,
    read_index,
    rewrite_index,
)
from .layout import CORRUPT_DIR
from .records import QUARANTINE_RE, quarantine, read

log = logging.getLogger(__name__)


def list_pass(
    user: str, udir: Path, *, repair: bool, durable: bool
) -> tuple[list[ConversationSummary], bool]:
    """Return the summaries the index vouches for, and whether some file was not vouched for.

    With `repair` (lock held) such files are read, damaged ones set aside, and the index fixed.
    """
    state = read_index(udir)
    files, quarantined = _scan(udir)

    def unavailable(cid: str, when: float) -> ConversationSummary:
        known = state.entries.get(cid)
        if known is not None:
            return known.summary.model_copy(update={"history_available": False})
        return ConversationSummary(
            id=cid, chat_name=cid, created_at=when, last_update=when, history_available=False
        )

    out: list[ConversationSummary] = []
    repairs: dict[str, IndexEntry] = {}
    stale = False
    for cid, key in files.items():
        known = state.entries.get(cid)
        if known is not None and key is not None and known.key == key:
            out.append(known.summary)
            continue
        if not repair:
            stale = True
            continue
        try:
            conv, st = read(udir, cid)
        except Missing:
            continue
        except Damaged as damage:
            quarantine(user, udir, cid, damage.reason, durable=durable)
            out.append(unavailable(cid, time.time()))
            quarantined.setdefault(cid, time.time())
            continue
        except StorageError:
            out.append(unavailable(cid, time.time()))
            continue
        summary = conv.summary()
        repairs[cid] = IndexEntry(file_key(st), summary)
        out.append(summary)
    for cid, when in quarantined.items():
        if cid not in files:
            out.append(unavailable(cid, when))
    if repair:
        gone = [cid for cid in state.entries if cid not in files and cid not in quarantined]
        if repairs or gone or not state.ok:
            _write_repairs(
                udir, state.entries, repairs, gone, rewrite=not state.ok, durable=durable
            )
    return out, stale


def _scan(udir: Path) -> tuple[dict[str, FileKey | None], dict[str, float]]:
    """Return the conversation files (None: not a regular file) and the set-aside ids."""
    quarantined: dict[str, float] = {}
    try:
        files = conversation_files(udir)
        cdir = udir / CORRUPT_DIR
        if os.path.isdir(cdir) and not os.path.islink(cdir):
            with os.scandir(cdir) as entries:
                for entry in entries:
                    match = QUARANTINE_RE.fullmatch(entry.name)
                    if match:
                        try:
                            mtime = entry.stat(follow_symlinks=False).st_mtime
                        except FileNotFoundError:  # removed since the directory was read
                            continue
                        quarantined[match["id"]] = max(quarantined.get(match["id"], 0), mtime)
    except OSError as exc:
        raise storage_error(exc, "listing") from exc
    return files, quarantined


def _write_repairs(
    udir: Path,
    entries: dict[str, IndexEntry],
    repairs: dict[str, IndexEntry],
    gone: list[str],
    *,
    rewrite: bool,
    durable: bool,
) -> None:
    try:
        if rewrite or len(repairs) + len(gone) > max(16, len(entries) // 2):
            merged = {k: v for k, v in entries.items() if k not in gone}
            merged.update(repairs)
            rewrite_index(udir, merged, durable=durable)
        else:
            lines = b"".join(entry_line(c, e.key, e.summary) for c, e in repairs.items())
            lines += b"".join(entry_line(c, None, None) for c in gone)
            append_index(udir, lines, durable=durable)
    except OSError:
        log.warning("index_repair_failed", extra={"event": "index_repair_failed"})
