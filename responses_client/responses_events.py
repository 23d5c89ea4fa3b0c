"""The Responses API's stream events (JSON dicts) -> neutral events or `ProviderError`s.

The protocol's state machine, shared by every adapter that speaks `POST /v1/responses` whatever
its transport. SDK-free, so it is tested with lists of dicts. Every string it keeps from the
upstream passes `identifiers.clean_token` (with the adapter's secrets).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from responses_client.errors import (
    ContextTooLong,
    Interrupted,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UpstreamFailed,
    UpstreamUnavailable,
)
from responses_client.events import Event, Finished, ReasoningDelta, ResponseStarted, TextDelta
from responses_client.identifiers import clean_token, incomplete_reason

logger = logging.getLogger("responses_client")  # one logger name for the whole package

QUOTA_CODES = frozenset(
    {"insufficient_quota", "credit_balance_exhausted", "billing_hard_limit_reached"}
)
RATE_CODES = frozenset({"rate_limit_exceeded", "too_many_requests", "rate_limited"})


def error_from_event_code(code: str | None, request_id: str | None) -> ProviderError:
    """The error for an `error` event's (already cleaned) code, most specific first."""
    if code in QUOTA_CODES:
        return QuotaExceeded(upstream_code=code, request_id=request_id)
    if code in RATE_CODES:
        return RateLimited(upstream_code=code, request_id=request_id)
    if code == "context_length_exceeded":
        return ContextTooLong(upstream_code=code, request_id=request_id)
    return UpstreamFailed(upstream_code=code, request_id=request_id)


# Rate-limit headers (OpenAI's, xAI's and most Chat Completions hosts') -> API.md metadata keys.
RATELIMIT_HEADERS = (
    ("x-ratelimit-remaining-requests", "ratelimit_remaining_requests"),
    ("x-ratelimit-remaining-tokens", "ratelimit_remaining_tokens"),
)
# The response object's fields kept as metadata (cleaned), when the upstream sends them.
META_FIELDS = ("service_tier", "system_fingerprint")


def ratelimit_metadata(headers: Mapping[str, str] | None) -> dict[str, str | int]:
    """The rate-limit headers' remaining counts (digits only; anything else is dropped)."""
    out: dict[str, str | int] = {}
    for header, key in RATELIMIT_HEADERS:
        value = (headers or {}).get(header, "")
        if value.isdigit():
            out[key] = int(value)
    return out


def malformed_error(what: str, request_id: str | None, *, text_seen: bool) -> ProviderError:
    """A malformed or incomplete stream: `interrupted` after text, `upstream_unavailable` before."""
    if text_seen:
        return Interrupted(request_id=request_id, upstream_code=what)
    return UpstreamUnavailable(request_id=request_id, upstream_code=what, cause="server_error")


def usage_from(raw: Any) -> dict[str, int] | None:
    """The neutral usage counts from a Responses `usage` object (None when absent)."""
    if not isinstance(raw, dict):
        return None

    def num(obj: Any, key: str) -> int:
        value = obj.get(key) if isinstance(obj, dict) else None
        return value if isinstance(value, int) and value >= 0 else 0

    out = {
        "input_tokens": num(raw, "input_tokens"),
        "cached_tokens": num(raw.get("input_tokens_details"), "cached_tokens"),
        # The Responses API reports no cache writes (OpenAI caches without a write charge).
        "cache_write_tokens": num(raw.get("input_tokens_details"), "cache_write_tokens"),
        "output_tokens": num(raw, "output_tokens"),
        "reasoning_tokens": num(raw.get("output_tokens_details"), "reasoning_tokens"),
        "total_tokens": num(raw, "total_tokens"),
    }
    if not out["total_tokens"]:
        out["total_tokens"] = out["input_tokens"] + out["output_tokens"]
    return out


def _text(value: Any) -> str:
    return value if value.__class__ is str else ""


