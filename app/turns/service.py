"""Chat turns end to end: check and plan a turn, admit it, commit, start its worker; re-attach, stop
and delete while running (following.py), crash repair (repair.py), the commit (commit.py), costs
(costs.py).

Turn coordination (lock, frames, stop) comes from `coordination_for(user)`; no paths are built here.
Imports no Flask; SDKs only through the provider adapters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Protocol

import conversation_manager as cm
import responses_client as rc
import stream_processor as sp
from app.observe.report import TurnObserver
from app.templating import TemplateStart
from responses_client import pricing

from .attachments import AttachmentSource, PartMaker, known_attachments
from .attachments import resolve as resolve_attachments
from .candidates import Candidate
from .commit import commit_turn
from .compaction import ContextUpkeep, SpendingAdmission, noted_save
from .config import ChatSettings, TurnRequest
from .continuation import ContinuationPlan, ContinuationRun, continuation_choice, plan_continuation
from .continuation import check_request as check_continue_request
from .costs import Quoter, TurnCosts
from .errors import BadTurnRequest, TurnInProgress
from .finish import Admission, Finisher, error_data
from .following import StartedTurn, follow_started, reattach, stop_and_wait, stop_turn
from .model_choice import choose_model
from .plan import TurnPlan, message_text, new_conversation, plan_turn, replay_candidate
from .preview import ContextPreview, preview_turn
from .repair import load_repairing, repair_stale
from .run import TurnRun
from .titles import TitleWriter, may_want_title
from .turn_options import turn_options

log = logging.getLogger(__name__)

# (user, template_id, variables, message) -> the rendered start; NotFound, BadTemplate.
TemplateStarter = Callable[[str, str, Mapping[str, str] | None, str], TemplateStart]


class TurnLimits(Protocol):
    """The per-user limits as turns use them (app.limits.TurnLimits)."""

    @property
    def budget(self) -> object | None:
        """The spend budget; None: nothing reads a turn's estimated cost."""
        ...

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
        # A turn's cost (app/turns/costs.py): `price` for usage, `quote_reply` for a reply.
        costs = TurnCosts(self.provider_registry, quote)
        self.price = costs.price
        self.quote_reply = costs.quote_reply
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
        """Load a conversation, marking a reply left `in_progress` by a dead worker as interrupted
        (app/turns/repair.py)."""
        return load_repairing(self.store, self.coordination_for, user, conversation_id)

    # -- starting a turn -----------------------------------------------------------------------

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
        return self._plan_locked(
            req,
            conversation,
            options,
            lambda current: plan_turn(
                req,
                current,
                chosen,
                self.settings,
                text,
                is_new=is_new,
                registry=self.provider_registry,
                attachments=attachments,
            ),
            reload=not is_new,
        )

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
        return self._plan_locked(
            req,
            conversation,
            options,
            lambda current: plan_continuation(
                req, current, chosen, self.settings, registry=self.provider_registry
            ),
        )

    def _plan_locked(
        self,
        req: TurnRequest,
        conversation: cm.Conversation,
        options: dict[str, object],
        make_plan: Callable[[cm.Conversation], TurnPlan],
        *,
        reload: bool = True,
    ) -> StartedTurn:
        """Take the turn lock, reload and repair the conversation (`reload`), plan and admit the
        turn under the lock, then launch it; the lock is released if anything refuses it."""
        cid = conversation.id
        coordination = self.coordination_for(req.user)
        try:
            lock = coordination.acquire(cid)
        except sp.TurnBusy:
            raise TurnInProgress() from None
        try:
            with contextlib.suppress(OSError):
                coordination.clear_stop(cid)  # left by a process that died mid-turn
            if reload:
                conversation = self.store.get(req.user, cid)
                stale = [m for m in conversation.messages if m.status == "in_progress"]
                if stale:  # we hold the lock, so nobody is writing these any more
                    conversation = repair_stale(self.store, req.user, cid, stale, coordination)
            conversation = conversation.model_copy(update={"options": options})
            plan = make_plan(conversation)
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
        cost = None
        if self.limits.budget is not None:  # only a budget reads the estimate (a price lookup)
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
        try:
            turn = self.registry.start(
                coordination, cid, lock, plan.assistant_id, run, cancel, on_end=on_end
            )
        except sp.TurnsClosing as exc:  # this worker is exiting: the lock is released, retry
            raise cm.StorageBusy(retry_after=exc.retry_after) from None  # on a new connection
        try:
            conversation = commit_turn(self.store, plan, upkeep.planned_mode)
        except BaseException:
            turn.abort()
            raise
        first = plan.first_frame(conversation.chat_name)
        turn.begin("conversation", {**first, "context_mode": upkeep.planned_mode(plan)})
        return StartedTurn(conversation.id, plan.assistant_id, coordination)

    # -- following, stopping, deleting (app/turns/following.py) ------------------------------------

    def follow(self, started: StartedTurn) -> Iterator[bytes]:
        """The SSE bytes of a turn just started, from its first frame."""
        return follow_started(started, self.settings)

    def events(self, user: str, conversation_id: str, last_event_id: str | None) -> Iterator[bytes]:
        """Re-attach to the turn in flight, or to the one that just ended; raise `NoTurn` otherwise."""
        self.load(user, conversation_id)  # 404 / 409 for unknown or damaged conversations
        coordination = self.coordination_for(user)
        return reattach(
            coordination,
            conversation_id,
            last_event_id,
            self.settings,
            after=lambda: self.load(user, conversation_id),
        )

    def stop(self, user: str, conversation_id: str) -> None:
        """Stop the turn in flight and return once its partial reply is saved `stopped`."""
        self.store.get(user, conversation_id)
        coordination = self.coordination_for(user)
        stop_turn(
            self.registry,
            coordination,
            conversation_id,
            self.settings,
            reload=lambda: self.load(user, conversation_id),
        )

    def delete(self, user: str, conversation_id: str) -> None:
        """Stop a running turn first (waiting for its save), then delete the conversation."""
        cm.validate_conversation_id(conversation_id)
        coordination = self.coordination_for(user)
        if coordination.is_live(conversation_id):
            stop_and_wait(self.registry, coordination, conversation_id, self.settings)
        self.store.delete(user, conversation_id)
        with contextlib.suppress(OSError):
            coordination.discard(conversation_id)
