"""The Anthropic Messages stream's events (JSON dicts) -> neutral events or `ProviderError`s.

The protocol's state machine (`message_start`, `content_block_start`/`_delta`/`_stop`,
`message_delta`, `message_stop`, `ping`, `error`), SDK-free so it is tested with lists of dicts;
the adapter (`adapters.anthropic_messages`) feeds it what `responses_client.sse` decodes. Every
string it keeps from the upstream passes `identifiers.clean_token` (with the adapter's secrets).
Imports no SDK and nothing of the app.

Anthropic's own rules it follows: `message_delta.usage` counts are cumulative (they replace the
`message_start` ones, a field left out keeps its earlier value); `input_tokens` excludes cache
reads and writes (the neutral usage adds them back); `thinking` blocks are reasoning, never
answer text; `signature_delta`, `redacted_thinking` and tool blocks carry nothing for the user.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from responses_client.errors import (
    ContextTooLong,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UpstreamFailed,
)
from responses_client.events import Event, Finished, ReasoningDelta, ResponseStarted, TextDelta
from responses_client.identifiers import clean_token
from responses_client.responses_events import malformed_error

logger = logging.getLogger("responses_client")  # one logger name for the whole package

# Stop reasons of a complete answer; any other non-null one makes the reply `incomplete`.
COMPLETE_STOPS = frozenset({"end_turn", "stop_sequence", "tool_use"})
# Anthropic's stop reasons -> API.md's incomplete codes (what is not here becomes "other").
INCOMPLETE_STOPS = {
    "max_tokens": "max_output_tokens",
    "refusal": "refusal",
    "model_context_window_exceeded": "context_window",
    "pause_turn": "other",  # a server-tool loop paused: the app sends no server tools
}
# An `error` event's `error.type` -> API.md's `cause` (for an upstream_error the page words).
EVENT_CAUSES = {
    "overloaded_error": "overloaded",
    "api_error": "server_error",
    "timeout_error": "timeout",
}
# Usage fields of the wire -> how they are read (cumulative: a later value replaces).
_USAGE_KEYS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)


def error_from_event(
    ev: Mapping[str, Any], request_id: str | None, secrets: Iterable[str] = ()
) -> ProviderError:
    """The error for an `event: error` after HTTP 200 (its `error.type`; never its message)."""
    nested = ev.get("error")
    etype = clean_token(nested.get("type"), secrets) if isinstance(nested, dict) else None
    fields: dict[str, Any] = {"request_id": request_id, "upstream_code": etype, "status": 200}
    if etype == "rate_limit_error":
        return RateLimited(**fields)
    if etype == "billing_error":
        return QuotaExceeded(**fields)
    if etype == "request_too_large":
        return ContextTooLong(**fields)
    return UpstreamFailed(cause=EVENT_CAUSES.get(etype or ""), **fields)


def _count(value: Any) -> int | None:
    return value if value.__class__ is int and value >= 0 else None


def usage_from(raw: Mapping[str, Any]) -> dict[str, int]:
    """The neutral usage from Anthropic's merged counts (input made inclusive of the cache)."""
    fresh = raw.get("input_tokens") or 0
    write = raw.get("cache_creation_input_tokens") or 0
    read = raw.get("cache_read_input_tokens") or 0
    output = raw.get("output_tokens") or 0
    inclusive = fresh + write + read
    return {
        "input_tokens": inclusive,
        "cached_tokens": read,
        "cache_write_tokens": write,
        "output_tokens": output,
        "reasoning_tokens": min(raw.get("thinking_tokens") or 0, output),
        "total_tokens": inclusive + output,
    }


