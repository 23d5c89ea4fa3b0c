"""What a model call takes and what it yields: the request and the neutral stream events.

Plain frozen dataclasses; no SDK type appears here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class ResponseRequest:
    """One model call: `input` is a string or a list of `{"role", "content"}` turns."""

    model: str
    input: str | list[dict[str, Any]]
    instructions: str | None
    previous_response_id: str | None = None
    store: bool = True
    max_output_tokens: int | None = None
    reasoning: dict[str, Any] | None = None


@dataclass(frozen=True)
class ResponseStarted:
    """The upstream accepted the request; the response id is known at once (never empty)."""

    response_id: str
    model: str | None
    request_id: str | None = None


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer (refusal text included)."""

    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the reasoning summary (parts separated by a blank line)."""

    text: str


@dataclass(frozen=True)
class Idle:
    """The upstream's buffered data is used up: a good moment to flush."""


@dataclass(frozen=True)
class Finished:
    """The terminal event: `completed` or `incomplete` (then `reason` says why).

    `reason` is API.md's normalised code (`max_output_tokens`, `content_filter`, `refusal`,
    `context_window`, `other`); `finish_reason` is the provider's own value, kept only when it
    passes the identifier rule.
    """

    status: Literal["completed", "incomplete"]
    response_id: str | None
    usage: dict[str, int] | None
    model: str | None
    reason: str | None = None
    refusal: bool = False
    finish_reason: str | None = None


Event = ResponseStarted | TextDelta | ReasoningDelta | Idle | Finished
