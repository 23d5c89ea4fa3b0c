"""Read-only share links: a snapshot of one branch, reachable by an unguessable token.

The rules live here (the token, its hash, what a snapshot keeps, expiry, who may revoke); the
records are `conversation_manager.store.ShareRecords` (the JSON files by default), which keep only
sha256(token). Must not import Flask.
"""

from __future__ import annotations

import builtins
import hmac
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from app.accounts import StorageBusy, is_token_shaped, token_hash, validate_username
from conversation_manager.json.shares import JsonShareRecords
from conversation_manager.names import is_valid_attachment_id, is_valid_conversation_id
from conversation_manager.store import ShareRecord, ShareRecords

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "SHARE_ID_CHARS",
    "InvalidShare",
    "ShareError",
    "ShareInfo",
    "ShareNotFound",
    "ShareStore",
    "StorageBusy",
    "is_token_shaped",
    "new_token",
    "token_hash",
]

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT = 10.0
SHARE_ID_CHARS = 16  # hex digits of the token hash: 64 bits, enough to name one's own shares
_SHARE_ID_RE = re.compile(rf"[0-9a-f]{{{SHARE_ID_CHARS}}}")
_ROLES = ("user", "assistant")


class ShareError(Exception):
    """Root of this module's errors (not of `StorageBusy`, which is the store's)."""


class InvalidShare(ShareError):
    """A bad conversation id or snapshot (HTTP 400 `bad_request` / `invalid_id`)."""


class ShareNotFound(ShareError):
    """No share of this user has that token or id (HTTP 404 `not_found`)."""


@dataclass(frozen=True)
class ShareInfo:
    """One share as its owner sees it (never the token: it is not kept)."""

    share_id: str
    conversation_id: str
    chat_name: str
    created: float
    expires_at: float | None


def _clean_attachments(raw: Any) -> builtins.list[dict[str, str]]:
    """Keep each attachment reference's id, kind, name and media type (API "Attachments")."""
    if not isinstance(raw, builtins.list):
        return []
    out = []
    for a in raw:
        if not isinstance(a, dict) or not is_valid_attachment_id(a.get("id")):
            continue
        out.append({k: str(a.get(k, "")) for k in ("id", "kind", "name", "media_type")})
    return out


def _clean_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Keep only the chat name and each message's role, text, timestamp and attachments."""
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("messages"), builtins.list):
        raise InvalidShare("snapshot needs a messages list")
    messages = []
    for m in snapshot["messages"]:
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise InvalidShare("each message needs a role of user or assistant")
        text = m.get("text")
        stamp = m.get("timestamp")
        clean: dict[str, Any] = {
            "role": m["role"],
            "text": text if isinstance(text, str) else "",
            "timestamp": float(stamp) if isinstance(stamp, int | float) else None,
        }
        attachments = _clean_attachments(m.get("attachments"))
        if attachments:
            clean["attachments"] = attachments
        messages.append(clean)
    name = snapshot.get("chat_name")
    return {"chat_name": name if isinstance(name, str) else "", "messages": messages}


def _snapshot_attachments(snapshot: dict[str, Any]) -> set[str]:
    """The attachment ids a stored snapshot's messages list."""
    ids: set[str] = set()
    for m in snapshot.get("messages") or []:
        if isinstance(m, dict):
            ids.update(a["id"] for a in _clean_attachments(m.get("attachments")))
    return ids


def new_token() -> str:
    """Return a fresh share token: 32 random bytes (256 bits), 43 URL-safe characters."""
    return secrets.token_urlsafe(32)


def _live(expires_at: float | None, now: float) -> bool:
    return expires_at is None or now < expires_at


