"""Decide what the model receives for a turn (API "What the model receives", rules 1-3, and "Context"):
the parent's response id (1), the provider's own last reply in the branch with the later messages as
text (2, the hybrid chain), or the branch's history replayed and fitted to the window (3), where a
reusable summary (or the provider's own compaction) may stand for the oldest messages.

Every count comes from one `TokenCounter` (app/context/tokens.py), so the preview and the turn agree.
Pure functions over conversation records; imports neither Flask nor an SDK.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple

from conversation_manager import Attachment, Conversation, Message
from conversation_manager.models import CHAINABLE_STATUSES, Summary

from .parts import attachment_tokens, content_of, has_content, holds_image, images_in, new_input
from .summaries import (
    SUMMARY_PREFIX,
    SUMMARY_RESERVE_TOKENS,
    reusable_summaries,
    summary_text_cap,
    summary_tokens,
)
from .tokens import ESTIMATE, TURN_OVERHEAD, TokenCounter, counter_for, estimate_tokens

__all__ = [
    "CHAINABLE_STATUSES",
    "IMAGES_OMITTED",
    "SUMMARY_PREFIX",
    "SUMMARY_RESERVE_TOKENS",
    "ContextMode",
    "ContextPlan",
    "MessageState",
    "PlannedMessage",
    "chain_point",
    "context_budget",
    "estimate_tokens",
    "history_turns",
    "holds_newest",
    "plan_context",
    "reusable_summaries",
]

ContextMode = Literal["first", "chained", "replayed", "compacted"]
MessageState = Literal["sent", "in_chain", "summarised", "dropped"]

DEFAULT_CONTEXT_TOKENS = 128_000
# A reply's `metadata[IMAGES_OMITTED]`: its request had images replaced by notes, so its chain
# upstream holds only the notes.
IMAGES_OMITTED = "images_omitted"
MIN_MARGIN_TOKENS = 1024
MARGIN_SHARE = 0.02


class PlannedMessage(NamedTuple):
    """One message of the branch and what the plan does with it (API "Context"); a named tuple,
    since a long branch makes thousands of them per plan."""

    id: str
    role: str
    state: MessageState
    tokens: int


@dataclass(frozen=True)
class ContextPlan:
    """The input of one upstream request, and how it relates to the conversation's history."""

    input: str | list[dict[str, Any]]
    previous_response_id: str | None
    context_mode: ContextMode
    trimmed_messages: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    chained_tokens: int = 0  # the chained reply's reported input + output tokens
    replayed_messages: int = 0  # a hybrid chain: the later messages sent as text beside it
    chained_message_id: str | None = None  # the reply chained from
    # The branch root first, with each message's state and tokens.
    messages: tuple[PlannedMessage, ...] = ()
    summary: Summary | None = None  # the reusable summary the plan uses
    needs_summary: tuple[str, ...] = ()  # a dropped prefix without a reusable summary
    instructions_suffix: str = ""  # appended to the instructions: the summary's text as sent
    compacted_items: list[dict[str, Any]] = field(default_factory=list)
    needs_compaction: bool = False  # the chain is past `compact_after`
    # With `needs_summary` or `needs_compaction`: the tokens (as `summary_tokens` counts them, its
    # prefix included) a text summary written for this plan may take and still be used by it.
    summary_room: int = 0
    summary_tokens: int = 0
    # The estimate: instructions (with the suffix) + the messages sent + the new message + the
    # chain's reported tokens; `raw_input_tokens` is it uncalibrated and without the chain.
    estimated_input_tokens: int = 0
    raw_input_tokens: int = 0
    instructions_tokens: int = 0  # the conversation's instructions (the summary not included)
    message_tokens: int = 0  # the new message
    token_method: str = ESTIMATE
    budget: int = 0
    context_window: int = 0
    # Images of the messages sent go as notes (a text-only model): the reply made from this plan
    # is marked (`reply_marks`), and a model that takes images never chains over it.
    images_omitted: bool = False
    token_factor: float = 1.0  # the calibration of the counter the estimate was made with

    @property
    def reply_marks(self) -> dict[str, Any]:
        """What the reply's metadata records of this plan (`images_omitted`)."""
        return {IMAGES_OMITTED: True} if self.images_omitted else {}

    def with_notes(self, images: Sequence[Attachment], notes: Sequence[str]) -> ContextPlan:
        """This plan with its estimate counting `notes` where it counted `images` (images of the
        input left out of a request, e.g. past a protocol's image budget)."""
        if not images:
            return self
        counter = TokenCounter(self.token_method, self.token_factor)
        raw = attachment_tokens(images) - sum(counter.raw(note) for note in notes)
        return replace(
            self,
            estimated_input_tokens=max(0, self.estimated_input_tokens - counter.scale(raw)),
            raw_input_tokens=max(0, self.raw_input_tokens - raw),
        )

    def input_tokens(self, instructions: str | None = None) -> int:
        """The estimated input tokens of the request this plan makes (its own instructions)."""
        return self.estimated_input_tokens

    @property
    def sent_ids(self) -> list[str]:
        """The ids of the branch's messages sent as text."""
        return [m.id for m in self.messages if m.state == "sent"]