class AnthropicState:
    """Turns one Messages stream's JSON events into neutral events; raises `ProviderError`s.

    `handle(event)` returns the neutral event (or None when it carries nothing for us); after
    `message_stop` `finished` is True. `text_seen` says whether answer text was relayed (a later
    failure is then `Interrupted`, not `UpstreamUnavailable`). `metadata` (already cleaned, e.g.
    the rate-limit headers' remaining counts) goes on `ResponseStarted` and `Finished`.
    """

    def __init__(
        self,
        request_id: str | None,
        secrets: Iterable[str] = (),
        metadata: Mapping[str, str | int] | None = None,
    ) -> None:
        self.secrets = tuple(secrets)
        self.request_id = request_id
        self.metadata: dict[str, str | int] = dict(metadata or {})
        self.response_id: str | None = None
        self.model: str | None = None
        self.text_seen = False
        self.finished = False
        self.stop_reason: Any = None
        self.usage: dict[str, int] = {}
        self.reasoning_block: Any = None  # the thinking block the last reasoning came from

    def _clean(self, value: Any) -> str | None:
        return clean_token(value, self.secrets)

    def _malformed(self, what: str) -> ProviderError:
        logger.warning("upstream_malformed_stream what=%s request_id=%s", what, self.request_id)
        return malformed_error(what, self.request_id, text_seen=self.text_seen)

    def _merge_usage(self, raw: Any) -> None:
        if not isinstance(raw, dict):
            return
        usage = self.usage
        for key in _USAGE_KEYS:
            value = _count(raw.get(key))
            if value is not None:  # cumulative: replace; a field left out keeps its value
                usage[key] = value
        details = raw.get("output_tokens_details")
        if isinstance(details, dict):
            thinking = _count(details.get("thinking_tokens"))
            if thinking is not None:
                usage["thinking_tokens"] = thinking
        tier = self._clean(raw.get("service_tier"))
        if tier is not None:
            self.metadata["service_tier"] = tier

    def handle(self, ev: dict[str, Any]) -> Event | None:
        """Return the neutral event for one upstream event (None when it carries nothing for us)."""
        etype = ev.get("type")
        if etype == "content_block_delta":  # the common case first
            delta = ev.get("delta")
            if delta.__class__ is not dict:
                return None
            dtype = delta.get("type")
            if dtype == "text_delta":
                text = delta.get("text")
                if text.__class__ is not str or not text:
                    return None
                if self.response_id is None:
                    raise self._malformed("missing_message_start")
                self.text_seen = True
                return TextDelta(text)
            if dtype == "thinking_delta":
                text = delta.get("thinking")
                if text.__class__ is not str or not text:
                    return None
                if self.response_id is None:
                    raise self._malformed("missing_message_start")
                index = ev.get("index")
                if self.reasoning_block is not None and index != self.reasoning_block:
                    text = "\n\n" + text  # a new thinking block: a new part of the reasoning
                self.reasoning_block = index
                return ReasoningDelta(text)
            return None  # signature_delta, input_json_delta, citations_delta
        if etype == "content_block_start":
            block = ev.get("content_block")
            if isinstance(block, dict) and block.get("type") == "text":
                # A text block may start with text of its own (the API sends "", but allow it).
                text = block.get("text")
                if text.__class__ is str and text and self.response_id is not None:
                    self.text_seen = True
                    return TextDelta(text)
            return None
        if etype == "message_start":
            message = ev.get("message")
            message = message if isinstance(message, dict) else {}
            response_id = self._clean(message.get("id"))
            if response_id is None:
                # Kept and sent back as a thread's previous_message_id: it must be a real id.
                raise self._malformed("missing_message_id")
            self.response_id = response_id
            self.model = self._clean(message.get("model"))
            self._merge_usage(message.get("usage"))
            return ResponseStarted(response_id, self.model, self.request_id, dict(self.metadata))
        if etype == "message_delta":
            delta = ev.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason") is not None:
                self.stop_reason = delta.get("stop_reason")
            self._merge_usage(ev.get("usage"))
            return None
        if etype == "message_stop":
            return self._finished()
        if etype == "error":
            raise error_from_event(ev, self.request_id, self.secrets)
        # ping, content_block_stop, and event types this version does not know (as the SDK does)
        return None

    def _finished(self) -> Finished:
        if self.response_id is None:
            raise self._malformed("missing_message_start")
        self.finished = True
        status: Literal["completed", "incomplete"] = "completed"
        reason: str | None = None
        raw = self.stop_reason
        finish_reason = self._clean(raw)
        if raw is not None and raw not in COMPLETE_STOPS:
            status = "incomplete"
            reason = INCOMPLETE_STOPS.get(finish_reason or "", "other")
        return Finished(
            status=status,
            response_id=self.response_id,
            usage=usage_from(self.usage),
            model=self.model,
            reason=reason,
            refusal=raw == "refusal",
            finish_reason=finish_reason,
            metadata=dict(self.metadata),
        )
