"""Replay a branch as text (API "What the model receives", rule 3): the oldest messages go first
until the rest fit, and a reusable summary (or the provider's own compaction) may stand for them.

Pure functions over conversation records; imports neither Flask nor an SDK.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conversation_manager import Message
from conversation_manager.models import Summary

from .fitting import Fit, fit_start
from .parts import content_of, has_content
from .records import ContextPlan, PlannedMessage
from .summaries import SUMMARY_PREFIX, SUMMARY_RESERVE_TOKENS, summary_text_cap, summary_tokens


def _turn(message: Message) -> dict[str, Any]:
    """A message as a plain text turn (no provider-specific items, so any model can read it); one
    with attachments as parts holding references to them (app/context/parts.py)."""
    return {"role": message.role, "content": content_of(message.text, message.attachments)}


def history_turns(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """A branch as plain text turns; a message with nothing to send (a reply failed before any
    text) is left out."""
    return [_turn(m) for m in messages if has_content(m)]


def replay(
    fit: Fit,
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
    start = fit_start(costs, path, available)
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
        cut = max(start, fit_start(costs, path, available - reserve))
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
    fit: Fit,
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
