"""Chat turns end to end: check and plan a turn, admit it, commit, start its worker; re-attach, stop,
delete while running, and crash repair.

Turn coordination (lock, frames, stop) comes from `coordination_for(user)`; no paths are built here.
Imports no Flask; SDKs only through the provider adapters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

import conversation_manager as cm
import responses_client as rc
import stream_processor as sp
from app import messages
from app.observe.report import TurnObserver
from app.templating import TemplateStart
from responses_client import pricing

from .attachments import AttachmentSource, PartMaker, known_attachments
from .attachments import resolve as resolve_attachments
from .candidates import Candidate
from .compaction import ContextUpkeep, SpendingAdmission, noted_save
from .config import ChatSettings, TurnRequest
from .continuation import ContinuationPlan, ContinuationRun, continuation_choice, plan_continuation
from .continuation import check_request as check_continue_request
from .errors import BadTurnRequest, NoTurn, TurnInProgress
from .finish import Admission, Finisher, error_data
from .model_choice import choose_model
from .plan import TurnPlan, message_text, new_conversation, plan_turn, replay_candidate
from .preview import ContextPreview, preview_turn
from .run import TurnRun
from .titles import TitleWriter, may_want_title
from .turn_options import turn_options

log = logging.getLogger(__name__)

Quoter = Callable[..., pricing.Quote]
# (user, template_id, variables, message) -> the rendered start; NotFound, BadTemplate.
TemplateStarter = Callable[[str, str, Mapping[str, str] | None, str], TemplateStart]


class TurnLimits(Protocol):
    """The per-user limits as turns use them (app.limits.TurnLimits)."""

    def precheck(self, user: str) -> None:
        """Refuse (429) a turn that could not be admitted now; changes nothing."""
        ...

    def admit(
        self, user: str, *, estimated_tokens: int, estimated_cost_usd: float | None
    ) -> Admission:
        """Atomically take a concurrency slot, record the turn's rate and reserve its budget."""
        ...

    def add_spend(self, user: str, *, cost_usd: float | None, tokens: int) -> None:
        """Record spend that belongs to no turn (a title call) in the budget's ledger."""
        ...


@dataclass(frozen=True)
class StartedTurn:
    """A turn whose worker runs; the web layer follows its frames."""

    conversation_id: str
    assistant_message_id: str
    coordination: sp.Coordination


