"""Before a turn's request, shrink what it sends (API "Context"): compact a stateful chain past
`CHAT_COMPACT_INPUT_TOKENS`, or summarise the prefix a replay drops (`CHAT_SUMMARIES`), store the
result with `store.add_summary`, and plan the turn again so it uses it (`context_mode` compacted).

A Responses provider compacts its own chain (`POST /responses/compact`: opaque items, kept as the
summary's `provider_items`, sent only back to it to start a new chain); any other provider, and one
whose server answered that it has no compaction (404/405: a Responses server behind
OPENAI_BASE_URL), gets a text summary (`summarise`) and a replay. A text summary is cut to the room
its plan left, so a summary paid for is always used. Whatever fails leaves the turn as first planned
(plain trimming, or the chain) with `metadata.summary_error` on the reply. Runs in the turn's worker,
once, synchronously; imports no Flask, SDKs only through the provider adapters. `upkeep_wanted` is
the one rule of whether that step runs, for the turn and its preview alike.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import conversation_manager as cm
import responses_client as rc
import stream_processor as sp
from app.context import ContextPlan, counter_for, trim_summary
from conversation_manager.models import ContextMode, Summary

from .attachments import AttachmentSource
from .candidates import Candidate, plan_candidates
from .config import ChatSettings
from .errors import ContextTooLongRequest
from .finish import Admission
from .plan import TurnPlan
from .summarise import (
    Pricer,
    SummaryFailed,
    summarise,
    summary_cap,
    summary_record,
    summary_writer,
)

log = logging.getLogger(__name__)

SUMMARY_ERROR = "summary_error"  # the reply's metadata key when a summary or compaction failed
# What a server without `POST /responses/compact` answers it (no route, method not allowed).
UNSUPPORTED_STATUSES = frozenset({404, 405, 501})
# The live providers (per app, per provider: the registry's objects) whose server said it has no
# compaction: in process, they get a text summary from then on instead of a call that fails every
# turn past the threshold. A restart asks once more.
_NO_COMPACTION: weakref.WeakSet[Any] = weakref.WeakSet()


@runtime_checkable
class Compactor(Protocol):
    """A provider with the Responses API's compaction (the openai_responses adapter)."""

    name: str

    def compact(
        self, request: rc.ResponseRequest, cancel: rc.CancelToken | None = None
    ) -> rc.events.Compacted:
        """Compact the chain `request.previous_response_id` names; raise `ProviderError`."""
        ...


class CompactionUnsupported(SummaryFailed):
    """The provider's server has no compaction (remembered: `compacts` says False from now on)."""


def compacts(provider: object) -> bool:
    """Whether `provider` compacts its own chain: the Responses API's compaction, not refused."""
    if not isinstance(provider, Compactor):
        return False
    try:
        return provider not in _NO_COMPACTION
    except TypeError:  # cannot be remembered (no weak reference): it is asked every time
        return True


def unsupported(exc: rc.ProviderError) -> bool:
    """Whether a refused compaction says the server has none (rather than a passing failure)."""
    return exc.status in UNSUPPORTED_STATUSES and not isinstance(exc, rc.PreviousResponseNotFound)


def _remember_unsupported(provider: object) -> None:
    with contextlib.suppress(TypeError):  # see `compacts`
        _NO_COMPACTION.add(provider)


def compact_chain(
    candidate: Candidate, conversation: cm.Conversation, price: Pricer, cancel: rc.CancelToken
) -> Summary:
    """The provider's own compaction of the chain `candidate` would continue, as a `Summary`
    covering the branch down to the chained reply (text None, the items in `provider_items`).

    Raise `CompactionUnsupported` (and remember it) when the server has no compaction."""
    context = candidate.context
    assert context is not None and context.chained_message_id is not None
    provider = candidate.provider
    assert isinstance(provider, Compactor)
    request = rc.ResponseRequest(
        model=candidate.model,
        input="",  # nothing new: the chain alone is compacted
        instructions=conversation.instructions,
        previous_response_id=context.previous_response_id,
    )
    try:
        done = provider.compact(request, cancel)
    except rc.ProviderError as exc:
        if unsupported(exc) and not cancel.cancelled:
            _remember_unsupported(provider)
            log.warning("compaction_unsupported provider=%s status=%s", provider.name, exc.status)
            raise CompactionUnsupported(exc.code) from exc
        raise SummaryFailed(exc.code) from exc
    covers = [m.id for m in conversation.path_to(context.chained_message_id)]
    return summary_record(
        covers,
        None,
        provider.name,
        candidate.model,
        done.usage,
        price,
        provider_items=list(done.output),
    )


