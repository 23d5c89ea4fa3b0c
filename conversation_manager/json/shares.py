"""The JSON backend of share links: `.app/shares/<sha256 of the token>.json`, listed per owner in
`.app/shares/.by-owner/<owner>.json`.

Implements `ShareRecords` of `conversation_manager.store`; the rules (token shape and hashing,
expiry, what a snapshot keeps) live in `app.shares`. Imports neither Flask nor an SDK, nor `app`.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

from ..errors import InvalidId
from ..names import validate_user
from ..store import ShareRecord, ShareSummary
from .state_files import app_dir, fsync_dir, locked, os_errors, read_json, write_json_atomic

DEFAULT_LOCK_TIMEOUT = 10.0
_DIGEST_RE = re.compile(r"[0-9a-f]{64}")

__all__ = ["JsonShareRecords"]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class JsonShareRecords:
    """Share files plus a small per-owner index, both changed under the owner's index lock."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> None:
        self.dir = app_dir(data_dir, "shares")
        self.index_dir = app_dir(data_dir, "shares", ".by-owner")
        self.lock_timeout = lock_timeout

    def _share_path(self, digest: str) -> Path:
        if not isinstance(digest, str) or _DIGEST_RE.fullmatch(digest) is None:
            raise InvalidId("share")
        return self.dir / f"{digest}.json"

    def _index_path(self, owner: str) -> Path:
        return self.index_dir / f"{validate_user(owner)}.json"

    @staticmethod
    def _load_index(path: Path) -> dict[str, dict[str, Any]]:
        try:
            data = read_json(path)
        except ValueError:
            data = None
        return data if isinstance(data, dict) else {}

    def _remove_share(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._share_path(digest).unlink()
            fsync_dir(self.dir)

    def put(self, record: ShareRecord) -> None:
        """Add the index entry, then the share file; a failed share write takes the entry back."""
        share_path = self._share_path(record.digest)
        index_path = self._index_path(record.owner)
        body = {
            "hash": record.digest,
            "owner": record.owner,
            "conversation_id": record.conversation_id,
            "created": record.created,
            "expires_at": record.expires_at,
            "snapshot": record.snapshot,
        }
        with locked(index_path, self.lock_timeout), os_errors("creating a share"):
            # Index first: a crash in between leaves an entry `of_owner` skips, never an orphan
            # share its owner cannot see or revoke.
            index = self._load_index(index_path)
            before = dict(index)
            index[record.digest] = {
                "conversation_id": record.conversation_id,
                "chat_name": str(record.snapshot.get("chat_name", "")),
                "created": record.created,
                "expires_at": record.expires_at,
            }
            write_json_atomic(index_path, index)
            try:
                write_json_atomic(share_path, body)
            except OSError:
                with contextlib.suppress(OSError):
                    write_json_atomic(index_path, before)
                raise

    def get(self, digest: str) -> ShareRecord | None:
        """Return the share, or None when unknown, malformed or damaged."""
        try:
            path = self._share_path(digest)
        except InvalidId:
            return None
        with os_errors("reading a share"):
            try:
                data = read_json(path)
            except ValueError:
                return None
        if not isinstance(data, dict):
            return None
        snapshot, stored = data.get("snapshot"), data.get("hash")
        owner, cid = data.get("owner"), data.get("conversation_id")
        if not isinstance(stored, str) or not isinstance(snapshot, dict):
            return None
        return ShareRecord(
            digest=stored,
            owner=owner if isinstance(owner, str) else "",
            conversation_id=cid if isinstance(cid, str) else "",
            created=_number(data.get("created")) or 0.0,
            expires_at=_number(data.get("expires_at")),
            snapshot=snapshot,
        )

    def of_owner(self, owner: str) -> list[ShareSummary]:
        """Return the owner's indexed shares whose file exists."""
        index_path = self._index_path(owner)
        out = []
        with os_errors("listing shares"):
            for digest, e in self._load_index(index_path).items():
                if not _DIGEST_RE.fullmatch(digest) or not isinstance(e, dict):
                    continue
                if not (self.dir / f"{digest}.json").exists():
                    continue
                out.append(
                    ShareSummary(
                        digest=digest,
                        conversation_id=str(e.get("conversation_id", "")),
                        chat_name=str(e.get("chat_name", "")),
                        created=_number(e.get("created")) or 0.0,
                        expires_at=_number(e.get("expires_at")),
                    )
                )
        return out

    def delete(self, owner: str, digest: str) -> bool:
        """Remove the share file, then its index entry (a crash never hides a live share)."""
        index_path = self._index_path(owner)
        self._share_path(digest)
        with locked(index_path, self.lock_timeout), os_errors("revoking a share"):
            index = self._load_index(index_path)
            if digest not in index:
                return False
            self._remove_share(digest)
            del index[digest]
            write_json_atomic(index_path, index)
        return True

    def delete_conversation(self, owner: str, conversation_id: str) -> int:
        """Remove every share of one conversation of the owner."""
        index_path = self._index_path(owner)
        with locked(index_path, self.lock_timeout), os_errors("revoking shares"):
            index = self._load_index(index_path)
            gone = [
                d
                for d, e in index.items()
                if isinstance(e, dict) and e.get("conversation_id") == conversation_id
            ]
            for digest in gone:
                if _DIGEST_RE.fullmatch(digest):
                    self._remove_share(digest)
                del index[digest]
            if gone:
                write_json_atomic(index_path, index)
        return len(gone)
