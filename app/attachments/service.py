"""The attachment rules: upload (check, quota, store), resolve a turn's ids, the sweep of unused files.

"Used" means listed by a message of one of the user's conversations or by one of the user's share
snapshots; an unused file is removed once it is older than 24 h, by the start-up sweep and on
upload (at most once an hour per user and process). The content checks are `checks`, the copies
sent upstream `prepare`. Must not import Flask.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import conversation_manager as cm
from app.attachments import checks, prepare
from app.attachments.errors import AttachmentRefused, BadAttachmentRequest
from conversation_manager.errors import QuotaExceeded
from conversation_manager.json.attachments import attachment_id
from conversation_manager.names import is_valid_attachment_id

log = logging.getLogger(__name__)

UNUSED_AFTER = 24 * 3600.0  # an unused file older than this is swept
SWEEP_EVERY = 3600.0  # the upload sweep runs at most this often per user (and process)
MAX_TURN_ATTACHMENTS = 10


@dataclass(frozen=True)
class AttachmentSettings:
    """The limits of uploads (API.md "Configuration"/"Attachments")."""

    max_bytes: int = 10 * 1024 * 1024
    quota_bytes: int = 500 * 1000 * 1000
    text_max_bytes: int = 256 * 1024
    max_pixels: int = 40_000_000
    unused_after: float = UNUSED_AFTER
    sweep_every: float = SWEEP_EVERY

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> AttachmentSettings:
        """Read the CHAT_ATTACHMENT_* settings."""
        return cls(
            max_bytes=settings["CHAT_ATTACHMENT_MAX_BYTES"],
            quota_bytes=settings["CHAT_ATTACHMENT_QUOTA_BYTES"],
            text_max_bytes=settings["CHAT_TEXT_ATTACHMENT_MAX_BYTES"],
            max_pixels=settings["CHAT_IMAGE_MAX_PIXELS"],
        )

    @property
    def limits(self) -> checks.CheckLimits:
        """The limits the content checks use."""
        return checks.CheckLimits(self.max_bytes, self.text_max_bytes, self.max_pixels)


class AttachmentService:
    """Uploads, look-ups, the copies sent upstream and the sweep, over an `AttachmentStore`."""

    def __init__(
        self,
        store: cm.AttachmentStore,
        settings: AttachmentSettings,
        *,
        conversations: cm.ConversationStore,
        shared_ids: Callable[[str], set[str]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.conversations = conversations
        self.shared_ids = shared_ids  # the ids the user's share snapshots list
        self.clock = clock
        self._swept: dict[str, float] = {}
        self._swept_guard = threading.Lock()

    # --- uploads and look-ups ------------------------------------------------------------------

    def upload(
        self, user: str, filename: str | None, declared_type: str | None, data: bytes
    ) -> cm.Attachment:
        """Check and store an upload; raise `AttachmentRefused` (bad_attachment, too large, quota)."""
        cm.validate_user(user)
        name = checks.clean_name(filename)
        found = checks.check(name, declared_type, data, self.settings.limits)
        self._maybe_sweep(user)
        aid = attachment_id(data)
        record = cm.Attachment(
            id=aid,
            kind="image" if found.kind == "image" else "text",
            name=name,
            media_type=found.media_type,
            bytes=len(data),
            width=found.width,
            height=found.height,
        )
        try:
            # The quota is checked by the store under the lock of the write itself: concurrent
            # uploads cannot all pass one check made before any of them is stored.
            return self.store.put(user, data, record, quota=self.settings.quota_bytes)
        except QuotaExceeded:
            raise AttachmentRefused(
                "quota",
                f"your attachments would take more than {self.settings.quota_bytes:,} bytes; "
                "files no conversation uses are removed after 24 hours",
            ) from None

    def get(self, user: str, aid: str) -> cm.Attachment | None:
        """Return the user's attachment, or None (another user's id, an unknown or malformed one)."""
        return self.store.get(user, aid) if isinstance(aid, str) else None

    def read(self, user: str, aid: str) -> bytes:
        """Return the content of the user's attachment; `cm.NotFound` when absent."""
        return self.store.read(user, aid)

    def resolve(self, user: str, ids: list[str]) -> list[cm.Attachment]:
        """Return the user's attachments for a turn's `attachments` ids, in order, once each.

        Raises `BadAttachmentRequest` for an id this user has not uploaded (or a malformed one).
        """
        out: list[cm.Attachment] = []
        seen: set[str] = set()
        if len(ids) > MAX_TURN_ATTACHMENTS:
            raise BadAttachmentRequest(f"at most {MAX_TURN_ATTACHMENTS} attachments per message")
        for aid in ids:
            if not is_valid_attachment_id(aid):
                raise BadAttachmentRequest("an attachment id is malformed")
            if aid in seen:
                continue
            found = self.store.get(user, aid)
            if found is None:
                raise BadAttachmentRequest(f"no attachment {aid}")
            seen.add(aid)
            out.append(found)
        for attachment in out:
            # A file uploaded long ago and sent only now must outlive the turn's commit.
            self.store.touch(user, attachment.id)
        return out

    # --- the copies sent upstream --------------------------------------------------------------

    def image_for(self, user: str, attachment: cm.Attachment, protocol: str) -> tuple[str, bytes]:
        """Return (media_type, data) of the image copy sent to a provider of `protocol`."""
        return prepare.image_for(self.store, user, attachment, protocol)

    def text_block(self, user: str, attachment: cm.Attachment) -> str:
        """Return a text attachment as the fenced block the model reads."""
        return prepare.text_block(self.store, user, attachment)

    # --- the sweep -----------------------------------------------------------------------------

    def used_ids(self, user: str) -> set[str] | None:
        """The ids the user's conversations and shares list; None when one could not be read."""
        ids: set[str] = set()
        try:
            for summary in self.conversations.list(user):
                if not summary.history_available:
                    return None  # a damaged file might list some: keep everything
                conversation = self.conversations.get(user, summary.id)
                for message in conversation.messages:
                    ids.update(a.id for a in message.attachments)
            if self.shared_ids is not None:
                ids |= self.shared_ids(user)
        except cm.NotFound:
            return None  # deleted while listed: try again next time
        return ids

    def sweep(self, user: str) -> int:
        """Remove the user's unused attachments older than 24 h; return how many went."""
        cutoff = self.clock() - self.settings.unused_after
        if not self.store.stale(user, cutoff):
            return 0  # nothing old enough: no need to read the conversations
        keep = self.used_ids(user)
        if keep is None:
            return 0
        removed = self.store.sweep(user, keep, cutoff)
        if removed:
            log.info("attachments_swept user=%s removed=%d", user, removed)
        return removed

    def sweep_all(self) -> int:
        """The start-up sweep: every user who has attachments; a failing user is skipped."""
        total = 0
        for user in self.store.users():
            try:
                total += self.sweep(user)
            except (cm.ConversationError, OSError):
                log.warning("attachment_sweep_skipped user=%s", user, exc_info=True)
            with self._swept_guard:
                self._swept[user] = self.clock()
        return total

    def _maybe_sweep(self, user: str) -> None:
        """Sweep on upload, at most once per `sweep_every` per user; never fail the upload."""
        now = self.clock()
        with self._swept_guard:
            last = self._swept.get(user)
            if last is not None and now - last < self.settings.sweep_every:
                return
            self._swept[user] = now
        try:
            self.sweep(user)
        except (cm.ConversationError, OSError):
            log.warning("attachment_sweep_skipped user=%s", user, exc_info=True)