class ChatService:
    """Turns, re-attach, stop and crash repair over one store and a set of providers.

    `providers` is a `ProviderRegistry` or (tests, embedding) a Mapping of live providers, which
    is wrapped with `ProviderRegistry.of` (the settings' defaults become the registry's).
    """

    def __init__(
        self,
        store: cm.ConversationStore,
        providers: rc.ProviderRegistry | Mapping[str, rc.Provider],
        settings: ChatSettings,
        *,
        coordination_for: Callable[[str], sp.Coordination],
        limits: TurnLimits | None = None,
        registry: sp.TurnRegistry | None = None,
        quote: Quoter = pricing.quote,
        templates: TemplateStarter | None = None,
        default_instructions: Callable[[str], str | None] | None = None,
        attachments: AttachmentSource | None = None,
    ) -> None:
        self.store = store
        if isinstance(providers, rc.ProviderRegistry):
            self.provider_registry = providers
        else:
            default = (settings.default_provider, settings.default_model)
            self.provider_registry = rc.ProviderRegistry.of(
                providers, default=default if settings.default_provider in providers else None
            )
        self.providers = self.provider_registry.providers  # the live ones, by name
        self.quote = quote
        self.settings = settings
        self.coordination_for = coordination_for
        self.limits = limits
        self.registry = registry or sp.TurnRegistry(lambda mid: error_data("internal", mid))
        self.titles = TitleWriter(
            store,
            self.provider_registry,
            self.price,
            spend=limits.add_spend if limits is not None else None,
        )
        self.templates = templates  # starts a conversation from a template (API "Templates")
        self.default_instructions = default_instructions  # the user's own, else None
        self.attachments = attachments  # the files a turn names (API "Attachments")
        self.observer: TurnObserver | None = None  # told of every finished turn (app.observe)

    # -- loading and crash repair --------------------------------------------------------------

    def load(self, user: str, conversation_id: str) -> cm.Conversation:
        """Load a conversation, marking a reply left `in_progress` by a dead worker as interrupted.

        When the store cannot be written yet (a read-only disk), the conversation is returned as it
        is and repaired on a later load.
        """
        conversation = self.store.get(user, conversation_id)
        stale = [m for m in conversation.messages if m.status == "in_progress"]
        if not stale:
            return conversation
        coordination = self.coordination_for(user)
        if coordination.is_live(conversation_id):
            # A worker past its last frame has finished with the store (its save was tried): its
            # reply, if still in_progress, is repaired now rather than after the lock goes.
            header = coordination.read_header(conversation_id) or {}
            last = coordination.last_frame(conversation_id)
            if last is None or last[1] not in sp.TERMINAL_EVENTS:
                return conversation
            stale = [m for m in stale if m.id == header.get("turn_id")]
            if not stale:
                return conversation
        try:
            return self._repair(user, conversation_id, stale, coordination)
        except (cm.StorageBusy, cm.StorageFull, cm.StorageError, OSError):
            log.warning("repair_deferred conversation=%s", conversation_id)
            return conversation

    def _repair(
        self,
        user: str,
        conversation_id: str,
        stale: list[cm.Message],
        coordination: sp.Coordination,
    ) -> cm.Conversation:
        turn_id, text = coordination.reply_text(conversation_id)
        conversation = None
        for message in stale:
            kept = text if turn_id == message.id and len(text) > len(message.text) else message.text
            conversation = self.store.mark_interrupted(
                user, conversation_id, message.id, kept, message=messages.message_for("interrupted")
            )
            log.warning("turn_interrupted conversation=%s message=%s", conversation_id, message.id)
        assert conversation is not None
        return conversation

    # -- starting a turn -----------------------------------------------------------------------

    def price(
        self,
        provider: str,
        model: str,
        usage: dict[str, int] | None,
        *,
        echoed_model: str | None = None,
        billed_cost_usd: float | None = None,
        service_tier: str | None = None,
    ) -> pricing.Quote:
        """A cost of `provider:model` for `usage` and the rates used (API "Cost"), with the
        file's price override and price-data provider id."""
        info = self.provider_registry.model_info(provider, model)
        provider_settings = self.provider_registry.settings.get(provider)
        return self.quote(
            provider,
            model,
            usage,
            echoed_model=echoed_model,
            billed_cost_usd=billed_cost_usd,
            override=info.price,
            price_provider=provider_settings.price_provider if provider_settings else None,
            service_tier=service_tier,
        )

    def quote_reply(self, candidate: Candidate, reply: sp.Reply) -> pricing.Quote:
        """The cost of `candidate`'s reply and the rates used."""
        tier = reply.metadata.get("service_tier")
        return self.price(
            candidate.provider.name,
            candidate.model,
            reply.usage,
            echoed_model=reply.model,
            billed_cost_usd=reply.billed_cost_usd,
            service_tier=tier if isinstance(tier, str) else None,
        )

    def start(self, req: TurnRequest) -> StartedTurn:
        """Check, plan, admit and commit a turn, start its worker, and return what the web follows.

        Everything that can refuse the turn (400, 404, 409, a read-only limits check) comes before it
        is admitted, so a refused turn uses no slot of the limits.
        """
        if req.continue_message_id is not None:
            return self._start_continuation(req)
        start = self._template_start(req)
        if start is not None:
            # The template's text stands in for the message; its model unless the turn names one.
            named = req.model is not None or req.provider is not None
            req = replace(
                req,
                message=start.text,
                provider=req.provider if named else start.provider,
                model=req.model if named else start.model,
            )
        text = message_text(req, self.settings.max_message_chars)
        # 400 bad_attachment for an id this user has not uploaded, before anything else.
        attachments = resolve_attachments(self.attachments, req.user, req.attachments)
        if self.limits is not None:
            self.limits.precheck(req.user)
        is_new = req.conversation_id is None
        if req.conversation_id is not None:
            conversation = self.load(req.user, req.conversation_id)
            chosen = choose_model(self.provider_registry, req, conversation, self.settings)
        else:
            chosen = choose_model(self.provider_registry, req, None, self.settings)
            # Created on disk in the turn's own commit, while the upstream request opens (the
            # user's directory is made by store.turn_dir for the coordination, and by create).
            conversation = new_conversation(
                req,
                *chosen,
                self.settings,
                text or ", ".join(a.name for a in attachments),  # named from its files
                start=start,
                instructions=self.default_instructions(req.user)
                if self.default_instructions is not None
                else None,
            )
        # 400 bad_option before anything is sent; the turn's options replace the conversation's.
        given = req.options if req.options is not None else (start.options if start else None)
        options = turn_options(
            self.provider_registry, given, conversation.options, chosen, self.settings
        )
        cid = conversation.id
        coordination = self.coordination_for(req.user)
        try:
            lock = coordination.acquire(cid)
        except sp.TurnBusy:
            raise TurnInProgress() from None
        admission: Admission | None = None
        try:
            with contextlib.suppress(OSError):
                coordination.clear_stop(cid)  # left by a process that died mid-turn
            if not is_new:
                conversation = self.store.get(req.user, cid)
                stale = [m for m in conversation.messages if m.status == "in_progress"]
                if stale:  # we hold the lock, so nobody is writing these any more
                    conversation = self._repair(req.user, cid, stale, coordination)
            conversation = conversation.model_copy(update={"options": options})
            plan = plan_turn(
                req,
                conversation,
                chosen,
                self.settings,
                text,
                is_new=is_new,
                registry=self.provider_registry,
                attachments=attachments,
            )
            admission = self._admit(plan)
        except BaseException:
            lock.release()
            raise
        return self._launch(plan, coordination, lock, admission)

    def _start_continuation(self, req: TurnRequest) -> StartedTurn:
        """Continue a stopped or cut-off reply in place (app/turns/continuation.py): the same
        checks, lock, repair and admission as a turn, planned by `plan_continuation`."""
        check_continue_request(req)
        if self.limits is not None:
            self.limits.precheck(req.user)
        assert req.conversation_id is not None
        conversation = self.load(req.user, req.conversation_id)
        chosen = continuation_choice(self.provider_registry, req, conversation, self.settings)
        options = turn_options(
            self.provider_registry, req.options, conversation.options, chosen, self.settings
        )
        cid = conversation.id
        coordination = self.coordination_for(req.user)
        try:
            lock = coordination.acquire(cid)
        except sp.TurnBusy:
            raise TurnInProgress() from None
        try:
            with contextlib.suppress(OSError):
                coordination.clear_stop(cid)  # left by a process that died mid-turn
            conversation = self.store.get(req.user, cid)
            stale = [m for m in conversation.messages if m.status == "in_progress"]
            if stale:  # we hold the lock, so nobody is writing these any more
                conversation = self._repair(req.user, cid, stale, coordination)
            conversation = conversation.model_copy(update={"options": options})
            plan: TurnPlan = plan_continuation(
                req, conversation, chosen, self.settings, registry=self.provider_registry
            )
            admission = self._admit(plan)
        except BaseException:
            lock.release()
            raise
        return self._launch(plan, coordination, lock, admission)

    def preview(
        self,
        user: str,
        conversation_id: str,
        *,
        parent_message_id: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        message_chars: int = 0,
    ) -> ContextPreview:
        """What the next turn would send (API "Context"), planned by the turn's own code."""
        conversation = self.load(user, conversation_id)
        req = TurnRequest(
            user=user,
            message=None,
            conversation_id=conversation_id,
            provider=provider,
            model=model,
            parent_message_id=parent_message_id,
        )
        chosen = choose_model(self.provider_registry, req, conversation, self.settings)
        preview = preview_turn(
            self.provider_registry, req, conversation, chosen, self.settings, message_chars
        )
        usage = {"input_tokens": preview.context.estimated_input_tokens, "output_tokens": 0}
        cost = self.price(preview.provider, preview.model, usage).cost_usd
        return dataclasses.replace(preview, estimated_cost_usd=cost)

    def _template_start(self, req: TurnRequest) -> TemplateStart | None:
        """The template this turn starts a conversation from, rendered; None without one."""
        if req.template_id is None:
            if req.variables:
                raise BadTurnRequest("variables go with a template_id")
            return None
        if req.conversation_id is not None or req.regenerate or req.parent_message_id:
            raise BadTurnRequest("a template starts a new conversation: no conversation_id")
        if self.templates is None:
            raise cm.NotFound("template")
        return self.templates(req.user, req.template_id, req.variables, req.message or "")

    def _admit(self, plan: TurnPlan) -> Admission | None:
        if self.limits is None:
            return None
        tokens = plan.estimated_tokens(self.settings)
        output = self.settings.max_output_tokens or 0
        estimate = {"input_tokens": max(0, tokens - output), "output_tokens": output}
        cost = self.price(plan.provider.name, plan.model, estimate).cost_usd
        return self.limits.admit(plan.user, estimated_tokens=tokens, estimated_cost_usd=cost)

    def _part_maker(self, plan: TurnPlan) -> Callable[[Candidate], Candidate] | None:
        """What makes a candidate's attachment references content parts (app/turns/attachments)."""
        if self.attachments is None:
            return None
        known = known_attachments(plan.conversation, plan.attachments)
        maker = PartMaker(self.attachments, plan.user, known)
        return functools.partial(maker.candidate, self.provider_registry)

    def _launch(
        self,
        plan: TurnPlan,
        coordination: sp.Coordination,
        lock: sp.HeldLock,
        admission: Admission | None,
    ) -> StartedTurn:
        """Start the worker (it opens the upstream request at once), commit, then let it stream.

        The upstream request overlaps the commit's fsync; no frame is sent before the commit is
        on disk, and a failed commit cancels the upstream request before anything is journalled.
        """
        user, cid = plan.user, plan.conversation.id
        cancel = rc.CancelToken()
        # Summary or compaction before the request, in the worker (API "Context").
        upkeep = ContextUpkeep(self.store, self.provider_registry, self.settings, self.price)
        upkeep.attachments = self.attachments  # a summary reads the text files it summarises
        spend = self.limits.add_spend if self.limits is not None else None  # spend of no turn
        continuing = isinstance(plan, ContinuationPlan)
        save: Callable[..., object] = (
            plan.saver(self.store)  # merged into the reply it continues
            if isinstance(plan, ContinuationPlan)
            else functools.partial(
                self.store.finish_assistant_message, user, cid, plan.assistant_id
            )
        )
        finisher = Finisher(
            save=noted_save(save, upkeep.notes),
            quote=self.quote_reply,
            admission=(
                SpendingAdmission(
                    admission, upkeep, spend=functools.partial(spend, user) if spend else None
                )
                if admission is not None
                else None
            ),
            observer=self.observer,
        )
        run = (ContinuationRun if continuing else TurnRun)(
            plan=plan,
            settings=self.settings,
            finisher=finisher,
            # run.plan: the plan as the upkeep left it (a new summary is kept in a replay).
            replan=lambda candidate: replay_candidate(run.plan, candidate, self.settings),
            cancel=cancel,
            prepare=upkeep.prepare,
            attach=self._part_maker(plan),
        )
        on_end = admission.release if admission is not None else None
        if self.settings.auto_titles and may_want_title(plan.conversation):
            # After the final frame, in a thread of its own: `done` is never delayed.
            on_end = self.titles.after_turn(on_end, user, cid, plan.assistant_id)
        turn = self.registry.start(
            coordination, cid, lock, plan.assistant_id, run, cancel, on_end=on_end
        )
        try:
            if continuing:
                conversation, _ = self.store.begin_continuation(
                    user, cid, plan.assistant_id, options=plan.conversation.options
                )
            elif plan.is_new:
                c = plan.conversation
                self.store.create(
                    user,
                    chat_name=c.chat_name,
                    model=c.model,
                    provider=c.provider,
                    instructions=c.instructions,
                    conversation_id=c.id,
                    created_at=c.created_at,
                    last_update=c.last_update,
                    chat_name_source=c.chat_name_source,
                    messages=c.messages,
                    template_id=c.template_id,
                    template_variables=c.template_variables,
                    options=c.options,
                )
            if not continuing:
                conversation, _, _ = self.store.begin_turn(
                    user,
                    cid,
                    text=None if plan.regenerate else plan.text,
                    parent_id=plan.place_under,
                    model=plan.model,
                    provider=plan.provider.name,
                    context_mode=upkeep.planned_mode(plan),
                    user_message_id=None if plan.regenerate else plan.user_message_id,
                    assistant_message_id=plan.assistant_id,
                    attachments=() if plan.regenerate else plan.attachments,
                    options=plan.conversation.options,
                )
        except BaseException:
            turn.abort()
            raise
        first = plan.first_frame(conversation.chat_name)
        turn.begin("conversation", {**first, "context_mode": upkeep.planned_mode(plan)})
        return StartedTurn(conversation.id, plan.assistant_id, coordination)

    # -- following, stopping, deleting ---------------------------------------------------------

    def _dead_error(self, message_id: str) -> dict[str, object]:
        return error_data("interrupted", message_id)

    def follow(self, started: StartedTurn) -> Iterator[bytes]:
        """The SSE bytes of a turn just started, from its first frame."""
        return started.coordination.follow(
            started.conversation_id,
            after=0,
            dead_error=self._dead_error,
            keepalive_seconds=self.settings.keepalive_seconds,
        )

    def events(self, user: str, conversation_id: str, last_event_id: str | None) -> Iterator[bytes]:
        """Re-attach to the turn in flight, or to the one that just ended; raise `NoTurn` otherwise."""
        self.load(user, conversation_id)  # 404 / 409 for unknown or damaged conversations
        coordination = self.coordination_for(user)
        header = coordination.read_header(conversation_id)
        live = coordination.is_live(conversation_id)
        if header is None or not (live or coordination.finished_available(conversation_id)):
            raise NoTurn()
        after = 0
        if last_event_id:
            turn_id, _, n = last_event_id.strip().rpartition(":")
            if turn_id == header.get("turn_id") and n.isdigit():
                after = int(n)
        frames = coordination.follow(
            conversation_id,
            after=after,
            dead_error=self._dead_error,
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

    def _stop_and_wait(self, conversation_id: str, coordination: sp.Coordination) -> None:
        """Stop the turn in flight and wait until its reply is saved; 503 if that takes too long."""
        self.registry.request_stop(coordination, conversation_id)
        deadline = self.settings.stop_deadline
        if not self.registry.wait_ended(coordination, conversation_id, deadline):
            log.warning("stop_not_confirmed conversation=%s", conversation_id)
            raise cm.StorageBusy(retry_after=max(1, math.ceil(self.settings.lock_timeout)))

    def stop(self, user: str, conversation_id: str) -> None:
        """Stop the turn in flight and return once its partial reply is saved `stopped`."""
        self.store.get(user, conversation_id)
        coordination = self.coordination_for(user)
        last = coordination.last_frame(conversation_id)
        live = coordination.is_live(conversation_id)
        if not live or (last is not None and last[1] in sp.TERMINAL_EVENTS):
            raise NoTurn()  # a turn whose last frame is written has ended, lock or not
        header = coordination.read_header(conversation_id) or {}
        self._stop_and_wait(conversation_id, coordination)
        conversation = self.load(user, conversation_id)
        turn_id = header.get("turn_id")
        reply = next((m for m in conversation.messages if m.id == turn_id), None)
        if reply is not None and reply.status == "in_progress":
            # The worker ended but its reply could not be saved (nor repaired) yet: no false 204.
            raise cm.StorageBusy(retry_after=max(1, math.ceil(self.settings.lock_timeout)))

    def delete(self, user: str, conversation_id: str) -> None:
        """Stop a running turn first (waiting for its save), then delete the conversation."""
        cm.validate_conversation_id(conversation_id)
        coordination = self.coordination_for(user)
        if coordination.is_live(conversation_id):
            self._stop_and_wait(conversation_id, coordination)
        self.store.delete(user, conversation_id)
        with contextlib.suppress(OSError):
            coordination.discard(conversation_id)
