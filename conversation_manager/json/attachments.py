"""The JSON backend of attachments: content-addressed files per user under `<user>/.attachments/`.

- `<sha256>`: the content, named by its full sha256 (so the same bytes are one file per user);
- `att_<24 hex>.json`: the metadata sidecar (`{"sha256", "attachment"}`), the attachment's id being
  `att_` + the first 24 hex digits of the sha256; its mtime is when it was last stored;
- `<sha256>.<variant>`: a derived copy (the downscaled image sent to one kind of provider).

Implements `AttachmentStore` of `conversation_manager.store`. Nothing is shared across users, and
no path is built from an unchecked id (`^att_[0-9a-f]{24}$`, variants `^[a-z0-9_-]{1,40}$`).
Writes are atomic (`atomic_files.write_atomic`); puts and sweeps of one user take the lock
`.attachments/.lock`. Imports neither Flask nor an SDK, nor `app`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path

from ..atomic_files import (
    Damaged,
    Missing,
    make_private_dir,
    read_file,
    storage_error,
    write_atomic,
)
from ..errors import NotFound, QuotaExceeded, StorageError
from ..models import Attachment
from ..names import ATTACHMENT_ID_RE, is_valid_attachment_id, is_valid_user
from .layout import check_dir, user_dir
from .state_files import locked, os_errors

ATTACHMENTS_DIR = ".attachments"
ID_RE = ATTACHMENT_ID_RE  # the one definition is `conversation_manager.names`
_SHA_RE = re.compile(r"[0-9a-f]{64}")
_VARIANT_RE = re.compile(r"[a-z0-9_-]{1,40}")
DEFAULT_LOCK_TIMEOUT = 10.0

__all__ = ["ATTACHMENTS_DIR", "ID_RE", "JsonAttachmentStore", "attachment_id"]


def attachment_id(data: bytes) -> str:
    """Return the id of this content: `att_` + the first 24 hex digits of its sha256."""
    return "att_" + hashlib.sha256(data).hexdigest()[:24]


def _valid_id(attachment_id: object) -> bool:
    return is_valid_attachment_id(attachment_id)


class JsonAttachmentStore:
    """Attachments as files in each user's directory (see the module docstring)."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        durable: bool = True,
    ) -> None:
        self.data_dir = Path(os.path.realpath(data_dir))
        self.lock_timeout = lock_timeout
        self.durable = durable

    # --- paths -------------------------------------------------------------------------------

    def _dir(self, user: str) -> Path:
        return user_dir(self.data_dir, user) / ATTACHMENTS_DIR

    def _existing_dir(self, user: str) -> Path | None:
        """The user's attachment directory, or None when the user has none yet."""
        path = self._dir(user)
        if not check_dir(path.parent) or not check_dir(path):
            return None
        return path

    def _make_dir(self, user: str) -> Path:
        path = self._dir(user)
        with os_errors("creating the attachment directory"):
            make_private_dir(path.parent, durable=self.durable)
            make_private_dir(path, durable=self.durable)
        return path

    @staticmethod
    def _meta_path(directory: Path, attachment_id: str) -> Path:
        return directory / f"{attachment_id}.json"

    def _meta(self, directory: Path, attachment_id: str) -> tuple[str, Attachment] | None:
        """Return (sha256, record) from the sidecar, or None when absent or unreadable."""
        try:
            raw, _ = read_file(self._meta_path(directory, attachment_id))
        except (Missing, Damaged):
            return None
        except OSError as exc:
            raise storage_error(exc, "reading an attachment") from exc
        try:
            body = json.loads(raw)
            sha = body["sha256"]
            record = Attachment.model_validate(body["attachment"])
        except (ValueError, KeyError, TypeError):
            return None  # a damaged sidecar: the attachment is gone (the sweep removes it)
        if not isinstance(sha, str) or _SHA_RE.fullmatch(sha) is None or record.id != attachment_id:
            return None
        return sha, record

    # --- AttachmentStore ---------------------------------------------------------------------

    def put(
        self, user: str, data: bytes, attachment: Attachment, *, quota: int | None = None
    ) -> Attachment:
        """Store the content and its sidecar; the same content again refreshes its time (and name).

        With `quota`, new content that would take the user's stored bytes past it raises
        QuotaExceeded; the check is under the lock the write holds.
        """
        sha = hashlib.sha256(data).hexdigest()
        if attachment.id != "att_" + sha[:24]:
            raise ValueError("the attachment id is not that of its content")
        directory = self._make_dir(user)
        meta_path = self._meta_path(directory, attachment.id)
        with locked(directory / ".lock", self.lock_timeout), os_errors("storing an attachment"):
            found = self._meta(directory, attachment.id)
            if found is not None and found[0] != sha:
                raise StorageError("attachment id collision")
            have_content = found is not None and (directory / sha).is_file()
            if have_content and found is not None and found[1] == attachment:
                os.utime(meta_path)  # a re-upload is fresh again for the sweep
                return attachment
            if quota is not None and not (directory / sha).is_file():
                used = sum(self._entries(directory)[2].values())
                if used + len(data) > quota:
                    raise QuotaExceeded(used, quota)
            # Content first, then the sidecar that makes it visible: a crash between leaves an
            # orphan content file, which the sweep removes. The same content under another name
            # only rewrites the sidecar (the latest name wins; messages keep their own copy).
            if not have_content:
                write_atomic(directory / sha, data, durable=self.durable)
            body = {"sha256": sha, "attachment": attachment.model_dump(mode="json")}
            encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            write_atomic(meta_path, encoded, durable=self.durable)
        return attachment

    def get(self, user: str, attachment_id: str) -> Attachment | None:
        """Return the user's attachment's metadata, or None (also for an id of the wrong shape)."""
        if not _valid_id(attachment_id):
            user_dir(self.data_dir, user)  # still refuse a bad user name
            return None
        directory = self._existing_dir(user)
        if directory is None:
            return None
        found = self._meta(directory, attachment_id)
        return None if found is None else found[1]

    def read(self, user: str, attachment_id: str) -> bytes:
        """Return the content; NotFound when the user has no such attachment."""
        directory = self._existing_dir(user) if _valid_id(attachment_id) else None
        found = None if directory is None else self._meta(directory, attachment_id)
        if directory is None or found is None:
            user_dir(self.data_dir, user)
            raise NotFound("attachment")
        try:
            data, _ = read_file(directory / found[0])
        except (Missing, Damaged):
            raise NotFound("attachment") from None
        except OSError as exc:
            raise storage_error(exc, "reading an attachment") from exc
        return data

    def touch(self, user: str, attachment_id: str) -> None:
        """Set the attachment's stored time to now; nothing when there is no such attachment."""
        directory = self._existing_dir(user) if _valid_id(attachment_id) else None
        if directory is None:
            return
        with (
            locked(directory / ".lock", self.lock_timeout),
            os_errors("touching an attachment"),
            contextlib.suppress(FileNotFoundError),
        ):
            os.utime(self._meta_path(directory, attachment_id))

    def _entries(self, directory: Path) -> tuple[dict[str, float], set[str], dict[str, int]]:
        """(sidecar id -> mtime, content sha names, content sha -> size) of one directory."""
        sidecars: dict[str, float] = {}
        contents: dict[str, int] = {}
        others: set[str] = set()
        with os_errors("listing attachments"), os.scandir(directory) as it:
            for entry in it:
                name = entry.name
                if name.endswith(".json") and ID_RE.fullmatch(name[:-5]):
                    with contextlib.suppress(FileNotFoundError):
                        sidecars[name[:-5]] = entry.stat(follow_symlinks=False).st_mtime
                elif _SHA_RE.fullmatch(name):
                    with contextlib.suppress(FileNotFoundError):
                        contents[name] = entry.stat(follow_symlinks=False).st_size
                else:
                    others.add(name)
        return sidecars, others, contents

    def used_bytes(self, user: str) -> int:
        """Return the bytes of the user's stored contents (variants are not counted)."""
        directory = self._existing_dir(user)
        if directory is None:
            return 0
        _, _, contents = self._entries(directory)
        return sum(contents.values())

    def stale(self, user: str, older_than: float) -> list[str]:
        """Return the ids of the user's attachments last stored before `older_than`."""
        directory = self._existing_dir(user)
        if directory is None:
            return []
        sidecars, _, _ = self._entries(directory)
        return sorted(aid for aid, mtime in sidecars.items() if mtime < older_than)

    def sweep(self, user: str, keep: set[str], older_than: float) -> int:
        """Remove attachments not in `keep` last stored before `older_than`, with their variants.

        Old ones in `keep` are marked fresh. Content files no sidecar names (a crashed put) and
        old temporary files go too.
        """
        directory = self._existing_dir(user)
        if directory is None:
            return 0
        removed = 0
        with locked(directory / ".lock", self.lock_timeout), os_errors("sweeping attachments"):
            sidecars, others, contents = self._entries(directory)
            live: set[str] = set()
            gone: set[str] = set()
            for aid, mtime in sidecars.items():
                found = self._meta(directory, aid)
                if found is not None and (aid in keep or mtime >= older_than):
                    live.add(found[0])
                    if mtime < older_than:
                        # Used: fresh again, so the next sweeps skip reading the conversations.
                        os.utime(self._meta_path(directory, aid))
                    continue
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._meta_path(directory, aid))
                if found is not None:
                    gone.add(found[0])
                removed += 1
            for name in [*contents, *others]:
                sha = name.partition(".")[0]
                if sha in live or name.startswith(".lock"):
                    continue
                path = directory / name
                with contextlib.suppress(FileNotFoundError):
                    # A file no sidecar names may be a put in progress (content before sidecar)
                    # or its temporary file: only old ones go.
                    if sha in gone or path.lstat().st_mtime < older_than:
                        path.unlink()
        return removed

    def users(self) -> list[str]:
        """Return the users who have an attachment directory (for the start-up sweep)."""
        out = []
        with os_errors("listing users"), os.scandir(self.data_dir) as it:
            for entry in it:
                if (
                    is_valid_user(entry.name)
                    and entry.is_dir(follow_symlinks=False)
                    and os.path.isdir(os.path.join(entry.path, ATTACHMENTS_DIR))
                ):
                    out.append(entry.name)
        return sorted(out)

    def read_variant(self, user: str, attachment_id: str, variant: str) -> bytes | None:
        """Return the derived copy `variant` of the attachment, or None."""
        if not _VARIANT_RE.fullmatch(variant):
            raise ValueError("bad variant name")
        directory = self._existing_dir(user) if _valid_id(attachment_id) else None
        found = None if directory is None else self._meta(directory, attachment_id)
        if directory is None or found is None:
            return None
        try:
            data, _ = read_file(directory / f"{found[0]}.{variant}")
        except (Missing, Damaged):
            return None
        except OSError as exc:
            raise storage_error(exc, "reading an attachment") from exc
        return data

    def put_variant(self, user: str, attachment_id: str, variant: str, data: bytes) -> None:
        """Store a derived copy of an existing attachment; NotFound when there is no such one."""
        if not _VARIANT_RE.fullmatch(variant):
            raise ValueError("bad variant name")
        directory = self._existing_dir(user) if _valid_id(attachment_id) else None
        found = None if directory is None else self._meta(directory, attachment_id)
        if directory is None or found is None:
            raise NotFound("attachment")
        with os_errors("storing an attachment variant"):
            # A cache: losing it in a crash costs a recomputation, so no fsync.
            write_atomic(directory / f"{found[0]}.{variant}", data, durable=False)
