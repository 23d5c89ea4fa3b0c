"""Read-only share links: a snapshot of one branch, reachable by an unguessable token.

Only sha256(token) is stored (`CHAT_DATA_DIR/.app/shares/<hash>.json`). Must not import Flask.
"""

from __future__ import annotations

import builtins
import contextlib
import hmac
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.accounts import is_token_shaped, token_hash, validate_username
from conversation_manager.json.state_files import (
    app_dir,
    fsync_dir,
    locked,
    read_json,
    write_json_atomic,
)

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT = 10.0
SHARE_ID_CHARS = 16  # hex digits of the token hash: 64 bits, enough to name one's own shares
_CONVERSATION_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SHARE_ID_RE = re.compile(rf"[0-9a-f]{{{SHARE_ID_CHARS}}}")
_HASH_RE = re.compile(r"[0-9a-f]{64}")
_ROLES = ("user", "assistant")


class ShareError(Exception):
    """Root of this module's errors."""


class InvalidShare(ShareError):
    """A bad conversation id or snapshot (HTTP 400 `bad_request` / `invalid_id`)."""


class ShareNotFound(ShareError):
    """No share of this user has that token or id (HTTP 404 `not_found`)."""


class StorageBusy(ShareError):
    """A lock was not had in time (HTTP 503 `storage_busy` with `Retry-After`)."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("storage busy")
        self.retry_after = retry_after


@dataclass(frozen=True)
class ShareInfo:
    """One share as its owner sees it (never the token: it is not kept)."""

    share_id: str
    conversation_id: str
    chat_name: str
    created: float
    expires_at: float | None


def _clean_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Keep only the chat name and each message's role, text and timestamp."""
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("messages"), builtins.list):
        raise InvalidShare("snapshot needs a messages list")
    messages = []
    for m in snapshot["messages"]:
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise InvalidShare("each message needs a role of user or assistant")
        text = m.get("text")
        stamp = m.get("timestamp")
        messages.append(
            {
                "role": m["role"],
                "text": text if isinstance(text, str) else "",
                "timestamp": float(stamp) if isinstance(stamp, int | float) else None,
            }
        )
    name = snapshot.get("chat_name")
    return {"chat_name": name if isinstance(name, str) else "", "messages": messages}


def new_token() -> str:
    """Return a fresh share token: 32 random bytes (256 bits), 43 URL-safe characters."""
    return secrets.token_urlsafe(32)


class ShareStore:
    """Share links on disk, plus a small per-owner index so owners can list and revoke them."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> None:
        self.dir = app_dir(data_dir, "shares")
        self.index_dir = app_dir(data_dir, "shares", ".by-owner")
        self.lock_timeout = lock_timeout

    def _index_path(self, user: str) -> Path:
        return self.index_dir / f"{validate_username(user)}.json"

    def _load_index(self, path: Path) -> dict[str, dict[str, Any]]:
        try:
            data = read_json(path)
        except ValueError:
            data = None
        return data if isinstance(data, dict) else {}

    def create(
        self,
        user: str,
        conversation_id: str,
        snapshot: dict[str, Any],
        *,
        expires_at: float | None = None,
    ) -> str:
        """Store a snapshot `{chat_name, messages: [{role, text, timestamp}]}`; return its token.

        Only these fields are kept. The token is shown once; the owner later names the share by
        its `share_id` (see `list`).
        """
        validate_username(user)
        if not isinstance(conversation_id, str) or not _CONVERSATION_ID_RE.fullmatch(
            conversation_id
        ):
            raise InvalidShare("invalid conversation id")
        clean = _clean_snapshot(snapshot)
        token = new_token()
        digest = token_hash(token)
        now = time.time()
        record = {
            "hash": digest,
            "owner": user,
            "conversation_id": conversation_id,
            "created": now,
            "expires_at": expires_at,
            "snapshot": clean,
        }
        index_path = self._index_path(user)
        with locked(index_path, self.lock_timeout, StorageBusy):
            # Index first: a crash in between leaves an entry `list` skips, never an orphan
            # share its owner cannot see or revoke.
            index = self._load_index(index_path)
            index[digest] = {
                "conversation_id": conversation_id,
                "chat_name": clean["chat_name"],
                "created": now,
                "expires_at": expires_at,
            }
            write_json_atomic(index_path, index)
            write_json_atomic(self.dir / f"{digest}.json", record)
        log.info("share %s created", digest[:8])
        return token

    def get(self, token: object) -> dict[str, Any] | None:
        """Return `{chat_name, messages, shared_at}` for a live token; else None."""
        if not is_token_shaped(token):
            return None
        digest = token_hash(token)  # type: ignore[arg-type]
        try:
            record = read_json(self.dir / f"{digest}.json")
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        stored = record.get("hash")
        if not isinstance(stored, str) or not hmac.compare_digest(stored, digest):
            return None
        expires_at = record.get("expires_at")
        if isinstance(expires_at, int | float) and time.time() >= expires_at:
            return None
        snap = record.get("snapshot") or {}
        return {
            "chat_name": snap.get("chat_name", ""),
            "messages": snap.get("messages", []),
            "shared_at": record.get("created"),
        }

    def _remove(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.dir / f"{digest}.json").unlink()
            fsync_dir(self.dir)

    def revoke(self, user: str, token_or_share_id: str) -> None:
        """Revoke one of the user's shares by token or share id; raise `ShareNotFound` otherwise."""
        index_path = self._index_path(user)
        key = token_or_share_id
        with locked(index_path, self.lock_timeout, StorageBusy):
            index = self._load_index(index_path)
            if is_token_shaped(key):
                wanted = token_hash(key)
                matches = [d for d in index if hmac.compare_digest(d, wanted)]
            elif isinstance(key, str) and _SHARE_ID_RE.fullmatch(key):
                matches = [d for d in index if d.startswith(key)]
            else:
                matches = []
            if len(matches) != 1:
                raise ShareNotFound("no such share")
            digest = matches[0]
            # The share file goes before the index entry, so a crash never hides a live share.
            self._remove(digest)
            del index[digest]
            write_json_atomic(index_path, index)
        log.info("share %s revoked", digest[:8])

    def revoke_conversation(self, user: str, conversation_id: str) -> int:
        """Revoke every share of one conversation (call it when the conversation is deleted)."""
        index_path = self._index_path(user)
        with locked(index_path, self.lock_timeout, StorageBusy):
            index = self._load_index(index_path)
            gone = [d for d, e in index.items() if e.get("conversation_id") == conversation_id]
            for digest in gone:
                self._remove(digest)
                del index[digest]
            if gone:
                write_json_atomic(index_path, index)
        return len(gone)

    def list(self, user: str, conversation_id: str | None = None) -> builtins.list[ShareInfo]:
        """Return the user's live shares (of one conversation if given), newest first."""
        index = self._load_index(self._index_path(user))
        now = time.time()
        out = []
        for digest, e in index.items():
            if not _HASH_RE.fullmatch(digest) or not (self.dir / f"{digest}.json").exists():
                continue
            if conversation_id is not None and e.get("conversation_id") != conversation_id:
                continue
            expires_at = e.get("expires_at")
            if isinstance(expires_at, int | float) and now >= expires_at:
                continue
            out.append(
                ShareInfo(
                    share_id=digest[:SHARE_ID_CHARS],
                    conversation_id=str(e.get("conversation_id", "")),
                    chat_name=str(e.get("chat_name", "")),
                    created=float(e.get("created", 0.0)),
                    expires_at=expires_at if isinstance(expires_at, int | float) else None,
                )
            )
        return sorted(out, key=lambda s: s.created, reverse=True)
