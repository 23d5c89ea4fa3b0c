"""Preview a turn (API "Context": `GET /conversations/ID/context`): what the next turn would send,
planned by the turn's own code (`plan_context_for`), never sent.

When the turn would write a summary or a compaction first (`compaction.upkeep_wanted`, the turn's
own rule: summaries on and a dropped prefix to summarise, or a chain past the compaction threshold
that no compaction just started), the preview says so as the turn's `conversation` frame does: `context_mode` compacted, the messages the summary will stand for `summarised`, and the
estimate without the summary (its text does not exist yet; `summary_pending`).

Pure: records and settings in, a preview out. Imports no Flask and no SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import conversation_manager as cm
import responses_client as rc
from app.context import ContextPlan, PlannedMessage, counter_for

from .candidates import plan_context_for, takes_images, window_of
from .compaction import upkeep_wanted
from .config import ChatSettings, TurnRequest
from .errors import ContextTooLongRequest
from .plan import new_message_parent


@dataclass(frozen=True)
class ContextPreview:
    """What the next turn would send (API "Context"), without sending it."""

    provider: str
    model: str
    context: ContextPlan
    estimated_cost_usd: float | None = None
    summary_pending: bool = False  # a summary or compaction is written before the request


def as_planned(
    context: ContextPlan, conversation: cm.Conversation, settings: ChatSettings
) -> tuple[ContextPlan, bool]:
    """`context` as the turn will send it when a summary or compaction comes first (the upkeep's
    own `upkeep_wanted`); else `context` itself."""
    if not upkeep_wanted(context, conversation, settings):
        return context, False
    covered: set[str]
    if context.needs_compaction:  # the chain, compacted (or summarised as text)
        covered = {m.id for m in context.messages if m.state == "in_chain"}
    else:
        covered = set(context.needs_summary)
    messages = tuple(
        PlannedMessage(m.id, m.role, "summarised", m.tokens)
        if m.id in covered
        else PlannedMessage(m.id, m.role, "sent" if m.tokens else "dropped", m.tokens)
        for m in context.messages
    )
    sent = sum(m.tokens for m in messages if m.state == "sent")
    estimate = context.instructions_tokens + context.message_tokens + sent
    planned = replace(
        context,
        context_mode="compacted",
        messages=messages,
        previous_response_id=None,
        chained_tokens=0,
        trimmed_messages=0,
        estimated_input_tokens=estimate,
    )
    return planned, True


def preview_turn(
    registry: rc.ProviderRegistry,
    req: TurnRequest,
    conversation: cm.Conversation,
    chosen: tuple[rc.Provider, str],
    settings: ChatSettings,
    message_chars: int,
) -> ContextPreview:
    """Plan the next turn under `req.parent_message_id` (None: the branch on screen, `root`: a new
    first message) for a new message of `message_chars` characters, as `plan_turn` would.

    A parent that is not an assistant message is 400; a new message the chosen model's window
    cannot hold with the instructions is 400 `context_too_long`, as the turn would answer.
    """
    provider, model = chosen
    parent = new_message_parent(conversation, req.parent_message_id)
    counter = counter_for(conversation, provider.name, model)
    window = window_of(registry, provider, model)
    context = plan_context_for(
        conversation,
        parent,
        "",
        provider,
        settings,
        model=model,
        window=window,
        new_tokens=counter.chars(message_chars),
        images=takes_images(registry, provider.name, model),
    )
    fixed = context.instructions_tokens + context.message_tokens
    if window[0] is not None and fixed > context.budget:  # as `holds_newest` judges the turn
        raise ContextTooLongRequest("the instructions and the message alone overflow the window")
    planned, pending = as_planned(context, conversation, settings)
    return ContextPreview(provider.name, model, planned, summary_pending=pending)
