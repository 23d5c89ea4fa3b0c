"""Fit a request to a model's window: the budget (window less the reply's room and a margin), the
counts of the instructions, the new message and the branch's messages, and where a replay starts.

Every count comes from one `TokenCounter` (app/context/tokens.py), so the preview and the turn agree.
Pure functions; imports neither Flask nor an SDK.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conversation_manager import Attachment, Message

from .parts import attachment_tokens, has_content
from .records import ContextPlan, PlannedMessage
from .tokens import TURN_OVERHEAD, TokenCounter

DEFAULT_CONTEXT_TOKENS = 128_000
MIN_MARGIN_TOKENS = 1024
MARGIN_SHARE = 0.02


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


def new_message_raw(counter: TokenCounter, text: str, attachments: Sequence[Attachment]) -> int:
    """The uncalibrated tokens of a message's text and attachments, framing included (0: none)."""
    raw = counter.raw(text) + TURN_OVERHEAD if text else 0
    if attachments:
        raw += attachment_tokens(attachments) + (0 if text else TURN_OVERHEAD)
    return raw


def message_raw(counter: TokenCounter, message: Message, scope: str) -> int:
    """A stored message's uncalibrated tokens (the text's count cached), attachments included."""
    raw = counter.message_raw(message, scope)
    if message.attachments:
        raw += attachment_tokens(message.attachments) + (0 if message.text else TURN_OVERHEAD)
    return raw


def base_tokens(counter: TokenCounter, instructions: str) -> tuple[int, int]:
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
    new = counter.scale(new_message_raw(counter, new_text, attachments))
    return base_tokens(counter, instructions or "")[0] + new <= budget


@dataclass(frozen=True)
class Fit:
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
        """The calibrated tokens of the instructions and the new message."""
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


def fit_start(costs: list[int], path: Sequence[Message], available: int) -> int:
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
