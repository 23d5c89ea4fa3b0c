"""Continuing a reply in place (API `POST /chat`, `continue_message_id`): the changes the store makes
to a `stopped` or `incomplete` reply when a continuation begins, ends, or dies with its worker.

While a continuation runs the reply is `in_progress` and keeps its text; `metadata[CONTINUING]`
holds the status it had, so a failed (or interrupted) continuation puts it back. A continuation
that ends well appends its text and sums its usage and cost into the reply. Every call, whatever
its end, counts in `metadata[CONTINUATIONS]`. Pure: no I/O; imports neither Flask nor an SDK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidParent, NotFound
from .models import (
    ContextMode,
    Conversation,
    FinishStatus,
    Message,
    MessageError,
    MessageStatus,
    Usage,
)

CONTINUABLE_STATUSES = frozenset({"stopped", "incomplete"})
_CONTINUABLE: dict[str, MessageStatus] = {"stopped": "stopped", "incomplete": "incomplete"}
# `metadata[CONTINUING]`: {"status": the reply's status before, "started_at"} while one runs.
CONTINUING = "continuing"
# `metadata[CONTINUATIONS]`: how many continuation calls the reply has had (any end).
CONTINUATIONS = "continuations"
# `metadata[CONTINUATION_ERROR]`: {"code", "message"} of the last continuation when it failed.
CONTINUATION_ERROR = "continuation_error"
# `metadata[CONTINUED_AT]`: when the last continuation that added to the reply ended; its
# `timestamp` stays when it was made.
CONTINUED_AT = "continued_at"
# Call metadata that says how a reply ended: a continuation that gives none drops the old value.
ENDING_KEYS = ("finish_reason", "upstream_response_id", "refusal")
USAGE_FIELDS = (
    "input_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def is_continuing(message: Message) -> bool:
    """Whether a continuation of `message` has begun and not ended."""
    return message.status == "in_progress" and isinstance(message.metadata.get(CONTINUING), dict)


def continuable(conv: Conversation, mid: str) -> Message:
    """The reply `mid` if it may be continued; NotFound, or InvalidParent for a user message or a
    reply that is not `stopped` or `incomplete`."""
    msg = conv.message(mid)
    if msg.role != "assistant":
        raise InvalidParent("only a reply can be continued, not a user message")
    if msg.status not in CONTINUABLE_STATUSES:
        raise InvalidParent(
            f"only a stopped or incomplete reply can be continued, not {msg.status}"
        )
    return msg


def begin_continuation(conv: Conversation, mid: str, *, now: float) -> Message:
    """Mark the reply `mid` `in_progress` for a continuation, keeping its text and its status in
    `metadata[CONTINUING]`; the branch on screen comes to show it."""
    msg = continuable(conv, mid)
    msg.metadata[CONTINUING] = {"status": msg.status, "started_at": now}
    msg.status = "in_progress"
    current = conv.current_message_id
    on_screen = current is not None and any(m.id == mid for m in conv.path_to(current))
    if not on_screen:
        conv.current_message_id = conv.newest_leaf_under(mid)
    conv.last_update = now
    return msg


def summed_usage(earlier: Usage | None, call: Usage | None) -> Usage | None:
    """Two calls' usage added up field by field; unknown (None) when either is unknown, like the
    cost: a part that is not counted would make the sum look smaller than what was used."""
    if earlier is None or call is None:
        return None
    fields = {f: getattr(earlier, f) + getattr(call, f) for f in USAGE_FIELDS}
    total = (earlier.total_tokens or 0) + (call.total_tokens or 0)
    return Usage(**fields, total_tokens=total)


def summed_cost(earlier: float | None, call: float | None) -> float | None:
    """Two calls' cost added up; unknown (None) when either is unknown: never guessed."""
    if earlier is None or call is None:
        return None
    return round(earlier + call, 10)


def with_call(
    usage: Usage | None, cost_usd: float | None, call: Usage | None, call_cost: float | None
) -> tuple[Usage | None, float | None]:
    """A reply's usage and cost with one more call's added.

    A call that created no response upstream (no usage, priced 0 by the turn) used nothing and
    changes neither; otherwise an unknown part (a response created but no usage reported, or an
    unknown price) makes the sum unknown, as for any reply.
    """
    if call is None and call_cost == 0:
        return usage, cost_usd
    return summed_usage(usage, call), summed_cost(cost_usd, call_cost)


def _add_call(msg: Message, usage: Usage | None, cost_usd: float | None) -> None:
    """Add one call's usage and cost to the reply's (see `with_call`)."""
    msg.usage, msg.cost_usd = with_call(msg.usage, msg.cost_usd, usage, cost_usd)


def _count(msg: Message) -> None:
    done = msg.metadata.get(CONTINUATIONS)
    msg.metadata[CONTINUATIONS] = (done if isinstance(done, int) else 0) + 1


def _earlier_status(msg: Message) -> MessageStatus:
    """The status the reply had before the continuation (its marker, which goes)."""
    marker = msg.metadata.pop(CONTINUING, None)
    status = marker.get("status") if isinstance(marker, dict) else None
    return _CONTINUABLE.get(status, "stopped") if isinstance(status, str) else "stopped"


