"""One conversation file of the JSON backend: read and check it, or set it aside when it is damaged.

Reading never writes; setting aside moves the file to `.corrupt/` and never rewrites it.
Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path

from pydantic import ValidationError

from ..atomic_files import Damaged, fsync_dir, make_private_dir, read_file, storage_error
from ..models import SCHEMA_VERSION, Conversation
from .layout import CORRUPT_DIR, conversation_path

log = logging.getLogger(__name__)

QUARANTINE_RE = re.compile(r"(?P<id>[A-Za-z0-9_-]{1,64})-(?P<ts>\d{8}T\d{12}Z)\.json")


def parse(data: bytes, cid: str) -> Conversation:
    """Return the conversation in `data`, or raise Damaged saying what is wrong with it."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise Damaged("invalid UTF-8") from None
    except ValueError:
        raise Damaged("invalid JSON") from None
    if not isinstance(raw, dict):
        raise Damaged("not a JSON object")
    if raw.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise Damaged("unknown schema version")
    try:
        conv = Conversation.model_validate(raw)
    except ValidationError:
        raise Damaged("schema mismatch") from None
    if conv.id != cid:
        raise Damaged("id does not match the file name")
    problem = conv.check_tree()
    if problem is not None:
        raise Damaged(problem)
    return conv


def read(udir: Path, cid: str) -> tuple[Conversation, os.stat_result]:
    """Read and parse; raise Missing, Damaged or StorageError (never writes)."""
    try:
        data, st = read_file(conversation_path(udir, cid))
    except OSError as exc:
        raise storage_error(exc, "reading") from exc
    return parse(data, cid), st


def quarantined(udir: Path, cid: str) -> list[Path]:
    """Return the damaged copies of `cid` set aside in the user directory."""
    cdir = udir / CORRUPT_DIR
    try:
        names = os.listdir(cdir)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise storage_error(exc, "listing damaged files") from exc
    found = []
    for name in names:
        match = QUARANTINE_RE.fullmatch(name)
        if match and match["id"] == cid:
            found.append(cdir / name)
    return found


def quarantine(user: str, udir: Path, cid: str, reason: str, *, durable: bool) -> None:
    """Move a damaged file aside to `.corrupt/<id>-<time>.json` (lock held); never rewrite."""
    src = conversation_path(udir, cid)
    cdir = udir / CORRUPT_DIR
    moved_to = None
    try:
        make_private_dir(cdir, durable=durable)
        stamp = time.time_ns() // 1000
        while True:
            ts = time.strftime("%Y%m%dT%H%M%S", time.gmtime(stamp // 1_000_000))
            dst = cdir / f"{cid}-{ts}{stamp % 1_000_000:06d}Z.json"
            if not os.path.lexists(dst):
                break
            stamp += 1
        os.rename(src, dst)
        moved_to = dst.name
        if durable:
            fsync_dir(cdir)
            fsync_dir(udir)
    except OSError:
        log.exception("history_quarantine_failed", extra={"event": "history_quarantine_failed"})
    log.warning(
        "history_corrupt user=%s conversation_id=%s reason=%s moved_to=%s",
        user,
        cid,
        reason,
        moved_to,
        extra={
            "event": "history_corrupt",
            "user": user,
            "conversation_id": cid,
            "reason": reason,
            "moved_to": moved_to,
        },
    )
