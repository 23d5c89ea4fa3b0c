"""Server-side sessions: ids handed out once, found by their sha256, ended by deleting the record.

The rules live here (lifetime, idle timeout, how often last use is refreshed); the records are a
`conversation_manager.store.SessionRecords` (the JSON files by default). Imports no Flask.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from conversation_manager.errors import StorageError, StorageFull
from conversation_manager.json.sessions import JsonSessionRecords
from conversation_manager.store import SessionRecord, SessionRecords

from .errors import InvalidUsername
from .identifiers import is_token_shaped, short_ref, token_hash, validate_username

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_SESSION_LIFETIME",
    "MAX_TOUCH_INTERVAL",
    "SessionStore",
]

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT = 10.0
DEFAULT_SESSION_LIFETIME = 14 * 24 * 3600
# Last use is refreshed at most this often, so most lookups only read...
MAX_TOUCH_INTERVAL = 60.0
# ...and at least this many times per idle timeout, so an active user is never taken for idle.
TOUCHES_PER_IDLE_TIMEOUT = 4


class SessionStore:
    """Start, look up and end sessions; a session is live until it expires, idles out or is revoked."""

    def __init__(
        self,
        records: SessionRecords | str | os.PathLike[str],
        lifetime_seconds: float = DEFAULT_SESSION_LIFETIME,
        *,
        idle_timeout_seconds: float | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(records, str | os.PathLike):
            records = JsonSessionRecords(records, lock_timeout=lock_timeout)
        self.records: SessionRecords = records
        self.lifetime = float(lifetime_seconds)
        self.idle_timeout = idle_timeout_seconds
        self.clock = clock
        self.touch_interval = MAX_TOUCH_INTERVAL
        if idle_timeout_seconds is not None:
            self.touch_interval = min(
                MAX_TOUCH_INTERVAL, idle_timeout_seconds / TOUCHES_PER_IDLE_TIMEOUT
            )

    @staticmethod
    def _key(session_id: object) -> str | None:
        return token_hash(session_id) if is_token_shaped(session_id) else None  # type: ignore[arg-type]

    def create(self, user: str) -> str:
        """Start a session for `user` and return its id (only its sha256 is stored)."""
        validate_username(user)
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        record = SessionRecord(user=user, created=now, expires=now + self.lifetime, last_seen=now)
        self.records.put(token_hash(session_id), record)
        log.info("session %s created for %s", short_ref(session_id), user)
        return session_id

    def _live(self, session_id: object, now: float) -> tuple[str, SessionRecord] | None:
        key = self._key(session_id)
        if key is None:
            return None
        record = self.records.get(key)
        if record is None or now >= record.expires:
            return None
        if self.idle_timeout is not None and now - record.last_seen >= self.idle_timeout:
            return None
        try:
            validate_username(record.user)
        except InvalidUsername:
            return None
        return key, record

    def lookup(self, session_id: object) -> str | None:
        """Return the session's user, or None when it is malformed, unknown, expired or revoked."""
        now = self.clock()
        live = self._live(session_id, now)
        if live is None:
            return None
        key, record = live
        if now - record.last_seen >= self.touch_interval:
            try:
                self.records.touch(key, now)
            except (StorageFull, StorageError):
                # The session is still valid; it only looks a little idler than it is.
                log.warning("session %s: last use not refreshed", key[:8])
        return record.user

    def info(self, session_id: object) -> dict[str, Any] | None:
        """Return `{user, created, last_seen, expires}` of a live session, or None."""
        live = self._live(session_id, self.clock())
        if live is None:
            return None
        r = live[1]
        return {
            "user": r.user,
            "created": r.created,
            "last_seen": r.last_seen,
            "expires": r.expires,
        }

    def revoke(self, session_id: object) -> None:
        """End one session for every process at once."""
        key = self._key(session_id)
        if key is not None and self.records.delete(key):
            log.info("session %s revoked", key[:8])

    def revoke_all(self, user: str, except_session_id: str | None = None) -> int:
        """End every session of `user` except `except_session_id`; return how many ended."""
        validate_username(user)
        count = self.records.delete_user(user, except_key=self._key(except_session_id))
        log.info("%d sessions of %s revoked", count, user)
        return count

    def sweep_expired(self) -> int:
        """Remove expired (or idle, or damaged) sessions; return how many went."""
        now = self.clock()
        seen_before = now - self.idle_timeout if self.idle_timeout is not None else None
        return self.records.sweep(expires_before=now, seen_before=seen_before)