class ResponsesState:
    """Turns one stream's JSON events into neutral events; raises `ProviderError`s.

    `handle(event)` returns the neutral event (or None when it carries nothing for us); after a
    terminal event `finished` is True. `text_seen` says whether answer text was relayed (a later
    failure is then `Interrupted`, not `UpstreamUnavailable`). `metadata` holds what the
    headers gave (the rate-limit counts); the response's `service_tier` and `system_fingerprint`
    are added from `response.created` and `response.completed`.
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
        self.refusal = False
        self.finished = False
        self.last_seq: int | None = None
        self.items: dict[str, tuple[str, str | None]] = {}  # item id -> (type, phase)
        self.reasoning_key: tuple[Any, ...] | None = None

    def _clean(self, value: Any) -> str | None:
        return clean_token(value, self.secrets)

    def _note(self, resp: dict[str, Any]) -> None:
        # The tier the upstream served (pricing picks its rates from it), the fingerprint.
        for key in META_FIELDS:
            value = self._clean(resp.get(key))
            if value:
                self.metadata[key] = value

    def _reasoning(self, key: tuple[Any, ...], delta: str) -> ReasoningDelta:
        if self.reasoning_key is not None and key != self.reasoning_key:
            delta = "\n\n" + delta
        self.reasoning_key = key
        return ReasoningDelta(delta)

    def _malformed(self, what: str) -> ProviderError:
        logger.warning("upstream_malformed_stream what=%s request_id=%s", what, self.request_id)
        return malformed_error(what, self.request_id, text_seen=self.text_seen)

    def handle(self, ev: dict[str, Any]) -> Event | None:
        """Return the neutral event for one upstream event (None when it carries nothing for us)."""
        if ev.__class__ is not dict:
            raise self._malformed("malformed_event")
        seq = ev.get("sequence_number")
        if seq.__class__ is int:
            last = self.last_seq
            if last is not None and seq <= last:
                logger.warning("upstream_sequence_duplicate seq=%d last=%d", seq, last)
                return None
            if last is not None and seq != last + 1:
                logger.warning("upstream_sequence_gap seq=%d last=%d", seq, last)
            self.last_seq = seq
        etype = ev.get("type")
        if etype == "response.output_text.delta":
            item_id = ev.get("item_id")
            kind, phase = (
                self.items.get(item_id, ("message", None)) if item_id else ("message", None)
            )
            if kind != "message":
                return None
            if phase == "commentary":
                # gpt-5.x preambles are not the answer: shown with the reasoning, never mixed in.
                return self._reasoning(("commentary", item_id), _text(ev.get("delta")))
            self.text_seen = True
            return TextDelta(_text(ev.get("delta")))
        if etype == "response.reasoning_summary_text.delta":
            key = ("summary", ev.get("item_id"), ev.get("summary_index"))
            return self._reasoning(key, _text(ev.get("delta")))
        if etype == "response.reasoning_text.delta":
            key = ("raw", ev.get("item_id"), ev.get("content_index"))
            return self._reasoning(key, _text(ev.get("delta")))
        if etype == "response.refusal.delta":
            self.text_seen = True
            self.refusal = True
            return TextDelta(_text(ev.get("delta")))
        if etype == "response.output_item.added":
            item = ev.get("item")
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                phase = item.get("phase")
                self.items[item["id"]] = (
                    str(item.get("type")),
                    phase if isinstance(phase, str) else None,
                )
            return None
        if etype == "response.created":
            resp = ev.get("response")
            resp = resp if isinstance(resp, dict) else {}
            response_id = self._clean(resp.get("id"))
            if response_id is None:
                # Stored as the string 'None' and sent back as previous_response_id once: never again.
                raise self._malformed("missing_response_id")
            self.response_id = response_id
            self.model = self._clean(resp.get("model"))
            self._note(resp)
            return ResponseStarted(response_id, self.model, self.request_id, dict(self.metadata))
        if etype in ("response.completed", "response.incomplete"):
            return self._finished(ev, etype)
        if etype == "response.failed":
            resp = ev.get("response")
            err = resp.get("error") if isinstance(resp, dict) else None
            code = err.get("code") if isinstance(err, dict) else None
            raise UpstreamFailed(request_id=self.request_id, upstream_code=self._clean(code))
        if etype == "error":
            nested = ev.get("error")
            if isinstance(nested, dict):
                code = nested.get("code") or nested.get("type")
            else:
                code = ev.get("code")
            raise error_from_event_code(self._clean(code), self.request_id)
        return None

    def _finished(self, ev: dict[str, Any], etype: str) -> Finished:
        resp = ev.get("response")
        resp = resp if isinstance(resp, dict) else {}
        response_id = self.response_id or self._clean(resp.get("id"))
        if response_id is None:
            raise self._malformed("missing_response_id")
        self.finished = True
        self._note(resp)
        status: Literal["completed", "incomplete"] = "completed"
        reason: str | None = None
        finish_reason: str | None = None
        if etype == "response.incomplete":
            status = "incomplete"
            details = resp.get("incomplete_details")
            raw = details.get("reason") if isinstance(details, dict) else None
            reason, finish_reason = incomplete_reason(raw, self.secrets)
        return Finished(
            status=status,
            response_id=response_id,
            usage=usage_from(resp.get("usage")),
            model=self._clean(resp.get("model")) or self.model,
            reason=reason,
            refusal=self.refusal,
            finish_reason=finish_reason,
            metadata=dict(self.metadata),
        )
