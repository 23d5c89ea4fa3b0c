"""The Chat Completions stream (data-only SSE frames of `chat.completion.chunk`) -> neutral events.

The protocol's state machine for every server speaking `POST {base}/chat/completions` with
`stream: true` (DeepSeek, OpenRouter, Ollama, vLLM, any compatible one): text from
`delta.content` (and `delta.refusal`), reasoning from `delta.reasoning_content` (DeepSeek) or
`delta.reasoning` (OpenRouter, vLLM, Ollama), the finish reason from the last content chunk,
usage from the extra last chunk (`choices: []`), an `error` object inside a chunk after HTTP 200,
and the `data: [DONE]` end marker. SDK-free (imports no openai/httpx2), so it is tested with bytes;
every string it keeps from the upstream passes `identifiers.clean_token` with the adapter's secrets.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from responses_client.cancel import CancelToken
from responses_client.errors import (
    Interrupted,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UpstreamFailed,
    UpstreamUnavailable,
)
from responses_client.events import Event, Finished, ReasoningDelta, ResponseStarted, TextDelta
from responses_client.identifiers import clean_token
from responses_client.responses_events import error_from_event_code, malformed_error
from responses_client.sse import DONE, IDLE, iter_lines, iter_sse

logger = logging.getLogger("responses_client")  # one logger name for the whole package

# Finish reasons that end a whole answer; any other value makes the reply `incomplete`.
COMPLETE_REASONS = frozenset({"stop", "tool_calls", "function_call", "end_turn", "eos"})
# Chat Completions finish reasons -> API.md's incomplete codes (what is not here is `other`, e.g.
# DeepSeek's `insufficient_system_resource`, which cuts the answer short).
INCOMPLETE_REASONS = {
    "length": "max_output_tokens",
    "max_tokens": "max_output_tokens",
    "content_filter": "content_filter",
    "refusal": "refusal",
    "model_context_window_exceeded": "context_window",
}
NOTHING: tuple[Event, ...] = ()


def _num(obj: Any, key: str) -> int:
    value = obj.get(key) if obj.__class__ is dict else None
    return value if value.__class__ is int and value >= 0 else 0


def usage_from(raw: Any) -> dict[str, int] | None:
    """The neutral usage counts from a Chat Completions `usage` object (None when absent).

    `prompt_tokens` already holds cache reads and writes (OpenAI, OpenRouter, DeepSeek's
    hit + miss); DeepSeek reports its cache reads as `prompt_cache_hit_tokens`. A server that
    counts reasoning apart from `completion_tokens` (xAI's chat: total = prompt + completion +
    reasoning) has it added, so `output_tokens` always includes reasoning.
    """
    if raw.__class__ is not dict:
        return None
    prompt = raw.get("prompt_tokens_details")
    completion = raw.get("completion_tokens_details")
    input_tokens = _num(raw, "prompt_tokens")
    output_tokens = _num(raw, "completion_tokens")
    reasoning = _num(completion, "reasoning_tokens")
    total = _num(raw, "total_tokens")
    cached = _num(prompt, "cached_tokens") or _num(raw, "prompt_cache_hit_tokens")
    if reasoning and total and total == input_tokens + output_tokens + reasoning:
        output_tokens += reasoning
    return {
        "input_tokens": input_tokens,
        "cached_tokens": min(cached, input_tokens),
        "cache_write_tokens": _num(prompt, "cache_write_tokens"),
        "output_tokens": output_tokens,
        "reasoning_tokens": min(reasoning, output_tokens),
        "total_tokens": total or input_tokens + output_tokens,
    }


def finish_status(
    raw: Any, secrets: Iterable[str] = ()
) -> tuple[Literal["completed", "incomplete"], str | None, str | None]:
    """(status, API.md reason or None, the provider's own value cleaned) for a finish reason."""
    cleaned = clean_token(raw, secrets)
    if raw is None or cleaned in COMPLETE_REASONS:
        return "completed", None, cleaned
    return "incomplete", INCOMPLETE_REASONS.get(cleaned or "", "other"), cleaned


def error_from_chunk(
    err: Any, request_id: str | None, secrets: Iterable[str] = ()
) -> ProviderError:
    """The error for an `error` object inside a chunk (OpenRouter's int codes, OpenAI's strings)."""
    if err.__class__ is not dict:
        return UpstreamFailed(request_id=request_id)
    code = err.get("code")
    if code.__class__ is int:
        if code == 402:
            return QuotaExceeded(upstream_code=str(code), request_id=request_id)
        if code == 429:
            return RateLimited(upstream_code=str(code), request_id=request_id)
        return UpstreamFailed(upstream_code=str(code), request_id=request_id)
    cleaned = clean_token(code, secrets) or clean_token(err.get("type"), secrets)
    return error_from_event_code(cleaned, request_id)


class ChatState:
    """Turns one stream's chunks into neutral events; raises `ProviderError`s.

    `request_id` is the request-id header's value; `fallback_id` (OpenRouter's `X-Generation-Id`)
    names the reply when its chunks carry no `id`; `metadata` holds what the headers gave
    (rate-limit counts). `billed_cost`: the server's `usage.cost` is USD it billed (OpenRouter).
    """

    def __init__(
        self,
        request_id: str | None,
        secrets: Iterable[str] = (),
        *,
        fallback_id: str | None = None,
        metadata: Mapping[str, str | int] | None = None,
        billed_cost: bool = False,
    ) -> None:
        self.secrets = tuple(secrets)
        self.request_id = request_id
        self.fallback_id = fallback_id
        self.metadata: dict[str, str | int] = dict(metadata or {})
        self.billed_cost = billed_cost
        self.response_id: str | None = None
        self.model: str | None = None
        self.text_seen = False
        self.refusal = False
        self.finished = False
        self.finish_raw: Any = None
        self.raw_usage: Any = None
        self.cost_usd: float | None = None

    def _clean(self, value: Any) -> str | None:
        return clean_token(value, self.secrets)

    def _malformed(self, what: str) -> ProviderError:
        logger.warning("upstream_malformed_stream what=%s request_id=%s", what, self.request_id)
        return malformed_error(what, self.request_id, text_seen=self.text_seen)

    def _start(self, chunk: dict[str, Any]) -> ResponseStarted:
        response_id = self._clean(chunk.get("id")) or self.fallback_id
        if response_id is None:
            raise self._malformed("missing_response_id")
        self.response_id = response_id
        self.model = self._clean(chunk.get("model"))
        self._note(chunk)
        return ResponseStarted(response_id, self.model, self.request_id, dict(self.metadata))

    def _note(self, chunk: dict[str, Any]) -> None:
        for key in ("system_fingerprint", "service_tier"):
            if key not in self.metadata:
                value = self._clean(chunk.get(key))
                if value is not None:
                    self.metadata[key] = value

    def handle(self, chunk: dict[str, Any]) -> tuple[Event, ...]:
        """The neutral events one chunk carries (usually one, often none)."""
        started = None
        if self.response_id is None:
            if chunk.get("error") is not None or chunk.get("object") == "error":
                raise error_from_chunk(chunk.get("error", chunk), self.request_id, self.secrets)
            started = self._start(chunk)
        elif "error" in chunk and chunk["error"] is not None:
            raise error_from_chunk(chunk["error"], self.request_id, self.secrets)
        elif chunk.get("object") == "error":  # vLLM's older shape: the error object itself
            raise error_from_chunk(chunk, self.request_id, self.secrets)
        out: tuple[Event, ...] = NOTHING
        choices = chunk.get("choices")
        if choices and choices.__class__ is list:
            choice = choices[0]
            if choice.__class__ is dict:
                delta = choice.get("delta")
                if delta.__class__ is dict:
                    out = self._delta(delta)
                reason = choice.get("finish_reason")
                if reason is not None:
                    self.finish_raw = reason
                    self._note(chunk)  # OpenAI repeats these on every chunk; others on the last
        usage = chunk.get("usage")
        if usage is not None:
            self.raw_usage = usage
            if self.billed_cost and usage.__class__ is dict:
                cost = usage.get("cost")
                if cost.__class__ in (int, float) and cost >= 0:
                    self.cost_usd = float(cost)
        if started is not None:
            return (started, *out)
        return out

    def _delta(self, delta: dict[str, Any]) -> tuple[Event, ...]:
        content = delta.get("content")
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        refusal = delta.get("refusal")
        if reasoning.__class__ is not str or not reasoning:
            if content.__class__ is str and content:
                self.text_seen = True
                return (TextDelta(content),)
            if refusal.__class__ is str and refusal:
                self.text_seen = self.refusal = True
                return (TextDelta(refusal),)
            return NOTHING
        out: tuple[Event, ...] = (ReasoningDelta(reasoning),)
        if content.__class__ is str and content:
            self.text_seen = True
            out = (*out, TextDelta(content))
        return out

    def finish(self) -> Finished:
        """The terminal event, at `[DONE]` or at a clean end after a finish reason."""
        if self.response_id is None:
            raise UpstreamUnavailable(request_id=self.request_id, upstream_code="empty_stream")
        if self.finish_raw == "error":  # OpenRouter's failed generation, even without its object
            raise UpstreamFailed(request_id=self.request_id, upstream_code="error")
        self.finished = True
        status, reason, finish_reason = finish_status(self.finish_raw, self.secrets)
        if finish_reason is not None:
            self.metadata["finish_reason"] = finish_reason
        return Finished(
            status=status,
            response_id=self.response_id,
            usage=usage_from(self.raw_usage),
            model=self.model,
            reason=reason,
            refusal=self.refusal,
            finish_reason=finish_reason,
            cost_usd=self.cost_usd,
            metadata=dict(self.metadata),
        )

    def relay(self, chunks: Iterable[bytes], cancel: CancelToken | None = None) -> Iterator[Event]:
        """Parse the raw body: events, `Idle` after each read's data, `Finished` at the end.

        A stream that ends with neither `[DONE]` nor a finish reason raises `Interrupted` after
        text, `UpstreamUnavailable` before any. A cancelled token simply ends the iteration.
        """
        loads = json.loads
        handle = self.handle
        try:
            for message in iter_sse(iter_lines(chunks, idle=True)):
                if cancel is not None and cancel.cancelled:
                    return
                if message is IDLE:
                    yield IDLE
                    continue
                data = message.data  # type: ignore[union-attr]
                if data == DONE:
                    yield self.finish()
                    return
                try:
                    chunk = loads(data)
                except ValueError:
                    raise self._malformed("malformed_event") from None
                if chunk.__class__ is not dict:
                    raise self._malformed("malformed_event")
                yield from handle(chunk)
        except Interrupted as err:  # a line over the size bound, from the SSE layer
            raise self._malformed(err.upstream_code or "malformed_event") from None
        if cancel is not None and cancel.cancelled:
            return
        if self.finish_raw is not None:
            # Some servers close after the finish (and usage) chunk without `[DONE]`.
            yield self.finish()
            return
        cls = Interrupted if self.text_seen else UpstreamUnavailable
        raise cls(request_id=self.request_id, upstream_code="stream_ended_early")