def replan(
    plan: TurnPlan,
    conversation: cm.Conversation,
    registry: rc.ProviderRegistry,
    settings: ChatSettings,
) -> TurnPlan:
    """`plan` made again over `conversation` (the same turn, now with its new summary)."""
    candidates = plan_candidates(
        registry,
        conversation,
        plan.plan_parent,
        plan.text,
        (plan.provider, plan.model),
        settings,
        attachments=plan.attachments,
    )
    first = next(c for c in candidates if c.context is not None)
    assert first.context is not None
    return replace(plan, conversation=conversation, candidates=candidates, context=first.context)


def fresh_chain(context: ContextPlan, conversation: cm.Conversation) -> bool:
    """Whether the chained reply is the first of a chain that a compaction started: compacting
    it again would find nothing new (the compaction keeps every user message, so a branch of long
    messages stays past the threshold), so it chains once more before the next compaction."""
    mid = context.chained_message_id
    if mid is None:
        return False
    try:
        return conversation.message(mid).context_mode == "compacted"
    except cm.NotFound:
        return False


def room_for(context: ContextPlan, ids: list[str], covers: list[str]) -> int:
    """The room `context` leaves for a summary of `covers`, the first of the messages `ids` it
    asked a summary of (the writer's window may take fewer): those left out are sent beside it."""
    left_out = set(ids[len(covers) :])
    return context.summary_room - sum(m.tokens for m in context.messages if m.id in left_out)


def upkeep_wanted(
    context: ContextPlan, conversation: cm.Conversation, settings: ChatSettings
) -> bool:
    """Whether a turn planned as `context` over `conversation` writes a compaction (a chain past
    the threshold, unless a compaction just started it) or, summaries on, a summary first: the
    one rule of the turn (`ContextUpkeep`) and of its preview."""
    if context.needs_compaction and not fresh_chain(context, conversation):
        return True
    return bool(settings.summaries and context.needs_summary)


def noted_save(save: Callable[..., object], notes: Mapping[str, Any]) -> Callable[..., object]:
    """`save` (store.finish_assistant_message, bound) with `notes` added to the reply's metadata
    when there are any by the time it runs."""

    def wrapped(**fields: Any) -> object:
        if notes:
            fields["metadata"] = {**(fields.get("metadata") or {}), **notes}
        return save(**fields)

    return wrapped