class ShareStore:
    """Create, show, list and revoke share links."""

    def __init__(
        self,
        records: ShareRecords | str | os.PathLike[str],
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        if isinstance(records, str | os.PathLike):
            records = JsonShareRecords(records, lock_timeout=lock_timeout)
        self.records: ShareRecords = records

    def create(
        self,
        user: str,
        conversation_id: str,
        snapshot: dict[str, Any],
        *,
        expires_at: float | None = None,
    ) -> str:
        """Store a snapshot `{chat_name, messages: [{role, text, timestamp, attachments?}]}`;
        return its token.

        Only these fields are kept. The token is shown once; the owner later names the share by
        its `share_id` (see `list`).
        """
        validate_username(user)
        if not isinstance(conversation_id, str) or not is_valid_conversation_id(conversation_id):
            raise InvalidShare("invalid conversation id")
        clean = _clean_snapshot(snapshot)
        token = new_token()
        digest = token_hash(token)
        self.records.put(
            ShareRecord(
                digest=digest,
                owner=user,
                conversation_id=conversation_id,
                created=time.time(),
                expires_at=expires_at,
                snapshot=clean,
            )
        )
        log.info("share %s created", digest[:8])
        return token

    def get(self, token: object) -> dict[str, Any] | None:
        """Return `{chat_name, messages, shared_at}` for a live token; else None."""
        if not is_token_shaped(token):
            return None
        digest = token_hash(token)  # type: ignore[arg-type]
        record = self.records.get(digest)
        if record is None or not hmac.compare_digest(record.digest, digest):
            return None
        if not _live(record.expires_at, time.time()):
            return None
        return {
            "chat_name": record.snapshot.get("chat_name", ""),
            "messages": record.snapshot.get("messages", []),
            "shared_at": record.created,
        }

    def attachment_owner(self, token: object, attachment_id: str) -> str | None:
        """Return the owner of a live share whose snapshot lists `attachment_id`; else None."""
        if not is_token_shaped(token):
            return None
        record = self.records.get(token_hash(token))  # type: ignore[arg-type]
        if record is None or not _live(record.expires_at, time.time()):
            return None
        return record.owner if attachment_id in _snapshot_attachments(record.snapshot) else None

    def attachment_ids(self, owner: str) -> set[str]:
        """Return every attachment id the owner's share snapshots list (kept by the sweep)."""
        validate_username(owner)
        ids: set[str] = set()
        for summary in self.records.of_owner(owner):
            record = self.records.get(summary.digest)
            if record is not None and record.owner == owner:
                ids |= _snapshot_attachments(record.snapshot)
        return ids

    def _resolve(self, user: str, token_or_share_id: object) -> str:
        """Return the digest of the one share of `user` the token or share id names."""
        digests = [s.digest for s in self.records.of_owner(user)]
        key = token_or_share_id
        if is_token_shaped(key):
            wanted = token_hash(key)  # type: ignore[arg-type]
            matches = [d for d in digests if hmac.compare_digest(d, wanted)]
        elif isinstance(key, str) and _SHARE_ID_RE.fullmatch(key):
            matches = [d for d in digests if d.startswith(key)]
        else:
            matches = []
        if len(matches) != 1:
            raise ShareNotFound("no such share")
        return matches[0]

    def revoke(self, user: str, token_or_share_id: str) -> None:
        """Revoke one of the user's shares by token or share id; raise `ShareNotFound` otherwise."""
        validate_username(user)
        digest = self._resolve(user, token_or_share_id)
        if not self.records.delete(user, digest):
            raise ShareNotFound("no such share")  # revoked meanwhile
        log.info("share %s revoked", digest[:8])

    def revoke_conversation(self, user: str, conversation_id: str) -> int:
        """Revoke every share of one conversation (call it when the conversation is deleted)."""
        validate_username(user)
        return self.records.delete_conversation(user, conversation_id)

    def list(self, user: str, conversation_id: str | None = None) -> builtins.list[ShareInfo]:
        """Return the user's live shares (of one conversation if given), newest first."""
        validate_username(user)
        now = time.time()
        out = [
            ShareInfo(
                share_id=s.digest[:SHARE_ID_CHARS],
                conversation_id=s.conversation_id,
                chat_name=s.chat_name,
                created=s.created,
                expires_at=s.expires_at,
            )
            for s in self.records.of_owner(user)
            if (conversation_id is None or s.conversation_id == conversation_id)
            and _live(s.expires_at, now)
        ]
        return sorted(out, key=lambda s: s.created, reverse=True)
