"""What a finished turn reports to its observer (metrics, the turn's log line), and the observer's
Protocol.

Imports nothing of ours (the turns import it; the observers in this package implement it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["TurnObserver", "TurnReport"]


@dataclass(frozen=True)
class TurnReport:
    """One finished turn, as operators see it: ids, the answering model, how it ended, its numbers.

    Never any text of the conversation. `upstream_error` is the code of the last candidate's
    provider error (None when it answered); `fallback_from` lists the candidates given up before
    it, each `{"provider", "model", "code"}`.
    """

    user: str
    conversation_id: str
    message_id: str
    provider: str
    model: str
    context_mode: str | None
    status: str  # completed | incomplete | stopped | failed
    error_code: str | None
    usage: Mapping[str, int] | None
    cost_usd: float | None
    latency_ms: Mapping[str, int | None] = field(default_factory=dict)  # first_token, total
    upstream_error: str | None = None
    fallback_from: Sequence[Mapping[str, str]] | None = None


class TurnObserver(Protocol):
    """Told once about every turn whose outcome is final; must never raise."""

    def turn_finished(self, report: TurnReport) -> None:
        """Record the turn (count it, log it)."""
        ...