@dataclass
class ContextUpkeep:
    """The step between planning and the request: summary or compaction, store, replan.

    `notes` collects what the reply's metadata must say (`summary_error`); `noted_save` adds it.
    """

    store: cm.ConversationStore
    registry: rc.ProviderRegistry
    settings: ChatSettings
    price: Pricer
    notes: dict[str, Any] = field(default_factory=dict)
    # What the stored summary's call cost (USD or None, tokens), for the turn's spend.
    spent: list[tuple[float | None, int]] = field(default_factory=list)
    # Where a summary reads the text files it summarises (None: they are only named).
    attachments: AttachmentSource | None = None

    def wanted(self, plan: TurnPlan) -> bool:
        """Whether the turn's plan asks for a compaction or (summaries on) a summary."""
        return upkeep_wanted(plan.context, plan.conversation, self.settings)

    def planned_mode(self, plan: TurnPlan) -> ContextMode:
        """The turn's planned `context_mode` (its `conversation` frame): `compacted` when a summary
        or compaction is to be written first; `done` says what it was in the end."""
        return "compacted" if self.wanted(plan) else plan.context.context_mode

    def _write(self, plan: TurnPlan, cancel: rc.CancelToken) -> Summary:
        context = plan.context
        conversation = plan.conversation
        first = plan.first_candidate
        if context.needs_compaction and compacts(first.provider):
            try:
                return compact_chain(first, conversation, self.price, cancel)
            except CompactionUnsupported:
                pass  # this turn already gets the text summary it gets from now on
        if context.needs_compaction:
            # No compaction of its own: the chain's messages as a text summary, then a replay.
            assert context.chained_message_id is not None
            ids = [m.id for m in conversation.path_to(context.chained_message_id)]
        else:
            ids = list(context.needs_summary)
        writer = summary_writer(self.registry, self.settings, plan.provider, plan.model)
        counter = counter_for(conversation, first.provider.name, first.model)
        summary = summarise(
            conversation,
            ids,
            writer,
            self.registry,
            self.settings,
            self.price,
            cancel,
            max_tokens=summary_cap(context, counter),
            text_block=(
                functools.partial(self.attachments.text_block, plan.user)
                if self.attachments is not None
                else None
            ),
        )
        assert summary.text is not None
        # The cap is in the writer's tokens (maybe another model's, or an estimate): counted as
        # the turn counts it, a summary over its room is cut, never left unused.
        text = trim_summary(counter, summary.text, room_for(context, ids, summary.covers))
        if text is None:
            if len(summary.covers) < len(ids):
                return summary  # the next summary grows from it (the writer's window was short)
            raise SummaryFailed("context_too_long")
        if text == summary.text:
            return summary
        return summary.model_copy(
            update={"text": text, "metadata": {**summary.metadata, "cut": True}}
        )

    def prepare(self, plan: TurnPlan, control: sp.TurnControl, cancel: rc.CancelToken) -> TurnPlan:
        """The plan the turn's request is made from: `plan` itself, or replanned with a new
        summary. Never raises for a failed call or save (noted instead); a stop keeps `plan`."""
        if not self.wanted(plan):
            return plan
        cid = plan.conversation.id
        try:
            summary = self._write(plan, cancel)
            control.wait_ready()  # nothing is stored before the turn's own commit
            self.store.add_summary(plan.user, cid, summary)
            tokens = (summary.usage.total_tokens or 0) if summary.usage is not None else 0
            self.spent.append((summary.cost_usd, tokens))
        except sp.TurnAborted:
            raise
        except SummaryFailed as failed:
            if not control.stopped:
                log.warning("summary_failed conversation=%s code=%s", cid, failed.code)
                self.notes[SUMMARY_ERROR] = failed.code
            return plan
        except (cm.ConversationError, OSError):
            log.warning("summary_not_saved conversation=%s", cid)
            self.notes[SUMMARY_ERROR] = "internal"
            return plan
        except Exception:
            # Our own failure must not cost the user the answer: the turn goes on as planned.
            log.exception("summary_broken conversation=%s", cid)
            self.notes[SUMMARY_ERROR] = "internal"
            return plan
        conversation = plan.conversation.model_copy(
            update={"summaries": [*plan.conversation.summaries, summary]}
        )
        try:
            return replan(plan, conversation, self.registry, self.settings)
        except ContextTooLongRequest:
            return plan  # cannot happen (a summary only shrinks the input); keep the first plan


@dataclass
class SpendingAdmission:
    """A turn's admission whose spend includes what its summary or compaction call cost, so a
    budget counts it as the totals and statistics do (`Admission`).

    A turn any part of which has no known price is unpriced: its cost is unknown overall. The
    ledger then gets the unpriced mark and, through `spend` (the limits' `add_spend` for this
    user), the known costs beside it; without `spend` only the mark (never a priced turn)."""

    inner: Admission
    upkeep: ContextUpkeep
    spend: Callable[..., None] | None = None  # (cost_usd=, tokens=): spend of no turn
    settled: bool = field(default=False, init=False)

    def settle(self, *, cost_usd: float | None, tokens: int) -> None:
        """Settle the reply's spend plus the upkeep's (idempotent, as `Admission.settle`)."""
        if self.settled:
            return
        self.settled = True
        # A part with neither tokens nor a cost spent nothing (a reply failed before any answer).
        parts = [(c, t) for c, t in [(cost_usd, tokens), *self.upkeep.spent] if c is not None or t]
        known = [(c, t) for c, t in parts if c is not None]
        known_cost = sum(c for c, _ in known if c is not None)
        known_tokens = sum(t for _, t in known)
        unpriced_tokens = sum(t for c, t in parts if c is None)
        if len(known) == len(parts):  # every part priced (or nothing spent)
            self.inner.settle(cost_usd=known_cost if parts else None, tokens=known_tokens)
        elif known and self.spend is not None:
            self.inner.settle(cost_usd=None, tokens=unpriced_tokens)
            self.spend(cost_usd=known_cost, tokens=known_tokens)
        else:
            self.inner.settle(cost_usd=None, tokens=unpriced_tokens + known_tokens)

    def release(self) -> None:
        """Give the concurrency slot back."""
        self.inner.release()
