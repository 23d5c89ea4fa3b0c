"""Decide what the model receives for a turn: a chained response id, or the branch's history replayed.

Pure functions over conversation records; imports neither Flask nor an SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from conversation_manager import Conversation, Message

ContextMode = Literal["first", "chained", "replayed", "compacted"]

# Rough, provider-neutral estimate: about four characters a token for English text. It only decides
# what to trim from a replayed history; the upstream still counts for real.
CHARS_PER_TOKEN = 4
DEFAULT_CONTEXT_TOKENS = 128_000
CHAINABLE_STATUSES = frozenset({"completed", "incomplete"})


@dataclass(frozen=True)
class ContextPlan:
    """The input of one upstream request, and how it relates to the conversation's history."""

    input: str | list[dict[str, str]]
    previous_response_id: str | None
    context_mode: ContextMode
    trimmed_messages: int = 0
    history: list[dict[str, str]] = field(default_factory=list)


def estimate_tokens(text: str) -> int:
    """Estimate the tokens of `text` without a tokenizer download."""
    return len(text) // CHARS_PER_TOKEN + 1


def chain_parent(
    conversation: Conversation, parent_id: str | None, provider: str, stateful: bool
) -> str | None:
    """Return the response id a turn under `parent_id` may chain from, or None to replay."""
    if parent_id is None or not stateful:
        return None
    parent = conversation.message(parent_id)
    if (
        parent.role != "assistant"
        or not parent.response_id
        or parent.status not in CHAINABLE_STATUSES
        or (parent.provider or conversation.provider) != provider
    ):
        return None
    return parent.response_id


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
    force_replay: bool = False,
) -> ContextPlan:
    """Plan a turn whose user message `new_text` sits under `parent_id` (None: at the root)."""
    if parent_id is None:
        return ContextPlan(input=new_text, previous_response_id=None, context_mode="first")
    if not force_replay:
        response_id = chain_parent(conversation, parent_id, provider, stateful)
        if response_id is not None:
            return ContextPlan(
                input=new_text, previous_response_id=response_id, context_mode="chained"
            )
    turns = history_turns(conversation.path_to(parent_id))
    if not turns:
        return ContextPlan(input=new_text, previous_response_id=None, context_mode="first")
    # Leave room for the answer: a quarter of the window.
    budget = context_tokens * 3 // 4
    kept, dropped = fit_history(turns, new_text, conversation.instructions, budget)
    return ContextPlan(
        input=[*kept, {"role": "user", "content": new_text}],
        previous_response_id=None,
        context_mode="replayed",
        trimmed_messages=dropped,
        history=kept,
    )
