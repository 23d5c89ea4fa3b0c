"""The JSON backend of server-side sessions: `.app/sessions/<sha256 of the id>.json` (0600).

The file's mtime is the session's last use, so a lookup reads one file and a touch is one utime.
Implements `SessionRecords` of `conversation_manager.store`; the rules (lifetime, idle timeout,
how often to touch) live in `app.accounts`. Imports neither Flask nor an SDK, and nothing of `app`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidId
from ..names import validate_user
from ..store import SessionRecord
from .state_files import app_dir, fsync_dir, locked, os_errors, write_json_atomic

DEFAULT_LOCK_TIMEOUT = 10.0
_KEY_RE = re.compile(r"[0-9a-f]{64}")

__all__ = ["JsonSessionRecords"]


def _record_from(data: Any, last_seen: float) -> SessionRecord | None:
    if not isinstance(data, dict):
        return None
    user, created, expires = data.get("user"), data.get("created"), data.get("expires")
    if not isinstance(user, str) or not isinstance(expires, int | float):
        return None
    if not isinstance(created, int | float):
        created = last_seen
    return SessionRecord(user, float(created), float(expires), last_seen)


class JsonSessionRecords:
    """Sessions, one file each; creation, per-user revocation and the sweep share `.sessions.lock`."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> None:
        self.dir = app_dir(data_dir, "sessions")
        self.lock_timeout = lock_timeout

    def _path(self, key: str) -> Path:
        if not isinstance(key, str) or _KEY_RE.fullmatch(key) is None:
            raise InvalidId("session")
        return self.dir / f"{key}.json"

    @staticmethod
    def _read(path: Path) -> tuple[bool, SessionRecord | None]:
        """Return (exists, record); a damaged file exists with no record."""
        try:
            with open(path, "rb") as f:
                raw = f.read()
                mtime = os.fstat(f.fileno()).st_mtime
        except FileNotFoundError:
            return False, None
        try:
            return True, _record_from(json.loads(raw), mtime)
        except ValueError:
            return True, None

    def put(self, key: str, record: SessionRecord) -> None:
        """Write the session file durably, with its mtime set to the record's last use."""
        validate_user(record.user)
        path = self._path(key)
        body = {
            "user": record.user,
            "created": record.created,
            "last_seen": record.last_seen,
            "expires": record.expires,
        }
        with locked(self.dir / ".sessions", self.lock_timeout), os_errors("creating a session"):
            write_json_atomic(path, body)
            os.utime(path, (record.last_seen, record.last_seen))

    def get(self, key: str) -> SessionRecord | None:
        """Return the session (last use from the file's mtime), or None."""
        with os_errors("reading a session"):
            return self._read(self._path(key))[1]

    def touch(self, key: str, at: float) -> None:
        """Set the file's mtime; utime on a revoked (deleted) file fails, so it stays revoked."""
        path = self._path(key)
        with os_errors("touching a session"), contextlib.suppress(FileNotFoundError):
            os.utime(path, (at, at))

    def delete(self, key: str) -> bool:
        """Remove the session's file (durably); tell whether it was there."""
        path = self._path(key)
        with os_errors("ending a session"):
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            fsync_dir(self.dir)
        return True

    def _files(self) -> Iterator[tuple[Path, SessionRecord | None]]:
        for entry in os.scandir(self.dir):
            name = entry.name
            if name.endswith(".json") and _KEY_RE.fullmatch(name[:-5]):
                exists, record = self._read(Path(entry.path))
                if exists:
                    yield Path(entry.path), record

    def delete_user(self, user: str, except_key: str | None = None) -> int:
        """Remove every session file of `user` except `except_key`'s."""
        validate_user(user)
        keep = self._path(except_key) if except_key is not None else None
        count = 0
        with locked(self.dir / ".sessions", self.lock_timeout), os_errors("ending sessions"):
            for path, record in self._files():
                if record is not None and record.user == user and path != keep:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                        count += 1
            if count:
                fsync_dir(self.dir)
        return count

    def sweep(self, *, expires_before: float, seen_before: float | None) -> int:
        """Remove expired, idle and damaged session files."""
        count = 0
        with locked(self.dir / ".sessions", self.lock_timeout), os_errors("sweeping sessions"):
            for path, record in self._files():
                gone = (
                    record is None
                    or record.expires <= expires_before
                    or (seen_before is not None and record.last_seen <= seen_before)
                )
                if gone:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                        count += 1
        return count