def _merged_estimates(msg: Message, metadata: dict[str, Any], had_usage: bool) -> None:
    """The call's token estimate added to the reply's, so reported / estimated input stays the
    calibration's ratio (app.context.tokens) for the summed usage."""
    if not had_usage:
        return  # the reply's usage is unknown: the call's estimate pairs with nothing (no calibration)
    earlier, call = msg.metadata.get("token_count"), metadata.get("token_count")
    if isinstance(earlier, dict) and isinstance(call, dict):
        if earlier.get("method") == call.get("method"):
            metadata["token_count"] = {
                "method": call.get("method"),
                "raw": int(earlier.get("raw") or 0) + int(call.get("raw") or 0),
                "chained": int(earlier.get("chained") or 0) + int(call.get("chained") or 0),
            }
        else:
            metadata["token_count"] = None  # not comparable: no calibration from this reply
    estimated = msg.metadata.get("estimated_input_tokens")
    if isinstance(estimated, int) and isinstance(metadata.get("estimated_input_tokens"), int):
        metadata["estimated_input_tokens"] = estimated + metadata["estimated_input_tokens"]


def _summed_latency(
    earlier: Mapping[str, int | float | None] | None,
    call: Mapping[str, int | float | None] | None,
) -> dict[str, int | float | None] | None:
    """The reply's first-token time kept, the calls' total times added up."""
    if earlier is None or call is None:
        return dict(call) if earlier is None and call is not None else (dict(earlier or {}) or None)
    first, total, more = earlier.get("first_token"), earlier.get("total"), call.get("total")
    if first is None:
        first = call.get("first_token")
    summed = total + more if total is not None and more is not None else total or more
    return {"first_token": first, "total": summed}


def finish_continuation(
    conv: Conversation,
    mid: str,
    *,
    now: float,
    text: str,
    status: FinishStatus,
    response_id: str | None = None,
    usage: Usage | dict[str, Any] | None = None,
    cost_usd: float | None = None,
    error: MessageError | dict[str, Any] | None = None,
    reasoning_summary: str | None = None,
    request_id: str | None = None,
    latency_ms: Mapping[str, int | float | None] | None = None,
    metadata: dict[str, Any] | None = None,
    context_mode: ContextMode | None = None,
    model: str | None = None,
    provider: str | None = None,
    price: Mapping[str, Any] | None = None,
    fallback_from: Sequence[Mapping[str, Any]] | None = None,
) -> Message:
    """Record how a continuation of `mid` ended, given the call's own values (`text` is what it
    added). A call that failed, or was stopped before any text, leaves the reply's text and status
    as they were (a failure is noted in `metadata[CONTINUATION_ERROR]`); any other end appends the
    text and becomes the reply's status, error and response id. Usage and cost are summed either
    way. `context_mode` and `fallback_from` describe the call alone and are not kept."""
    del context_mode, fallback_from  # the reply keeps how it was first made
    msg = conv.message(mid)
    if msg.role != "assistant":
        raise NotFound("assistant message")
    call_usage = Usage.model_validate(usage) if isinstance(usage, dict) else usage
    call_error = MessageError.model_validate(error) if isinstance(error, dict) else error
    earlier = _earlier_status(msg)
    _count(msg)
    had_usage = msg.usage is not None
    _add_call(msg, call_usage, cost_usd)
    conv.last_update = now
    if status == "failed" or (status == "stopped" and not text):
        msg.status = earlier
        if status == "failed" and call_error is not None:
            msg.metadata[CONTINUATION_ERROR] = call_error.model_dump()
        return msg
    meta = dict(metadata or {})
    _merged_estimates(msg, meta, had_usage)
    for key in ENDING_KEYS:
        if key not in meta:
            msg.metadata.pop(key, None)
    msg.metadata.pop(CONTINUATION_ERROR, None)
    msg.metadata.update(meta)
    msg.text += text
    msg.status = status
    msg.response_id = response_id
    msg.error = call_error
    if reasoning_summary:
        msg.reasoning_summary = (
            f"{msg.reasoning_summary}\n\n{reasoning_summary}"
            if msg.reasoning_summary
            else reasoning_summary
        )
    msg.request_id = request_id or msg.request_id
    msg.latency_ms = _summed_latency(msg.latency_ms, latency_ms)
    if model is not None:
        msg.model = model
    if provider is not None:
        msg.provider = provider
    if price is not None:
        msg.price = dict(price)
    # Not `timestamp`: the reply's usage and cost are counted on the day it was made (app.stats).
    msg.metadata[CONTINUED_AT] = now
    return msg


def interrupt_continuation(msg: Message, message: str) -> None:
    """A continuation whose worker died: the reply gets its text and status back, and the failure
    is noted (`interrupted`, saying `message`)."""
    msg.status = _earlier_status(msg)
    _count(msg)
    msg.metadata[CONTINUATION_ERROR] = {"code": "interrupted", "message": message}
