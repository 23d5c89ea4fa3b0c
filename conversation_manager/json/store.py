"""The JSON-file conversation store: one file per conversation, atomic writes, per-user filelock.

Implements `conversation_manager.store.ConversationStore`; the layout and its guarantees are the
README's "Storage". Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import shutil
import stat
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import continuations, edits
from ..atomic_files import (
    Damaged,
    Missing,
    fsync_dir,
    make_private_dir,
    storage_error,
    write_atomic,
)
from ..errors import (
    ConversationExists,
    HistoryUnavailable,
    NotFound,
    StorageBusy,
    StorageError,
)
from ..models import (
    TITLE_CALL,
    Attachment,
    ChatNameSource,
    ContextMode,
    Conversation,
    ConversationSummary,
    FinishStatus,
    Legacy,
    Message,
    MessageError,
    Summary,
    Usage,
)
from ..names import is_valid_user, validate_conversation_id, validate_user
from ..search import SearchHit, SearchQuery, parse_query
from ..store import ConversationStore
from ..usage import UsageRow
from .index import append_index, entry_line, file_key
from .layout import LOCK_NAME, TMP_MARK, TURNS_DIR, check_dir, conversation_path, user_dir
from .listing import list_pass
from .locks import LOCK_CACHE_SIZE, LockCache
from .records import quarantine, quarantined, read
from .search_index import SearchIndex

log = logging.getLogger(__name__)


def _now() -> float:
    return time.time()


class JsonConversationStore:
    """Conversations as JSON files under `data_dir/<user>/<id>.json`."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        lock_timeout: float = 10.0,
        durable: bool = True,
        lock_cache_size: int = LOCK_CACHE_SIZE,
    ) -> None:
        self.data_dir = Path(os.path.realpath(data_dir))
        self.lock_timeout = lock_timeout
        self.durable = durable
        self._locks = LockCache(lock_timeout, size=lock_cache_size)
        self._search = SearchIndex(busy_timeout=lock_timeout)

    # ----------------------------------------------------------------- locking and paths

    @contextlib.contextmanager
    def _locked(self, udir: Path) -> Iterator[None]:
        with self._locks.held(udir / LOCK_NAME):
            yield

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

    def _made_udir(self, user: str) -> Path:
        validate_user(user)
        udir = self._udir(user, create=True)
        assert udir is not None
        return udir

    def turn_dir(self, user: str) -> Path:
        """Return the user's directory for turns in flight (`<user>/.turns`), creating it."""
        tdir = self._made_udir(user) / TURNS_DIR
        try:
            make_private_dir(tdir, durable=False)
        except OSError as exc:
            raise storage_error(exc, "creating the turns directory") from exc
        return tdir

    # ----------------------------------------------------------------- reading

    def _load(self, user: str, udir: Path | None, cid: str, *, locked: bool) -> Conversation:
        """Load a conversation; damaged files are set aside under the lock and reported."""
        if udir is None:
            raise NotFound()
        try:
            return read(udir, cid)[0]
        except Missing:
            if quarantined(udir, cid):
                raise HistoryUnavailable(cid) from None
            raise NotFound() from None
        except Damaged as damage:
            if not locked:
                with self._locked(udir):  # re-check under the lock: a writer may have replaced it
                    return self._load(user, udir, cid, locked=True)
            quarantine(user, udir, cid, damage.reason, durable=self.durable)
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
        self._search.saved(udir, conv, file_key(st))

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
        chat_name_source: ChatNameSource = "user",
        template_id: str | None = None,
        template_variables: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Conversation:
        """Create and save a conversation (with imported `messages` in creation order, if given)."""
        validate_user(user)
        conv = edits.new_conversation(
            now=_now(),
            chat_name=chat_name,
            model=model,
            provider=provider,
            instructions=instructions,
            metadata=metadata,
            legacy=legacy,
            conversation_id=conversation_id,
            created_at=created_at,
            last_update=last_update,
            messages=messages,
        )
        conv.chat_name_source = chat_name_source
        conv.template_id = template_id
        if template_variables is not None:
            conv.template_variables = dict(template_variables)
        conv.options = dict(options or {})
        cid = conv.id
        udir = self._made_udir(user)
        with self._locked(udir):
            if os.path.lexists(conversation_path(udir, cid)):
                raise ConversationExists(cid)
            if quarantined(udir, cid):
                raise HistoryUnavailable(cid)
            self._save(udir, conv)
        return conv

    def get(self, user: str, cid: str) -> Conversation:
        """Return the conversation, or raise NotFound / HistoryUnavailable / StorageError."""
        validate_user(user)
        validate_conversation_id(cid)
        return self._load(user, self._udir(user, create=False), cid, locked=False)

    def exists(self, user: str, cid: str) -> bool:
        """Whether the conversation's file is there (readable or not), with no lock taken."""
        validate_user(user)
        validate_conversation_id(cid)
        udir = self._udir(user, create=False)
        return udir is not None and os.path.lexists(conversation_path(udir, cid))

    def list(self, user: str) -> builtins.list[ConversationSummary]:
        """Return the user's conversations, newest `last_update` first; damaged ones flagged."""
        validate_user(user)
        udir = self._udir(user, create=False)
        if udir is None:
            return []
        summaries, stale = list_pass(user, udir, repair=False, durable=self.durable)
        if stale:
            with self._locked(udir):
                summaries, _ = list_pass(user, udir, repair=True, durable=self.durable)
        summaries.sort(key=lambda s: (s.last_update, s.id), reverse=True)
        return summaries

    def rename(self, user: str, cid: str, chat_name: str) -> ConversationSummary:
        """Rename a conversation (its `last_update` is kept)."""
        with self._editing(user, cid) as (udir, conv):
            conv.chat_name = chat_name
            conv.chat_name_source = "user"  # a name the user gave is never replaced by a title
            self._save(udir, conv)
            return conv.summary()

    def update(
        self,
        user: str,
        cid: str,
        *,
        chat_name: str | None = None,
        instructions: str | None = None,
        pinned: bool | None = None,
        archived: bool | None = None,
    ) -> ConversationSummary:
        """Change the fields given, keeping `last_update`; a new name is the user's."""
        with self._editing(user, cid) as (udir, conv):
            if chat_name is not None:
                conv.chat_name, conv.chat_name_source = chat_name, "user"
            if instructions is not None:
                conv.instructions = instructions
            if pinned is not None:
                conv.pinned = pinned
            if archived is not None:
                conv.archived = archived
            self._save(udir, conv)
            return conv.summary()

    def set_title(
        self, user: str, cid: str, title: str, call: Mapping[str, Any]
    ) -> ConversationSummary | None:
        """Record the title call; name the conversation `title` only if it is still named from
        its first message (source "message")."""
        with self._editing(user, cid) as (udir, conv):
            conv.metadata[TITLE_CALL] = dict(call)
            named = conv.chat_name_source == "message"
            if named:
                conv.chat_name, conv.chat_name_source = title, "model"
            self._save(udir, conv)
            return conv.summary() if named else None

    def delete(self, user: str, cid: str) -> None:
        """Delete a conversation, and the damaged copies set aside for it."""
        validate_user(user)
        validate_conversation_id(cid)
        udir = self._udir(user, create=False)
        if udir is None:
            raise NotFound()
        with self._locked(udir):
            path = conversation_path(udir, cid)
            damaged = quarantined(udir, cid)
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
            self._search.deleted(udir, cid)

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
        attachments: Sequence[Attachment] = (),
        options: Mapping[str, Any] | None = None,
    ) -> tuple[Conversation, Message | None, Message]:
        """Add the user message (unless regenerating) and an `in_progress` reply in one commit.

        The message ids may be chosen by the caller (so a turn can open its upstream request while
        this commit runs); by default they are made here. `options` (not None) become the
        conversation's per-model options in the same commit.
        """
        with self._editing(user, cid) as (udir, conv):
            user_msg, reply = edits.add_turn(
                conv,
                now=_now(),
                text=text,
                parent_id=parent_id,
                model=model,
                provider=provider,
                context_mode=context_mode,
                user_message_id=user_message_id,
                assistant_message_id=assistant_message_id,
                attachments=attachments,
            )
            if options is not None:
                conv.options = dict(options)
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
        latency_ms: Mapping[str, int | float | None] | None = None,
        metadata: dict[str, Any] | None = None,
        context_mode: ContextMode | None = None,
        model: str | None = None,
        provider: str | None = None,
        price: Mapping[str, Any] | None = None,
        fallback_from: Sequence[Mapping[str, Any]] | None = None,
    ) -> Message:
        """Record how a reply ended; raise NotFound if the conversation was deleted meanwhile."""
        edits.check_final(status)  # before the lock: a caller's mistake never waits
        with self._editing(user, cid) as (udir, conv):
            msg = edits.finish_reply(
                conv,
                mid,
                now=_now(),
                text=text,
                status=status,
                response_id=response_id,
                usage=usage,
                cost_usd=cost_usd,
                error=error,
                reasoning_summary=reasoning_summary,
                request_id=request_id,
                latency_ms=latency_ms,
                metadata=metadata,
                context_mode=context_mode,
                model=model,
                provider=provider,
                price=price,
                fallback_from=fallback_from,
            )
            self._save(udir, conv)
            return msg

    def begin_continuation(
        self, user: str, cid: str, mid: str, *, options: Mapping[str, Any] | None = None
    ) -> tuple[Conversation, Message]:
        """Mark the reply `mid` `in_progress` for a continuation, in one commit."""
        with self._editing(user, cid) as (udir, conv):
            msg = continuations.begin_continuation(conv, mid, now=_now())
            if options is not None:
                conv.options = dict(options)
            self._save(udir, conv)
            return conv, msg

    def finish_continuation(self, user: str, cid: str, mid: str, **call: Any) -> Message:
        """Record how a continuation ended (the keywords of `finish_assistant_message`, for the
        call alone); return the merged reply."""
        edits.check_final(call["status"])
        with self._editing(user, cid) as (udir, conv):
            msg = continuations.finish_continuation(conv, mid, now=_now(), **call)
            self._save(udir, conv)
            return msg

    def set_current(self, user: str, cid: str, message_id: str) -> Conversation:
        """Show the branch of the newest leaf under `message_id` (`ROOT` = the whole tree)."""
        with self._editing(user, cid) as (udir, conv):
            conv.current_message_id = conv.newest_leaf_under(message_id)
            self._save(udir, conv)
            return conv

    def mark_interrupted(
        self, user: str, cid: str, mid: str, text: str, *, message: str
    ) -> Conversation:
        """Mark an `in_progress` reply `failed` with code `interrupted`, keeping `text`."""
        with self._editing(user, cid) as (udir, conv):
            if edits.interrupt_reply(conv, mid, text, message):
                self._save(udir, conv)
            return conv

    def add_summary(self, user: str, cid: str, summary: Summary) -> Conversation:
        """Keep `summary` with the conversation (replacing one of the same id)."""
        with self._editing(user, cid) as (udir, conv):
            kept = [s for s in conv.summaries if s.id != summary.id]
            conv.summaries = [*kept, summary.model_copy(deep=True)]
            self._save(udir, conv)
            return conv

    def usage_rows(
        self, user: str, *, since: float | None = None, until: float | None = None
    ) -> builtins.list[UsageRow]:
        """Every model call in the user's conversations within [since, until), damaged ones left out.

        Served by the search index (checked against the files first), never a read of every file.
        """
        validate_user(user)
        udir = self._udir(user, create=False)
        if udir is None:
            return []
        return self._search.usage_rows(udir, lambda: self._locked(udir), since=since, until=until)

    def search(self, user: str, query: SearchQuery) -> builtins.list[SearchHit]:
        """Ranked full-text search over the user's names and messages (API "Search")."""
        validate_user(user)
        udir = self._udir(user, create=False)
        if udir is None:
            parse_query(query.text)  # a bad query is refused even for a user with nothing yet
            return []
        return self._search.search(udir, query, lambda: self._locked(udir))

    def rebuild_search(self, user: str) -> int:
        """Rebuild the user's search index from the files; return how many were read."""
        validate_user(user)
        udir = self._udir(user, create=False)
        if udir is None:
            return 0
        return self._search.rebuild(udir, lambda: self._locked(udir))


# The backend implements the Protocol (mypy checks this line).
_: type[ConversationStore] = JsonConversationStore

__all__ = ["JsonConversationStore"]
