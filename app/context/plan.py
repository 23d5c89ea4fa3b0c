"""Decide what the model receives for a turn (API "What the model receives", rules 1-3): the parent's
response id (1), the provider's own last reply in the branch with the later messages as text (2, the
hybrid chain), or the branch's history replayed and fitted to the window (3).

Pure functions over conversation records; imports neither Flask nor an SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from conversation_manager import Conversation, Message
from conversation_manager.models import CHAINABLE_STATUSES

__all__ = [
    "CHAINABLE_STATUSES",
    "ContextMode",
    "ContextPlan",
    "chain_point",
    "context_budget",
    "estimate_tokens",
    "fit_history",
    "history_turns",
    "holds_newest",
    "plan_context",
]

ContextMode = Literal["first", "chained", "replayed", "compacted"]

# Rough, provider-neutral estimate: about four characters a token for English text. It only decides
# what to trim from a replayed history; the upstream still counts for real.
CHARS_PER_TOKEN = 4
DEFAULT_CONTEXT_TOKENS = 128_000
MIN_MARGIN_TOKENS = 1024
MARGIN_SHARE = 0.02


@dataclass(frozen=True)
class ContextPlan:
    """The input of one upstream request, and how it relates to the conversation's history."""

    input: str | list[dict[str, str]]
    previous_response_id: str | None
    context_mode: ContextMode
    trimmed_messages: int = 0
    history: list[dict[str, str]] = field(default_factory=list)
    chained_tokens: int = 0  # the chained reply's reported input + output tokens
    replayed_messages: int = 0  # a hybrid chain: the later messages sent as text beside it
    chained_message_id: str | None = None  # the reply chained from

    def input_tokens(self, instructions: str | None) -> int:
        """Estimate the input tokens of the request this plan makes."""
        if isinstance(self.input, str):
            sent = estimate_tokens(self.input)
        else:
            sent = sum(estimate_tokens(turn["content"]) for turn in self.input)
        return sent + estimate_tokens(instructions or "") + self.chained_tokens


def estimate_tokens(text: str) -> int:
    """Estimate the tokens of `text` without a tokenizer download."""
    return len(text) // CHARS_PER_TOKEN + 1


def context_budget(
    window: int | None,
    *,
    context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    output_limits: tuple[int | None, ...] = (),
) -> int:
    """Tokens a replayed history may use: window - the output reserved - a margin (API "Context").

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


def holds_newest(
    instructions: str,
    new_text: str,
    *,
    window: int | None,
    context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    output_limits: tuple[int | None, ...] = (),
) -> bool:
    """True when a model's budget holds the instructions plus the newest message (API "Context").

    A model whose window is unknown is never judged too small (`context_tokens` only fits it).
    """
    if window is None:
        return True
    budget = context_budget(window, context_tokens=context_tokens, output_limits=output_limits)
    return estimate_tokens(instructions or "") + estimate_tokens(new_text) <= budget


def history_turns(messages: list[Message]) -> list[dict[str, str]]:
    """Turn a branch into plain text turns (no provider-specific items, so any model can read it)."""
    turns = []
    for message in messages:
        if not message.text:
            continue
        turns.append({"role": message.role, "content": message.text})
    return turns


def fit_history(
    turns: list[dict[str, str]], new_text: str, instructions: str, budget_tokens: int
) -> tuple[list[dict[str, str]], int]:
    """Drop the oldest turns until history + new message + instructions fit; return (kept, dropped)."""
    available = budget_tokens - estimate_tokens(new_text) - estimate_tokens(instructions or "")
    kept: list[dict[str, str]] = []
    for turn in reversed(turns):
        cost = estimate_tokens(turn["content"])
        if cost > available:
            break
        kept.append(turn)
        available -= cost
    kept.reverse()
    # A replay must not start with an orphaned assistant answer.
    while kept and kept[0]["role"] != "user":
        kept.pop(0)
    return kept, len(turns) - len(kept)


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
) -> ContextPlan:
    """Plan a turn whose user message `new_text` sits under `parent_id` (None: at the root)."""
    if parent_id is None:
        return ContextPlan(input=new_text, previous_response_id=None, context_mode="first")
    budget = context_budget(window, context_tokens=context_tokens, output_limits=output_limits)
    if not force_replay:
        point = chain_point(conversation, parent_id, provider, stateful)
        if point is not None:
            reply, later = point
            usage = reply.usage
            chained = (usage.input_tokens + usage.output_tokens) if usage is not None else 0
            if not later:  # rule 1: the parent itself
                return ContextPlan(
                    input=new_text,
                    previous_response_id=reply.response_id,
                    context_mode="chained",
                    chained_tokens=chained,
                    chained_message_id=reply.id,
                )
            # Rule 2: the later messages go as text, all of them within the window less what the
            # chain already holds; if they do not fit, rule 3.
            turns = history_turns(later)
            kept, dropped = fit_history(
                turns, new_text, conversation.instructions, budget - chained
            )
            if dropped == 0:
                return ContextPlan(
                    input=[*turns, {"role": "user", "content": new_text}],
                    previous_response_id=reply.response_id,
                    context_mode="chained",
                    history=turns,
                    chained_tokens=chained,
                    replayed_messages=len(turns),
                    chained_message_id=reply.id,
                )
    turns = history_turns(conversation.path_to(parent_id))
    if not turns:
        return ContextPlan(input=new_text, previous_response_id=None, context_mode="first")
    kept, dropped = fit_history(turns, new_text, conversation.instructions, budget)
    return ContextPlan(
        input=[*kept, {"role": "user", "content": new_text}],
        previous_response_id=None,
        context_mode="replayed",
        trimmed_messages=dropped,
        history=kept,
    )
