"""Gemini Interactions stream events (JSON dicts) -> neutral events or `ProviderError`s.

The protocol's state machine for `POST /{version}/interactions` with `"stream": true`: each SSE
message's data carries `event_type` (`interaction.created`, `interaction.status_update`,
`step.start` / `step.delta` / `step.stop`, `interaction.completed`, `error`); `[DONE]` ends it.
SDK-free, so it is tested with lists of dicts, and lean (the relay's CPU budget is per delta).
Every string it keeps passes `identifiers.clean_token` (with the adapter's secrets).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from responses_client.errors import (
    ContextTooLong,
    Interrupted,
    PreviousResponseNotFound,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UpstreamFailed,
)
from responses_client.events import Event, Finished, ReasoningDelta, ResponseStarted, TextDelta
from responses_client.identifiers import clean_token
from responses_client.responses_events import malformed_error

# An interaction's final status -> (Finished status, API.md reason); the others are errors.
ENDINGS: dict[str, tuple[Literal["completed", "incomplete"], str | None]] = {
    "completed": ("completed", None),
    "incomplete": ("incomplete", "other"),
    # Automatic continuation is off: the per-request decode limit cut the reply (continuable).
    "requires_continuation": ("incomplete", "max_output_tokens"),
    "requires_action": ("incomplete", "other"),
}
RATE_CODES = frozenset({"resource_exhausted", "rate_limit_exceeded", "RESOURCE_EXHAUSTED"})
CONTEXT_CODES = frozenset({"context_length_exceeded", "input_too_long"})


def _num(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    return value if value.__class__ is int and value >= 0 else 0


def usage_from(raw: Any) -> dict[str, int] | None:
    """Neutral usage from an interaction's `usage` (output excludes thoughts; input includes cached)."""
    if not isinstance(raw, dict):
        return None
    given = _num(raw, "total_input_tokens")
    tool = _num(raw, "total_tool_use_tokens")
    output = _num(raw, "total_output_tokens")
    thoughts = _num(raw, "total_thought_tokens")
    return {
        "input_tokens": given + tool,
        "cached_tokens": _num(raw, "total_cached_tokens"),
        "cache_write_tokens": 0,
        "output_tokens": output + thoughts,
        "reasoning_tokens": thoughts,
        "total_tokens": _num(raw, "total_tokens") or given + tool + output + thoughts,
    }


def error_from_event(code: str | None, request_id: str | None, *, chained: bool) -> ProviderError:
    """The error for an `error` event's (already cleaned) code, after HTTP 200."""
    if code in RATE_CODES:
        return RateLimited(upstream_code=code, request_id=request_id)
    if chained and code == "not_found":
        return PreviousResponseNotFound(upstream_code=code, request_id=request_id)
    if code in CONTEXT_CODES:
        return ContextTooLong(upstream_code=code, request_id=request_id)
    return UpstreamFailed(upstream_code=code, request_id=request_id)


class InteractionsState:
    """One interaction stream's events -> neutral events; raises `ProviderError`s.

    `handle(event)` returns the neutral event (or None); after `interaction.completed`
    `finished` is True. `chained`: the request named a `previous_interaction_id`.
    """

    def __init__(
        self, request_id: str | None, *, chained: bool = False, secrets: Iterable[str] = ()
    ) -> None:
        self.request_id = request_id
        self.chained = chained
        self.secrets = tuple(secrets)
        self.response_id: str | None = None
        self.model: str | None = None
        self.steps: dict[Any, Any] = {}  # step index -> step type
        self.text_seen = False
        self.finished = False

    def _clean(self, value: Any) -> str | None:
        return clean_token(value, self.secrets)

    def handle(self, ev: dict[str, Any]) -> Event | None:
        """The neutral event for one upstream event (None when it carries nothing for us)."""
        kind = ev.get("event_type")
        if kind == "step.delta":  # the common case first
            delta = ev.get("delta")
            if delta.__class__ is not dict:
                return None
            dtype = delta.get("type")
            if dtype == "text":
                if self.steps.get(ev.get("index"), "model_output") != "model_output":
                    return None
                text = delta.get("text")
                if text.__class__ is not str or not text:
                    return None
                self.text_seen = True
                return TextDelta(text)
            if dtype == "thought_summary":
                content = delta.get("content")
                text = content.get("text") if content.__class__ is dict else None
                return ReasoningDelta(text) if text.__class__ is str and text else None
            return None  # thought signatures, tool deltas
        if kind == "step.start":
            step = ev.get("step")
            self.steps[ev.get("index")] = step.get("type") if step.__class__ is dict else None
            return None
        if kind == "interaction.created":
            interaction = ev.get("interaction")
            interaction = interaction if interaction.__class__ is dict else {}
            response_id = self._clean(interaction.get("id"))
            if response_id is None:
                raise malformed_error("missing_response_id", self.request_id, text_seen=False)
            self.response_id = response_id
            self.model = self._clean(interaction.get("model"))
            return ResponseStarted(
                response_id, self.model, self.request_id, self._meta(interaction)
            )
        if kind == "interaction.completed":
            interaction = ev.get("interaction")
            return self._finished(interaction if interaction.__class__ is dict else {})
        if kind == "error":
            err = ev.get("error")
            code = err.get("code") if err.__class__ is dict else None
            raise error_from_event(self._clean(code), self.request_id, chained=self.chained)
        return None  # status updates, step.stop, unknown events

    def _meta(self, interaction: dict[str, Any]) -> dict[str, str | int]:
        tier = self._clean(interaction.get("service_tier"))
        return {"service_tier": tier} if tier else {}

    def _finished(self, interaction: dict[str, Any]) -> Finished:
        status = interaction.get("status")
        if status == "failed":
            raise UpstreamFailed(request_id=self.request_id, upstream_code="failed")
        if status == "budget_exceeded":
            raise QuotaExceeded(request_id=self.request_id, upstream_code=status)
        if status not in ENDINGS:
            raise Interrupted(request_id=self.request_id, upstream_code=self._clean(status))
        final, reason = ENDINGS[status]
        if final == "completed" and not self.text_seen:
            final, reason = "incomplete", "other"  # never an empty success
        self.finished = True
        return Finished(
            status=final,
            response_id=self.response_id or self._clean(interaction.get("id")),
            usage=usage_from(interaction.get("usage")),
            model=self._clean(interaction.get("model")) or self.model,
            reason=reason,
            finish_reason=None if status == "completed" else self._clean(status),
            metadata=self._meta(interaction),
        )