def context_budget(
    window: int | None,
    *,
    context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    output_limits: tuple[int | None, ...] = (),
) -> int:
    """Tokens a request may use: window - the output reserved - a margin (API "Context").

    The reserved output is the smallest of `output_limits` that is known; a model whose window is
    unknown gets `context_tokens`.
    """
    size = window or context_tokens
    known = [limit for limit in output_limits if limit]
    reserved = min(known) if known else 0
    margin = max(MIN_MARGIN_TOKENS, int(size * MARGIN_SHARE))
    return size - reserved - margin


def chain_point(
    conversation: Conversation, parent_id: str | None, provider: str, stateful: bool
) -> tuple[Message, list[Message]] | None:
    """The reply to chain from under rules 1-2 and the branch's messages after it (rule 1: none)."""
    if parent_id is None or not stateful:
        return None
    reply = conversation.chain_reply(parent_id, provider)
    if reply is None:
        return None
    path = conversation.path_to(parent_id)
    later = path[[m.id for m in path].index(reply.id) + 1 :]
    return reply, later


def _new_raw(counter: TokenCounter, text: str, attachments: Sequence[Attachment]) -> int:
    """The uncalibrated tokens of a message's text and attachments, framing included (0: none)."""
    raw = counter.raw(text) + TURN_OVERHEAD if text else 0
    if attachments:
        raw += attachment_tokens(attachments) + (0 if text else TURN_OVERHEAD)
    return raw


def _message_raw(counter: TokenCounter, message: Message, scope: str) -> int:
    """A stored message's uncalibrated tokens (the text's count cached), attachments included."""
    raw = counter.message_raw(message, scope)
    if message.attachments:
        raw += attachment_tokens(message.attachments) + (0 if message.text else TURN_OVERHEAD)
    return raw


def _base_tokens(counter: TokenCounter, instructions: str) -> tuple[int, int]:
    """(calibrated, raw) tokens of the instructions."""
    raw = counter.raw(instructions) + TURN_OVERHEAD if instructions else 0
    return counter.scale(raw), raw


def holds_newest(
    instructions: str,
    new_text: str,
    *,
    window: int | None,
    context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    output_limits: tuple[int | None, ...] = (),
    counter: TokenCounter | None = None,
    attachments: Sequence[Attachment] = (),
) -> bool:
    """True when a model's budget holds the instructions plus the newest message and its
    `attachments` (API "Context").

    A model whose window is unknown is never judged too small: `context_tokens` is a guess that
    only trims a replay, while the upstream knows its real window.
    """
    if window is None:
        return True
    counter = counter or TokenCounter()
    budget = context_budget(window, context_tokens=context_tokens, output_limits=output_limits)
    new = counter.scale(_new_raw(counter, new_text, attachments))
    return _base_tokens(counter, instructions or "")[0] + new <= budget


def _turn(message: Message) -> dict[str, Any]:
    """A message as a plain text turn (no provider-specific items, so any model can read it); one
    with attachments as parts holding references to them (app/context/parts.py)."""
    return {"role": message.role, "content": content_of(message.text, message.attachments)}


