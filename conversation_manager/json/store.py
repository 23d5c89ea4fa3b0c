"""The JSON-file conversation store: one file per conversation, atomic writes, per-user filelock.

Implements `conversation_manager.store.ConversationStore`; the layout and its guarantees are the
README's "Storage". Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import builtins
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import continuations, edits
from ..errors import (
    ConversationExists,
    HistoryUnavailable,
    NotFound,
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
from ..names import validate_conversation_id, validate_user
from ..search import SearchHit, SearchQuery, parse_query
from ..store import ConversationStore
from ..usage import UsageRow
from .files import ConversationFiles
from .layout import conversation_path
from .listing import list_pass
from .locks import LOCK_CACHE_SIZE
from .records import quarantined

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
        self.files = ConversationFiles(
            self.data_dir,
            lock_timeout=lock_timeout,
            durable=durable,
            lock_cache_size=lock_cache_size,
        )

    def turn_dir(self, user: str) -> Path:
        """Return the user's directory for turns in flight (`<user>/.turns`), creating it."""
        return self.files.turn_dir(user)

    # ----------------------------------------------------------------- public API

    def sweep(self, *, older_than: float = 60.0) -> int:
        """Remove stale temporary files (older than `older_than` s) under each user's lock."""
        return self.files.sweep(older_than=older_than)

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
        udir = self.files.make_user_dir(user)
        with self.files.locked(udir):
            if os.path.lexists(conversation_path(udir, cid)):
                raise ConversationExists(cid)
            if quarantined(udir, cid):
                raise HistoryUnavailable(cid)
            self.files.save(udir, conv)
        return conv

    def get(self, user: str, cid: str) -> Conversation:
        """Return the conversation, or raise NotFound / HistoryUnavailable / StorageError."""
        validate_user(user)
        validate_conversation_id(cid)
        return self.files.load(
            user, self.files.find_user_dir(user, create=False), cid, locked=False
        )

    def exists(self, user: str, cid: str) -> bool:
        """Whether the conversation's file is there (readable or not), with no lock taken."""
        validate_user(user)
        validate_conversation_id(cid)
        udir = self.files.find_user_dir(user, create=False)
        return udir is not None and os.path.lexists(conversation_path(udir, cid))

    def list(self, user: str) -> builtins.list[ConversationSummary]:
        """Return the user's conversations, newest `last_update` first; damaged ones flagged."""
        validate_user(user)
        udir = self.files.find_user_dir(user, create=False)
        if udir is None:
            return []
        summaries, stale = list_pass(user, udir, repair=False, durable=self.durable)
        if stale:
            with self.files.locked(udir):
                summaries, _ = list_pass(user, udir, repair=True, durable=self.durable)
        summaries.sort(key=lambda s: (s.last_update, s.id), reverse=True)
        return summaries

    def rename(self, user: str, cid: str, chat_name: str) -> ConversationSummary:
        """Rename a conversation (its `last_update` is kept)."""
        with self.files.editing(user, cid) as (udir, conv):
            conv.chat_name = chat_name
            conv.chat_name_source = "user"  # a name the user gave is never replaced by a title
            self.files.save(udir, conv)
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
        with self.files.editing(user, cid) as (udir, conv):
            if chat_name is not None:
                conv.chat_name, conv.chat_name_source = chat_name, "user"
            if instructions is not None:
                conv.instructions = instructions
            if pinned is not None:
                conv.pinned = pinned
            if archived is not None:
                conv.archived = archived
            self.files.save(udir, conv)
            return conv.summary()

    def set_title(
        self, user: str, cid: str, title: str, call: Mapping[str, Any]
    ) -> ConversationSummary | None:
        """Record the title call; name the conversation `title` only if it is still named from
        its first message (source "message")."""
        with self.files.editing(user, cid) as (udir, conv):
            conv.metadata[TITLE_CALL] = dict(call)
            named = conv.chat_name_source == "message"
            if named:
                conv.chat_name, conv.chat_name_source = title, "model"
            self.files.save(udir, conv)
            return conv.summary() if named else None

    def delete(self, user: str, cid: str) -> None:
        """Delete a conversation, and the damaged copies set aside for it."""
        validate_user(user)
        validate_conversation_id(cid)
        udir = self.files.find_user_dir(user, create=False)
        if udir is None:
            raise NotFound()
        self.files.delete(udir, cid)

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
        with self.files.editing(user, cid) as (udir, conv):
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
            self.files.save(udir, conv)
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
        with self.files.editing(user, cid) as (udir, conv):
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
            self.files.save(udir, conv)
            return msg

    def begin_continuation(
        self, user: str, cid: str, mid: str, *, options: Mapping[str, Any] | None = None
    ) -> tuple[Conversation, Message]:
        """Mark the reply `mid` `in_progress` for a continuation, in one commit."""
        with self.files.editing(user, cid) as (udir, conv):
            msg = continuations.begin_continuation(conv, mid, now=_now())
            if options is not None:
                conv.options = dict(options)
            self.files.save(udir, conv)
            return conv, msg

    def finish_continuation(self, user: str, cid: str, mid: str, **call: Any) -> Message:
        """Record how a continuation ended (the keywords of `finish_assistant_message`, for the
        call alone); return the merged reply."""
        edits.check_final(call["status"])
        with self.files.editing(user, cid) as (udir, conv):
            msg = continuations.finish_continuation(conv, mid, now=_now(), **call)
            self.files.save(udir, conv)
            return msg

    def set_current(self, user: str, cid: str, message_id: str) -> Conversation:
        """Show the branch of the newest leaf under `message_id` (`ROOT` = the whole tree)."""
        with self.files.editing(user, cid) as (udir, conv):
            conv.current_message_id = conv.newest_leaf_under(message_id)
            self.files.save(udir, conv)
            return conv

    def mark_interrupted(
        self, user: str, cid: str, mid: str, text: str, *, message: str
    ) -> Conversation:
        """Mark an `in_progress` reply `failed` with code `interrupted`, keeping `text`."""
        with self.files.editing(user, cid) as (udir, conv):
            if edits.interrupt_reply(conv, mid, text, message):
                self.files.save(udir, conv)
            return conv

    def add_summary(self, user: str, cid: str, summary: Summary) -> Conversation:
        """Keep `summary` with the conversation (replacing one of the same id)."""
        with self.files.editing(user, cid) as (udir, conv):
            kept = [s for s in conv.summaries if s.id != summary.id]
            conv.summaries = [*kept, summary.model_copy(deep=True)]
            self.files.save(udir, conv)
            return conv

    def usage_rows(
        self, user: str, *, since: float | None = None, until: float | None = None
    ) -> builtins.list[UsageRow]:
        """Every model call in the user's conversations within [since, until), damaged ones left out.

        Served by the search index (checked against the files first), never a read of every file.
        """
        validate_user(user)
        udir = self.files.find_user_dir(user, create=False)
        if udir is None:
            return []
        return self.files.search_index.usage_rows(
            udir, lambda: self.files.locked(udir), since=since, until=until
        )

    def search(self, user: str, query: SearchQuery) -> builtins.list[SearchHit]:
        """Ranked full-text search over the user's names and messages (API "Search")."""
        validate_user(user)
        udir = self.files.find_user_dir(user, create=False)
        if udir is None:
            parse_query(query.text)  # a bad query is refused even for a user with nothing yet
            return []
        return self.files.search_index.search(udir, query, lambda: self.files.locked(udir))

    def rebuild_search(self, user: str) -> int:
        """Rebuild the user's search index from the files; return how many were read."""
        validate_user(user)
        udir = self.files.find_user_dir(user, create=False)
        if udir is None:
            return 0
        return self.files.search_index.rebuild(udir, lambda: self.files.locked(udir))


# The backend implements the Protocol (mypy checks this line).
_: type[ConversationStore] = JsonConversationStore

__all__ = ["JsonConversationStore"]
