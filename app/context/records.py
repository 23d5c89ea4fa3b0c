"""The records of a context plan: what one upstream request is sent (`ContextPlan`) and what it does
with each message of the branch (`PlannedMessage`).

Pure data over conversation records; imports neither Flask nor an SDK.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple

from conversation_manager import Attachment
from conversation_manager.models import Summary

from .parts import attachment_tokens
from .tokens import ESTIMATE, TokenCounter

ContextMode = Literal["first", "chained", "replayed", "compacted"]
MessageState = Literal["sent", "in_chain", "summarised", "dropped"]

# A reply's `metadata[IMAGES_OMITTED]`: its request had images replaced by notes, so its chain
# upstream holds only the notes.
IMAGES_OMITTED = "images_omitted"


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
