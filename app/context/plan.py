"""Decide what the model receives for a turn (API "What the model receives", rules 1-3, and "Context"):
the parent's response id (1), the provider's own last reply in the branch with the later messages as
text (2, the hybrid chain), or the branch's history replayed and fitted to the window (3), where a
reusable summary (or the provider's own compaction) may stand for the oldest messages (replay.py;
the counts and the budget in fitting.py, the plan's records in records.py).

Every count comes from one `TokenCounter` (app/context/tokens.py), so the preview and the turn agree.
Pure functions over conversation records; imports neither Flask nor an SDK.
"""

from __future__ import annotations

from collections.abc import Sequence

from conversation_manager import Attachment, Conversation, Message

from .fitting import (
    DEFAULT_CONTEXT_TOKENS,
    Fit,
    base_tokens,
    context_budget,
    message_raw,
    new_message_raw,
)
from .parts import content_of, has_content, holds_image, images_in, new_input
from .records import IMAGES_OMITTED, ContextPlan, PlannedMessage
from .replay import history_turns, replay
from .summaries import reusable_summaries
from .tokens import TokenCounter, counter_for


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
    new_raw = new_message_raw(counter, new_text, new_attachments)
    new_content = content_of(new_text, new_attachments)
    lone = new_input(new_text, new_attachments)
    new = (new_tokens, 0) if new_tokens is not None else (counter.scale(new_raw), new_raw)
    fit = Fit(
        counter=counter,
        budget=context_budget(window, context_tokens=context_tokens, output_limits=output_limits),
        window=window or context_tokens,
        instructions=base_tokens(counter, conversation.instructions),
        new=new,
        noted=frozenset()
        if images
        else frozenset(m.id for m in conversation.messages if images_in([m])),
        new_noted=not images and holds_image(new_attachments),
    )
    if parent_id is None:
        return fit.plan(input=lone, previous_response_id=None, context_mode="first")
    path = conversation.path_to(parent_id)
    raws = [message_raw(counter, m, conversation.id) for m in path]
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
            return replay(fit, path, raws, costs, new_content, found, chain_covered=True)
    return replay(fit, path, raws, costs, new_content, found)