def history_turns(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """A branch as plain text turns; a message with nothing to send (a reply failed before any
    text) is left out."""
    return [_turn(m) for m in messages if has_content(m)]


@dataclass(frozen=True)
class _Fit:
    """The counts one plan shares: the counter, the budget, the instructions and the new message."""

    counter: TokenCounter
    budget: int
    window: int
    instructions: tuple[int, int]  # (calibrated, raw)
    new: tuple[int, int]
    # A text-only model (`images` False): the messages whose images it gets as notes, if sent.
    noted: frozenset[str] = frozenset()
    new_noted: bool = False

    @property
    def base(self) -> int:
        return self.instructions[0] + self.new[0]

    def plan(self, *, raw_sent: int = 0, **kw: Any) -> ContextPlan:
        """A plan with the estimate filled in from the states of `messages` (`raw_sent`: the
        uncalibrated tokens of what is sent beside the instructions and the new message)."""
        messages: tuple[PlannedMessage, ...] = kw.get("messages", ())
        sent = sum(m.tokens for m in messages if m.state == "sent")
        suffix = kw.get("summary_tokens", 0)
        noted = self.new_noted or any(m.state == "sent" and m.id in self.noted for m in messages)
        return ContextPlan(
            images_omitted=noted,
            token_factor=self.counter.factor,
            estimated_input_tokens=self.base + sent + suffix + kw.get("chained_tokens", 0),
            raw_input_tokens=self.instructions[1] + self.new[1] + raw_sent,
            instructions_tokens=self.instructions[0],
            message_tokens=self.new[0],
            token_method=self.counter.method,
            budget=self.budget,
            context_window=self.window,
            **kw,
        )


def _fit_start(costs: list[int], path: Sequence[Message], available: int) -> int:
    """The index of the first message kept when the oldest go first until the rest fit
    `available`; a replay never starts with an orphaned answer."""
    start = len(path)
    for i in range(len(path) - 1, -1, -1):
        if costs[i] > available:
            break
        available -= costs[i]
        start = i
    while start < len(path) and (path[start].role != "user" or not has_content(path[start])):
        start += 1
    return start


def plan_context(
    conversation: Conversation,
    parent_id: str | None,
    new_text: str,
    *,
    provider: str,
    stateful: bool,
    context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    window: int | None = None,
    output_limits: tuple[int | None, ...] = (),
    force_replay: bool = False,
    summaries: bool = False,
    compact_after: int | None = None,
    model: str | None = None,
    counter: TokenCounter | None = None,
    new_tokens: int | None = None,
    new_attachments: Sequence[Attachment] = (),
    images: bool = True,
) -> ContextPlan:
    """Plan a turn whose user message `new_text` (with `new_attachments`) sits under `parent_id`
    (None: at the root).

    `counter` defaults to the one of `provider:model` (the conversation's model); `new_tokens`
    stands for the new message's count when only its length is known (the preview). A message
    with attachments goes as parts holding references to them, where a text-only one goes as
    its text (a lone new message: one user turn instead of a plain string). `images` False (a
    text-only model): a chain whose part up to the chained reply holds images is not used.
    """
    counter = counter or counter_for(conversation, provider, model or conversation.model)
    new_raw = _new_raw(counter, new_text, new_attachments)
    new_content = content_of(new_text, new_attachments)
    lone = new_input(new_text, new_attachments)
    new = (new_tokens, 0) if new_tokens is not None else (counter.scale(new_raw), new_raw)
    fit = _Fit(
        counter=counter,
        budget=context_budget(window, context_tokens=context_tokens, output_limits=output_limits),
        window=window or context_tokens,
        instructions=_base_tokens(counter, conversation.instructions),
        new=new,
        noted=frozenset()
        if images
        else frozenset(m.id for m in conversation.messages if images_in([m])),
        new_noted=not images and holds_image(new_attachments),
    )
    if parent_id is None:
        return fit.plan(input=lone, previous_response_id=None, context_mode="first")
    path = conversation.path_to(parent_id)
    raws = [_message_raw(counter, m, conversation.id) for m in path]
    costs = [counter.scale(r) for r in raws]
    use_summaries = summaries or compact_after is not None
    own_model = model or conversation.model
    found = reusable_summaries(conversation, path, provider, own_model) if use_summaries else []
    if not force_replay:
        point = chain_point(conversation, parent_id, provider, stateful)
        at = len(path) - 1 - len(point[1]) if point is not None else -1
        if point is not None and not images and images_in(path[: at + 1]):
            # A text-only model never chains over images it cannot read: a replay, with notes.
            point, at = None, -1
        if point is not None and images and point[0].metadata.get(IMAGES_OMITTED):
            # The chain upstream holds notes where the images were: a replay sends them.
            point, at = None, -1
        # A summary of the branch down to the chained reply (that chain compacted) replaces it;
        # one that ends elsewhere leaves the chain, which keeps the provider's cache.
        if point is not None and not any(len(s.covers) == at + 1 for s in found):
            reply, later = point
            usage = reply.usage
            chained = (usage.input_tokens + usage.output_tokens) if usage is not None else 0
            needs_compaction = compact_after is not None and chained > compact_after
            # A text summary in place of the chain (no compaction of the provider's own) goes
            # beside the later messages, as the replan's replay counts it.
            room = fit.budget - fit.base - sum(costs[at + 1 :]) if needs_compaction else 0
            states: list[PlannedMessage] = [
                PlannedMessage(m.id, m.role, "in_chain", costs[i])
                for i, m in enumerate(path[: at + 1])
            ]
            if not later:  # rule 1: the parent itself
                return fit.plan(
                    input=lone,
                    previous_response_id=reply.response_id,
                    context_mode="chained",
                    chained_tokens=chained,
                    chained_message_id=reply.id,
                    messages=tuple(states),
                    needs_compaction=needs_compaction,
                    summary_room=room,
                )
            # Rule 2: the later messages go as text, all of them within the window less what the
            # chain already holds; if they do not fit, rule 3.
            later_costs = costs[at + 1 :]
            if fit.base + sum(later_costs) <= fit.budget - chained:
                turns = history_turns(later)
                for m, cost in zip(later, later_costs, strict=True):
                    states.append(
                        PlannedMessage(m.id, m.role, "sent" if has_content(m) else "dropped", cost)
                    )
                return fit.plan(
                    input=[*turns, {"role": "user", "content": new_content}],
                    previous_response_id=reply.response_id,
                    context_mode="chained",
                    history=turns,
                    chained_tokens=chained,
                    replayed_messages=len(turns),
                    chained_message_id=reply.id,
                    messages=tuple(states),
                    needs_compaction=needs_compaction,
                    summary_room=room,
                    raw_sent=sum(raws[at + 1 :]),
                )
        elif point is not None:
            return _replay(fit, path, raws, costs, new_content, found, chain_covered=True)
    return _replay(fit, path, raws, costs, new_content, found)


def _replay(
    fit: _Fit,
    path: list[Message],
    raws: list[int],
    costs: list[int],
    new_content: str | list[dict[str, Any]],
    found: list[Summary],
    *,
    chain_covered: bool = False,
) -> ContextPlan:
    """Rule 3: the branch as text, the oldest first to go; a reusable summary may stand for them."""
    available = fit.budget - fit.base
    start = _fit_start(costs, path, available)
    dropped = [m for m in path[:start] if has_content(m)]
    if dropped or chain_covered:
        for summary in found:
            k = len(summary.covers)
            tokens = summary_tokens(fit.counter, summary)
            if tokens + sum(costs[k:]) > available:
                continue
            return _with_summary(fit, path, raws, costs, new_content, summary, tokens)
    needs: tuple[str, ...] = ()
    room = 0
    if dropped:
        # The prefix to summarise leaves room for the summary beside what follows it; the
        # summary is then written to that room (its output cap, then `trim_summary`).
        reserve = min(SUMMARY_RESERVE_TOKENS, available // 4)  # a small window: a short one
        cut = max(start, _fit_start(costs, path, available - reserve))
        room = available - sum(costs[cut:])
        if summary_text_cap(fit.counter, room) > 0:  # else no summary could ever fit
            needs = tuple(m.id for m in path[:cut])
        else:
            room = 0
    kept = path[start:]
    turns = history_turns(kept)
    states = tuple(
        PlannedMessage(m.id, m.role, "sent" if cost and i >= start else "dropped", cost)
        for i, (m, cost) in enumerate(zip(path, costs, strict=True))
    )
    if not turns and not dropped:
        return fit.plan(
            input=new_content
            if isinstance(new_content, str)
            else [{"role": "user", "content": new_content}],
            previous_response_id=None,
            context_mode="first",
            messages=states,
        )
    return fit.plan(
        input=[*turns, {"role": "user", "content": new_content}],
        previous_response_id=None,
        context_mode="replayed",
        trimmed_messages=len(dropped),
        history=turns,
        messages=states,
        needs_summary=needs,
        summary_room=room,
        raw_sent=sum(raws[start:]),
    )


def _with_summary(
    fit: _Fit,
    path: list[Message],
    raws: list[int],
    costs: list[int],
    new_content: str | list[dict[str, Any]],
    summary: Summary,
    tokens: int,
) -> ContextPlan:
    """Rule 3 with `summary` standing for the first messages of the branch (`compacted`)."""
    k = len(summary.covers)
    after = path[k:]
    turns = history_turns(after)
    items = list(summary.provider_items or []) if summary.text is None else []
    states = tuple(
        PlannedMessage(
            m.id,
            m.role,
            "summarised" if i < k else ("sent" if has_content(m) else "dropped"),
            costs[i],
        )
        for i, m in enumerate(path)
    )
    suffix = SUMMARY_PREFIX + summary.text if summary.text is not None else ""
    return fit.plan(
        input=[*items, *turns, {"role": "user", "content": new_content}],
        previous_response_id=None,
        context_mode="compacted",
        history=turns,
        messages=states,
        summary=summary,
        instructions_suffix=suffix,
        compacted_items=items,
        summary_tokens=tokens,
        raw_sent=sum(raws[k:]) + (fit.counter.raw(suffix) if suffix else tokens),
    )
