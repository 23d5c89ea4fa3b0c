"""Run one chat turn: check the request, plan the context, commit, and start its worker.

Also re-attach, stop, delete-while-running and crash repair. Imports no Flask; SDKs only via adapters.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import conversation_manager as cm
import responses_client as rc
import stream_processor as sp
from app.context import plan_context
from app.limits import Budget, LimitError, RateLimiter, check_concurrent
from responses_client import pricing

from .errors import (
    BadTurnRequest,
    EmptyMessage,
    MessageTooLong,
    NoProvider,
    NoTurn,
    TurnInProgress,
)
from .run import TurnRun

log = logging.getLogger(__name__)

CHAT_NAME_CHARS = 60
STOP_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class TurnRequest:
    """A validated `POST /chat` body, with the user it is for."""

    user: str
    message: str | None
    conversation_id: str | None = None
    chat_name: str | None = None
    model: str | None = None
    provider: str | None = None
    parent_message_id: str | None = None
    regenerate: bool = False


@dataclass(frozen=True)
class StartedTurn:
    """A turn whose worker runs; the web layer follows its journal."""

    conversation_id: str
    assistant_message_id: str
    paths: sp.TurnPaths


@dataclass(frozen=True)
class ChatSettings:
    """The chat defaults and limits of this deployment."""

    default_model: str
    default_provider: str
    instructions: str
    max_message_chars: int = 100_000
    max_output_tokens: int | None = 16_000
    context_tokens: int = 128_000
    keepalive_seconds: float = 15.0
    turns_per_minute: int | None = 20
    concurrent_turns: int | None = 2
    budget_limit: float | None = None
    budget_unit: str = "usd"
    budget_period: str = "day"


@dataclass(frozen=True)
class Limits:
    """The disk-backed per-user limits, shared by every worker process."""

    rate: RateLimiter
    budget: Budget


class ChatService:
    """Turns, re-attach, stop and crash repair over one store and a set of providers."""

    def __init__(
        self,
        store: cm.JsonConversationStore,
        providers: dict[str, rc.Provider],
        settings: ChatSettings,
        limits: Limits | None = None,
        registry: sp.TurnRegistry | None = None,
        price: Callable[[str, str, dict[str, int]], float | None] = pricing.cost_usd,
    ) -> None:
        self.store = store
        self.providers = providers
        self.settings = settings
        self.limits = limits
        self.registry = registry or sp.TurnRegistry()
        self.price = price

    # -- paths and loading ---------------------------------------------------------------------

    def paths(self, user: str, conversation_id: str) -> sp.TurnPaths:
        cm.validate_conversation_id(conversation_id)
        return sp.TurnPaths(cm.user_dir(self.store.data_dir, user) / ".turns", conversation_id)

    def load(self, user: str, conversation_id: str) -> cm.Conversation:
        """Load a conversation, marking a reply left `in_progress` by a dead worker as interrupted."""
        conversation = self.store.get(user, conversation_id)
        stale = [m for m in conversation.messages if m.status == "in_progress"]
        if not stale:
            return conversation
        paths = self.paths(user, conversation_id)
        if sp.turn_is_live(paths):
            return conversation
        return self._repair(user, conversation_id, stale, paths)

    def _repair(
        self, user: str, conversation_id: str, stale: list[cm.Message], paths: sp.TurnPaths
    ) -> cm.Conversation:
        turn_id, text = sp.journal_text(paths.journal)
        conversation = None
        for message in stale:
            kept = text if turn_id == message.id and len(text) > len(message.text) else message.text
            conversation = self.store.mark_interrupted(user, conversation_id, message.id, kept)
            log.warning("turn_interrupted conversation=%s message=%s", conversation_id, message.id)
        assert conversation is not None
        return conversation

    def live_turns(self, user: str) -> int:
        """Count this user's turns running now, in any process."""
        turns_dir = cm.user_dir(self.store.data_dir, user) / ".turns"
        # A live turn's journal was written within the read timeout; older ones need no probe.
        recent = time.time() - 3600
        count = 0
        try:
            entries = list(os.scandir(turns_dir))
        except FileNotFoundError:
            return 0
        for entry in entries:
            if not entry.name.endswith(".jsonl") or entry.name.startswith("."):
                continue
            try:
                if entry.stat().st_mtime < recent:
                    continue
            except FileNotFoundError:
                continue
            paths = sp.TurnPaths(turns_dir, entry.name.removesuffix(".jsonl"))
            count += sp.turn_is_live(paths)
        return count

    def check_limits(self, user: str) -> None:
        """Refuse a turn over the user's budget, concurrent turns or turns per minute (429)."""
        if self.limits is None:
            return
        s = self.settings
        self.limits.budget.check(
            user,
            limit=s.budget_limit,
            unit=s.budget_unit,  # type: ignore[arg-type]
            period=s.budget_period,  # type: ignore[arg-type]
        )
        if s.concurrent_turns:
            check_concurrent(self.live_turns(user), limit=s.concurrent_turns)
        self.limits.rate.check_and_record_turn(user, per_minute=s.turns_per_minute)

    def record_spend(self, user: str, cost_usd: float | None, usage: dict[str, int] | None) -> None:
        if self.limits is None or self.settings.budget_limit is None:
            return  # no budget: nothing reads the spend, so no write on every turn
        if cost_usd == 0.0 and not usage:
            return
        tokens = (usage or {}).get("total_tokens", 0)
        try:
            self.limits.budget.record(user, cost_usd=cost_usd, tokens=tokens)
        except LimitError:
            log.warning("spend_not_recorded user=%s", user)

    # -- starting a turn -----------------------------------------------------------------------

    def provider_for(self, name: str | None) -> rc.Provider:
        if not self.providers:
            raise NoProvider()
        provider = self.providers.get(name or self.settings.default_provider)
        if provider is None:
            if name is None:
                return next(iter(self.providers.values()))
            raise BadTurnRequest(f"unknown provider {name!r}")
        return provider

    def start(self, req: TurnRequest) -> StartedTurn:
        """Check and commit a turn, start its worker, and return what the web layer follows."""
        text = req.message if req.message is not None else ""
        if req.regenerate:
            if text.strip():
                raise BadTurnRequest("regenerate takes no message")
            if not req.parent_message_id or req.parent_message_id == cm.ROOT:
                raise BadTurnRequest("regenerate needs the user message as parent_message_id")
        elif not text.strip():
            raise EmptyMessage()
        if len(text) > self.settings.max_message_chars:
            raise MessageTooLong(f"at most {self.settings.max_message_chars} characters")

        if req.conversation_id is not None:
            conversation = self.load(req.user, req.conversation_id)
            provider = self.provider_for(req.provider or conversation.provider)
            self.check_limits(req.user)
        else:
            if req.regenerate or req.parent_message_id not in (None, cm.ROOT):
                raise cm.NotFound("parent message")
            provider = self.provider_for(req.provider)
            self.check_limits(req.user)
            # Created on disk in the turn's own commit, while the upstream request opens.
            now = time.time()
            conversation = cm.Conversation(
                id=cm.new_conversation_id(),
                chat_name=(req.chat_name or "").strip()[:200] or _name_from(text),
                created_at=now,
                last_update=now,
                model=req.model or self.settings.default_model,
                provider=provider.name,
                instructions=self.settings.instructions,
            )
            self.store.ensure_user_dir(req.user)
        cid = conversation.id
        is_new = req.conversation_id is None
        paths = self.paths(req.user, cid)
        try:
            lock_fd = sp.acquire_turn_lock(paths)
        except sp.TurnBusy:
            raise TurnInProgress() from None
        try:
            if not is_new:
                conversation = self.store.get(req.user, cid)
                stale = [m for m in conversation.messages if m.status == "in_progress"]
                if stale:  # we hold the lock, so nobody is writing these any more
                    conversation = self._repair(req.user, cid, stale, paths)
            run = self._plan_turn(req, conversation, provider, text, is_new=is_new)
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(lock_fd)
            raise
        return self._launch(req, run, paths, lock_fd)

    def _plan_turn(
        self,
        req: TurnRequest,
        conversation: cm.Conversation,
        provider: rc.Provider,
        text: str,
        *,
        is_new: bool,
    ) -> TurnRun:
        """Place the new messages in the tree and decide what the model receives."""
        model = req.model or conversation.model or self.settings.default_model
        if req.regenerate:
            user_message = conversation.message(req.parent_message_id)  # type: ignore[arg-type]
            if user_message.role != "user":
                raise cm.InvalidParent("regenerate answers a user message")
            plan_parent, text, place_under = (
                user_message.parent_id,
                user_message.text,
                user_message.id,
            )
        elif req.parent_message_id == cm.ROOT:
            plan_parent = place_under = None
        elif req.parent_message_id is not None:
            parent = conversation.message(req.parent_message_id)
            if parent.role != "assistant":
                raise cm.InvalidParent("a new message goes under an assistant message")
            plan_parent = place_under = parent.id
        else:
            plan_parent = place_under = conversation.current_message_id
        plan = plan_context(
            conversation,
            plan_parent,
            text,
            provider=provider.name,
            stateful=provider.stateful,
            context_tokens=self.settings.context_tokens,
        )
        return TurnRun(
            service=self,
            user=req.user,
            conversation=conversation,
            assistant_id=cm.new_message_id(),
            user_message_id=place_under if req.regenerate else cm.new_message_id(),
            place_under=place_under,
            regenerate=req.regenerate,
            is_new=is_new,
            provider=provider,
            model=model,
            plan=plan,
            plan_parent=plan_parent,
            text=text,
        )

    def _launch(
        self, req: TurnRequest, run: TurnRun, paths: sp.TurnPaths, lock_fd: int
    ) -> StartedTurn:
        """Start the worker (it opens the upstream request at once), commit, then let it stream.

        The upstream request overlaps the commit's fsync; no frame is sent before the commit is
        on disk, and a failed commit cancels the upstream request before anything is journalled.
        """
        turn = self.registry.start(paths, lock_fd, run.assistant_id, run, rc.CancelToken())
        try:
            if run.is_new:
                c = run.conversation
                self.store.create(
                    req.user,
                    chat_name=c.chat_name,
                    model=c.model,
                    provider=c.provider,
                    instructions=c.instructions,
                    conversation_id=c.id,
                    created_at=c.created_at,
                    last_update=c.last_update,
                )
            conversation, _, _ = self.store.begin_turn(
                req.user,
                run.conversation.id,
                text=None if run.regenerate else run.text,
                parent_id=run.place_under,
                model=run.model,
                provider=run.provider.name,
                context_mode=run.plan.context_mode,
                user_message_id=None if run.regenerate else run.user_message_id,
                assistant_message_id=run.assistant_id,
            )
        except BaseException:
            turn.abort()
            raise
        turn.begin(
            "conversation",
            {
                "conversation_id": conversation.id,
                "chat_name": conversation.chat_name,
                "user_message_id": run.user_message_id,
                "assistant_message_id": run.assistant_id,
                "model": run.model,
                "provider": run.provider.name,
                "context_mode": run.plan.context_mode,
            },
        )
        return StartedTurn(conversation.id, run.assistant_id, paths)

    # -- following, stopping, deleting ---------------------------------------------------------

    def follow(self, started: StartedTurn) -> Iterator[bytes]:
        """The SSE bytes of a turn just started, from its first frame."""
        return sp.follow(
            started.paths,
            is_live=lambda: sp.turn_is_live(started.paths),
            keepalive_seconds=self.settings.keepalive_seconds,
        )

    def events(self, user: str, conversation_id: str, last_event_id: str | None) -> Iterator[bytes]:
        """Re-attach to the turn in flight, or to the one that just ended; raise `NoTurn` otherwise."""
        self.load(user, conversation_id)  # 404 / 409 for unknown or damaged conversations
        paths = self.paths(user, conversation_id)
        header = sp.read_header(paths.journal)
        live = sp.turn_is_live(paths)
        if header is None or not (live or sp.finished_turn_available(paths)):
            raise NoTurn()
        after = 0
        if last_event_id:
            turn_id, _, n = last_event_id.strip().rpartition(":")
            if turn_id == header.get("turn_id") and n.isdigit():
                after = int(n)
        frames = sp.follow(
            paths,
            after=after,
            is_live=lambda: sp.turn_is_live(paths),
            keepalive_seconds=self.settings.keepalive_seconds,
        )
        return self._repair_after(user, conversation_id, frames)

    def _repair_after(self, user: str, cid: str, frames: Iterator[bytes]) -> Iterator[bytes]:
        try:
            yield from frames
        finally:
            # A worker that died leaves its reply in_progress: finish it as interrupted.
            with contextlib.suppress(cm.ConversationError):
                self.load(user, cid)

    def stop(self, user: str, conversation_id: str) -> None:
        """Stop the turn in flight and return once its partial reply is saved."""
        self.store.get(user, conversation_id)
        paths = self.paths(user, conversation_id)
        last = sp.last_frame(paths.journal)
        if not sp.turn_is_live(paths) or (last is not None and last[1] in sp.TERMINAL_EVENTS):
            raise NoTurn()  # a turn whose last frame is written has ended, lock or not
        self.registry.request_stop(paths)
        self.registry.wait_finished(paths, STOP_WAIT_SECONDS)
        self.load(user, conversation_id)

    def delete(self, user: str, conversation_id: str) -> None:
        """Stop a running turn first, then delete the conversation and its turn files."""
        cm.validate_conversation_id(conversation_id)
        paths = self.paths(user, conversation_id)
        if sp.turn_is_live(paths):
            self.registry.request_stop(paths)
            self.registry.wait_finished(paths, STOP_WAIT_SECONDS)
        self.store.delete(user, conversation_id)
        for path in (paths.journal, paths.stop):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _name_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= CHAT_NAME_CHARS else line[: CHAT_NAME_CHARS - 1].rstrip() + "…"
