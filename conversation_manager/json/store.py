"""The JSON-file conversation store: one file per conversation, atomic writes, per-user filelock.

Layout and guarantees: see docs/readme-storage.md. Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from pydantic import ValidationError

from ..atomic_files import (
    Damaged,
    Missing,
    fsync_dir,
    make_private_dir,
    read_file,
    storage_error,
    write_atomic,
)
from ..errors import (
    ConversationExists,
    HistoryUnavailable,
    InvalidParent,
    NotFound,
    StorageBusy,
    StorageError,
)
from ..models import (
    ROOT,
    SCHEMA_VERSION,
    ContextMode,
    Conversation,
    ConversationSummary,
    FinishStatus,
    Legacy,
    Message,
    MessageError,
    Usage,
    new_conversation_id,
    new_message_id,
)
from ..names import is_valid_conversation_id, is_valid_user, validate_conversation_id, validate_user
from .index import IndexEntry, append_index, entry_line, file_key, read_index, rewrite_index
from .layout import (
    CORRUPT_DIR,
    LOCK_NAME,
    TMP_MARK,
    TURNS_DIR,
    check_dir,
    conversation_path,
    user_dir,
)

log = logging.getLogger(__name__)

_QUARANTINE_RE = re.compile(r"(?P<id>[A-Za-z0-9_-]{1,64})-(?P<ts>\d{8}T\d{12}Z)\.json")
_FINISH_STATUSES = frozenset({"completed", "incomplete", "stopped", "failed"})
_INTERRUPTED_TEXT = "The answer was interrupted before it finished."


def _now() -> float:
    return time.time()


class JsonConversationStore:
    """Conversations as JSON files under `data_dir/<user>/<id>.json`."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, lock_timeout: float = 10.0, durable: bool = True
    ) -> None:
        self.data_dir = Path(os.path.realpath(data_dir))
        self.lock_timeout = lock_timeout
        self.durable = durable
        self._locks: dict[str, FileLock] = {}
        self._locks_guard = threading.Lock()

    # ----------------------------------------------------------------- locking and paths

    def _lock_for(self, udir: Path) -> FileLock:
        key = str(udir / LOCK_NAME)
        with self._locks_guard:
            lock = self._locks.get(key)
            if lock is None:
                # One object per path (two on one path in one thread deadlock-detect); the default
                # thread_local=True is what makes threads sharing it exclude each other.
                lock = FileLock(key, timeout=self.lock_timeout, poll_interval=0.01)
                self._locks[key] = lock
            return lock

    @contextlib.contextmanager
    def _locked(self, udir: Path) -> Iterator[None]:
        lock = self._lock_for(udir)
        try:
            lock.acquire()
        except Timeout as exc:
            raise StorageBusy(retry_after=max(1, round(self.lock_timeout))) from exc
        except OSError as exc:
            raise storage_error(exc, "locking") from exc
        try:
            yield
        finally:
            lock.release()

    def _udir(self, user: str, *, create: bool) -> Path | None:
        udir = user_dir(self.data_dir, user)
        if check_dir(udir):
            return udir
        if not create:
            return None
        try:
            if not self.data_dir.is_dir():
                os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
            make_private_dir(udir, durable=self.durable)
        except OSError as exc:
            raise storage_error(exc, "creating the user directory") from exc
        check_dir(udir)
        return udir

    def ensure_user_dir(self, user: str) -> Path:
        """Return the user's directory, creating it durably if it does not exist yet."""
        validate_user(user)
        udir = self._udir(user, create=True)
        assert udir is not None
        return udir

    def turn_dir(self, user: str) -> Path:
        """Return the user's directory for turns in flight (`<user>/.turns`), creating it."""
        udir = self.ensure_user_dir(user)
        tdir = udir / TURNS_DIR
        try:
            make_private_dir(tdir, durable=False)
        except OSError as exc:
            raise storage_error(exc, "creating the turns directory") from exc
        return tdir

    # ----------------------------------------------------------------- reading

    def _parse(self, data: bytes, cid: str) -> Conversation:
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

    def _read(self, udir: Path, cid: str) -> tuple[Conversation, os.stat_result]:
        """Read and parse; raise Missing, Damaged or StorageError (never writes)."""
        try:
            data, st = read_file(conversation_path(udir, cid))
        except OSError as exc:
            raise storage_error(exc, "reading") from exc
        return self._parse(data, cid), st

    def _quarantined(self, udir: Path, cid: str) -> list[Path]:
        cdir = udir / CORRUPT_DIR
        try:
            names = os.listdir(cdir)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise storage_error(exc, "listing damaged files") from exc
        found = []
        for name in names:
            match = _QUARANTINE_RE.fullmatch(name)
            if match and match["id"] == cid:
                found.append(cdir / name)
        return found

    def _quarantine(self, user: str, udir: Path, cid: str, reason: str) -> None:
        """Move a damaged file aside to `.corrupt/<id>-<time>.json` (lock held); never rewrite."""
        src = conversation_path(udir, cid)
        cdir = udir / CORRUPT_DIR
        moved_to = None
        try:
            make_private_dir(cdir, durable=self.durable)
            stamp = time.time_ns() // 1000
            while True:
                ts = time.strftime("%Y%m%dT%H%M%S", time.gmtime(stamp // 1_000_000))
                dst = cdir / f"{cid}-{ts}{stamp % 1_000_000:06d}Z.json"
                if not os.path.lexists(dst):
                    break
                stamp += 1
            os.rename(src, dst)
            moved_to = dst.name
            if self.durable:
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

    def _load(self, user: str, udir: Path | None, cid: str, *, locked: bool) -> Conversation:
        """Load a conversation; damaged files are set aside under the lock and reported."""
        if udir is None:
            raise NotFound()
        try:
            return self._read(udir, cid)[0]
        except Missing:
            if self._quarantined(udir, cid):
                raise HistoryUnavailable(cid) from None
            raise NotFound() from None
        except Damaged as damage:
            if not locked:
                with self._locked(udir):  # re-check under the lock: a writer may have replaced it
                    return self._load(user, udir, cid, locked=True)
            self._quarantine(user, udir, cid, damage.reason)
            raise HistoryUnavailable(cid) from None

    # ----------------------------------------------------------------- writing

    def _save(self, udir: Path, conv: Conversation) -> None:
        """Write the conversation atomically (lock held), then append its index entry."""
        conv.refresh_derived()
        conv.rev += 1
        data = conv.model_dump_json().encode()
        path = conversation_path(udir, conv.id)
        try:
            st = write_atomic(path, data, durable=self.durable)
        except OSError as exc:
            raise storage_error(exc, "saving") from exc
        self._index_append(udir, entry_line(conv.id, file_key(st), conv.summary()))

    def _index_append(self, udir: Path, lines: bytes) -> None:
        try:
            append_index(udir, lines, durable=self.durable)
        except OSError:
            # Derived data: the next list() sees the stale entry and repairs it.
            log.warning("index_append_failed", extra={"event": "index_append_failed"})

    @contextlib.contextmanager
    def _editing(self, user: str, cid: str) -> Iterator[tuple[Path, Conversation]]:
        validate_user(user)
        validate_conversation_id(cid)
        udir = self._udir(user, create=False)
        if udir is None:
            raise NotFound()
        with self._locked(udir):
            conv = self._load(user, udir, cid, locked=True)
            yield udir, conv

    # ----------------------------------------------------------------- public API

    def sweep(self, *, older_than: float = 60.0) -> int:
        """Remove stale temporary files (older than `older_than` s) under each user's lock."""
        removed = 0
        try:
            users = [e.name for e in os.scandir(self.data_dir) if is_valid_user(e.name)]
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise storage_error(exc, "sweeping") from exc
        cutoff = _now() - older_than
        for user in users:
            try:
                udir = self._udir(user, create=False)
            except StorageError:
                continue
            if udir is None:
                continue
            try:
                with self._locked(udir):
                    for entry in os.scandir(udir):
                        if not (entry.name.startswith(".") and TMP_MARK in entry.name):
                            continue
                        st = entry.stat(follow_symlinks=False)
                        if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                            with contextlib.suppress(FileNotFoundError):
                                os.unlink(entry.path)
                                removed += 1
            except (StorageBusy, OSError):
                log.warning("sweep_skipped user=%s", user, extra={"event": "sweep_skipped"})
        return removed

    def create(
        self,
        user: str,
        *,
        chat_name: str,
        model: str,
        provider: str,
        instructions: str,
        metadata: dict[str, Any] | None = None,
        legacy: Legacy | dict[str, Any] | None = None,
        conversation_id: str | None = None,
        created_at: float | None = None,
        last_update: float | None = None,
        messages: Sequence[Message | dict[str, Any]] | None = None,
    ) -> Conversation:
        """Create and save a conversation (with imported `messages` in creation order, if given)."""
        validate_user(user)
        cid = new_conversation_id()
        if conversation_id is not None:
            cid = validate_conversation_id(conversation_id)
        now = _now()
        msgs = [m if isinstance(m, Message) else Message.model_validate(m) for m in messages or ()]
        created = created_at if created_at is not None else now
        if last_update is None:
            last_update = max([created, *(m.timestamp for m in msgs)])
        conv = Conversation(
            id=cid,
            chat_name=chat_name,
            created_at=created,
            last_update=last_update,
            model=model,
            provider=provider,
            instructions=instructions,
            metadata=dict(metadata or {}),
            legacy=legacy,
            messages=msgs,
        )
        if msgs:
            conv.current_message_id = conv.newest_leaf_under(ROOT)
        problem = conv.check_tree()
        if problem is not None:
            raise InvalidParent(problem)
        udir = self._udir(user, create=True)
        assert udir is not None
        with self._locked(udir):
            if os.path.lexists(conversation_path(udir, cid)):
                raise ConversationExists(cid)
            if self._quarantined(udir, cid):
                raise HistoryUnavailable(cid)
            self._save(udir, conv)
        return conv

    def get(self, user: str, cid: str) -> Conversation:
        """Return the conversation, or raise NotFound / HistoryUnavailable / StorageError."""
        validate_user(user)
        validate_conversation_id(cid)
        return self._load(user, self._udir(user, create=False), cid, locked=False)

    def list(self, user: str) -> list[ConversationSummary]:
        """Return the user's conversations, newest `last_update` first; damaged ones flagged."""
        validate_user(user)
        udir = self._udir(user, create=False)
        if udir is None:
            return []
        summaries, stale = self._list_pass(user, udir, repair=False)
        if stale:
            with self._locked(udir):
                summaries, _ = self._list_pass(user, udir, repair=True)
        summaries.sort(key=lambda s: (s.last_update, s.id), reverse=True)
        return summaries

    def _list_pass(
        self, user: str, udir: Path, *, repair: bool
    ) -> tuple[list[ConversationSummary], bool]:
        state = read_index(udir)
        files: dict[str, tuple[int, int, int] | None] = {}
        try:
            with os.scandir(udir) as entries:
                for entry in entries:
                    name = entry.name
                    if name.startswith(".") or not name.endswith(".json"):
                        continue
                    cid = name[:-5]
                    if not is_valid_conversation_id(cid):
                        continue
                    st = entry.stat(follow_symlinks=False)
                    files[cid] = file_key(st) if stat.S_ISREG(st.st_mode) else None
            quarantined: dict[str, float] = {}
            cdir = udir / CORRUPT_DIR
            if os.path.isdir(cdir) and not os.path.islink(cdir):
                with os.scandir(cdir) as entries:
                    for entry in entries:
                        match = _QUARANTINE_RE.fullmatch(entry.name)
                        if match:
                            mtime = entry.stat(follow_symlinks=False).st_mtime
                            quarantined[match["id"]] = max(quarantined.get(match["id"], 0), mtime)
        except OSError as exc:
            raise storage_error(exc, "listing") from exc

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
                conv, st = self._read(udir, cid)
            except Missing:
                continue
            except Damaged as damage:
                self._quarantine(user, udir, cid, damage.reason)
                out.append(unavailable(cid, _now()))
                quarantined.setdefault(cid, _now())
                continue
            except StorageError:
                out.append(unavailable(cid, _now()))
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
                self._write_repairs(udir, state.entries, repairs, gone, rewrite=not state.ok)
        return out, stale

    def _write_repairs(
        self,
        udir: Path,
        entries: dict[str, IndexEntry],
        repairs: dict[str, IndexEntry],
        gone: list[str],
        *,
        rewrite: bool,
    ) -> None:
        try:
            if rewrite or len(repairs) + len(gone) > max(16, len(entries) // 2):
                merged = {k: v for k, v in entries.items() if k not in gone}
                merged.update(repairs)
                rewrite_index(udir, merged, durable=self.durable)
            else:
                lines = b"".join(entry_line(c, e.key, e.summary) for c, e in repairs.items())
                lines += b"".join(entry_line(c, None, None) for c in gone)
                append_index(udir, lines, durable=self.durable)
        except OSError:
            log.warning("index_repair_failed", extra={"event": "index_repair_failed"})

    def rename(self, user: str, cid: str, chat_name: str) -> ConversationSummary:
        """Rename a conversation (its `last_update` is kept)."""
        with self._editing(user, cid) as (udir, conv):
            conv.chat_name = chat_name
            self._save(udir, conv)
            return conv.summary()

    def delete(self, user: str, cid: str) -> None:
        """Delete a conversation, and the damaged copies set aside for it."""
        validate_user(user)
        validate_conversation_id(cid)
        udir = self._udir(user, create=False)
        if udir is None:
            raise NotFound()
        with self._locked(udir):
            path = conversation_path(udir, cid)
            damaged = self._quarantined(udir, cid)
            try:
                existed = os.path.lexists(path)
                if existed:
                    if os.path.isdir(path) and not os.path.islink(path):
                        raise StorageError("a directory stands at the conversation's path")
                    os.unlink(path)
                for copy in damaged:
                    if copy.is_dir() and not copy.is_symlink():
                        shutil.rmtree(copy)  # fd-based on Linux: never follows a symlink inside
                    else:
                        os.unlink(copy)
                if not existed and not damaged:
                    raise NotFound()
                if self.durable:
                    fsync_dir(udir)
            except OSError as exc:
                raise storage_error(exc, "deleting") from exc
            self._index_append(udir, entry_line(cid, None, None))

    def begin_turn(
        self,
        user: str,
        cid: str,
        *,
        text: str | None,
        parent_id: str | None,
        model: str,
        provider: str,
        context_mode: ContextMode,
        user_message_id: str | None = None,
        assistant_message_id: str | None = None,
    ) -> tuple[Conversation, Message | None, Message]:
        """Add the user message (unless regenerating) and an `in_progress` reply in one commit.

        The message ids may be chosen by the caller (so a turn can open its upstream request while
        this commit runs); by default they are made here.
        """
        with self._editing(user, cid) as (udir, conv):
            now = _now()
            user_msg: Message | None = None
            if text is not None:
                parent: str | None = None
                if parent_id is not None and parent_id != ROOT:
                    if conv.message(parent_id).role != "assistant":
                        raise InvalidParent("a new message goes under an assistant message")
                    parent = parent_id
                user_msg = Message(
                    id=user_message_id or new_message_id(),
                    parent_id=parent,
                    role="user",
                    text=text,
                    timestamp=now,
                )
                conv.messages.append(user_msg)
                reply_parent = user_msg.id
            else:
                if parent_id is None or parent_id == ROOT:
                    raise InvalidParent("regenerate needs a user message")
                if conv.message(parent_id).role != "user":
                    raise InvalidParent("regenerate needs a user message")
                reply_parent = parent_id
            reply = Message(
                id=assistant_message_id or new_message_id(),
                parent_id=reply_parent,
                role="assistant",
                text="",
                timestamp=now,
                status="in_progress",
                model=model,
                provider=provider,
                context_mode=context_mode,
            )
            conv.messages.append(reply)
            conv.model = model
            conv.provider = provider
            conv.current_message_id = reply.id
            conv.last_update = now
            self._save(udir, conv)
            return conv, user_msg, reply

    def finish_assistant_message(
        self,
        user: str,
        cid: str,
        mid: str,
        *,
        text: str,
        status: FinishStatus,
        response_id: str | None = None,
        usage: Usage | dict[str, Any] | None = None,
        cost_usd: float | None = None,
        error: MessageError | dict[str, Any] | None = None,
        reasoning_summary: str | None = None,
        request_id: str | None = None,
        latency_ms: dict[str, int | float | None] | None = None,
        metadata: dict[str, Any] | None = None,
        context_mode: ContextMode | None = None,
        model: str | None = None,
    ) -> Message:
        """Record how a reply ended; raise NotFound if the conversation was deleted meanwhile."""
        if status not in _FINISH_STATUSES:
            raise ValueError(f"not a final status: {status!r}")
        with self._editing(user, cid) as (udir, conv):
            msg = conv.message(mid)
            if msg.role != "assistant":
                raise NotFound("assistant message")
            msg.text = text
            msg.status = status
            msg.response_id = response_id
            msg.usage = Usage.model_validate(usage) if isinstance(usage, dict) else usage
            msg.cost_usd = cost_usd
            msg.error = MessageError.model_validate(error) if isinstance(error, dict) else error
            msg.reasoning_summary = reasoning_summary
            msg.request_id = request_id
            msg.latency_ms = latency_ms
            if metadata:
                msg.metadata.update(metadata)
            if context_mode is not None:
                msg.context_mode = context_mode
            if model is not None:
                msg.model = model
            now = _now()
            msg.timestamp = now
            conv.last_update = now
            self._save(udir, conv)
            return msg

    def set_current(self, user: str, cid: str, message_id: str) -> Conversation:
        """Show the branch of the newest leaf under `message_id` (`ROOT` = the whole tree)."""
        with self._editing(user, cid) as (udir, conv):
            conv.current_message_id = conv.newest_leaf_under(message_id)
            self._save(udir, conv)
            return conv

    def mark_interrupted(self, user: str, cid: str, mid: str, text: str) -> Conversation:
        """Mark an `in_progress` reply `failed` with code `interrupted`, keeping `text`."""
        with self._editing(user, cid) as (udir, conv):
            msg = conv.message(mid)
            if msg.role != "assistant":
                raise NotFound("assistant message")
            if msg.status != "in_progress":
                return conv  # already finished: a real result is never overwritten
            msg.text = text
            msg.status = "failed"
            msg.error = MessageError(code="interrupted", message=_INTERRUPTED_TEXT)
            self._save(udir, conv)
            return conv


__all__ = ["JsonConversationStore"]
