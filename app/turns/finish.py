"""Finish a turn: decide how the reply ended, keep only cleaned upstream values, save it within a
deadline, settle the ledger, and build the final frame (`done` or `error`).

Runs in the turn's worker; imports no Flask and no SDK. Words for a person come from `app.messages`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import conversation_manager as cm
import responses_client as rc
import stream_processor as sp
from app import messages, redaction
from app.context import token_record
from app.observe.report import TurnObserver, TurnReport
from conversation_manager.models import PREVIOUS_CHOICE, STATELESS_MARK
from responses_client.identifiers import INCOMPLETE_CODES, clean_token
from responses_client.pricing import Quote

from .candidates import Candidate
from .config import ChatSettings
from .plan import TurnPlan

log = logging.getLogger(__name__)

REPLY_TOO_LONG = "reply_too_long"
SAVE_RETRY_PAUSE = 0.2
# The identifiers a reply keeps in its metadata when the provider gave them (API "Identifiers").
IDENTIFIER_KEYS = (
    "system_fingerprint",
    "service_tier",
    "ratelimit_remaining_requests",
    "ratelimit_remaining_tokens",
)
USAGE_KEYS = (
    "input_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
)


class Admission(Protocol):
    """A turn's admission by the limits: settle the spend, release the slot (both idempotent)."""

    def settle(self, *, cost_usd: float | None, tokens: int) -> None:
        """Record what the turn cost, in place of its reservation."""
        ...

    def release(self) -> None:
        """Give the concurrency slot back (and drop an unsettled reservation)."""
        ...


def error_data(
    code: str, message_id: str, *, retryable: bool | None = None, **extra: Any
) -> dict[str, Any]:
    """The data of an `error` frame for `code`, worded from the one table of messages."""
    return sp.error_data(
        code,
        message=messages.message_for(code),
        retryable=messages.retryable(code) if retryable is None else retryable,
        message_id=message_id,
        **extra,
    )


def usage_record(usage: dict[str, int] | None) -> dict[str, int] | None:
    """The reply's usage with all six fields (a field the provider did not give is 0)."""
    if usage is None:
        return None
    out = {key: int(usage.get(key) or 0) for key in USAGE_KEYS}
    if not usage.get("total_tokens"):
        out["total_tokens"] = out["input_tokens"] + out["output_tokens"]
    return out


def identifiers(reply: sp.Reply, secrets: tuple[str, ...]) -> dict[str, Any]:
    """The provider's identifiers for `metadata`, each cleaned once more (numbers kept as such)."""
    out: dict[str, Any] = {}
    for key in IDENTIFIER_KEYS:
        value = reply.metadata.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            out[key] = value
        elif isinstance(value, str):
            cleaned = clean_token(value, secrets)
            if cleaned:
                out[key] = cleaned
    return out


@dataclass(frozen=True)
class Outcome:
    """How a reply ended, with only cleaned upstream values."""

    status: str  # completed | incomplete | stopped | failed
    error: dict[str, str] | None
    response_id: str | None  # the id a later turn may chain from (completed, incomplete)
    upstream_response_id: str | None
    request_id: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    retryable: bool = True


def _worded(code: str) -> dict[str, str]:
    """A stored message's `error`: its code and the table's words for it."""
    return {"code": code, "message": messages.message_for(code)}


def _clean(value: str | None, secrets: tuple[str, ...]) -> str | None:
    return clean_token(value, secrets) if value else None


def decide(
    plan: TurnPlan,
    reply: sp.Reply,
    error: rc.ProviderError | None,
    *,
    stopped: bool,
    capped: bool,
    secrets: tuple[str, ...],
    broken: bool = False,
    answered: Candidate | None = None,
) -> Outcome:
    """Decide the reply's status and error; keep upstream values only when they are clean tokens.

    `answered` is the candidate that answered (or failed last); by default the plan's first.
    """
    answered = answered or plan.first_candidate
    context = answered.context or plan.context
    response_id = _clean(reply.response_id, secrets)
    request_id = _clean((error.request_id if error else None) or reply.request_id, secrets)
    metadata: dict[str, Any] = identifiers(reply, secrets)
    # Which instructions this reply was made under (API "Storage"), without repeating their text.
    instructions = plan.conversation.instructions or ""
    metadata["instructions_hash"] = hashlib.sha256(instructions.encode()).hexdigest()[:16]
    if context.trimmed_messages:
        metadata["trimmed_messages"] = context.trimmed_messages
    # What this app estimated it sent, beside the provider's count: the next estimate for this
    # model is calibrated by the two (app.context.tokens).
    metadata["estimated_input_tokens"] = context.estimated_input_tokens
    metadata.update(context.reply_marks)  # e.g. images_omitted: never chained over by images
    metadata["token_count"] = token_record(
        context.token_method, context.raw_input_tokens, context.chained_tokens
    )
    if context.context_mode == "chained" and context.replayed_messages:
        metadata["replayed_messages"] = context.replayed_messages
    if not answered.provider.stateful:
        metadata[STATELESS_MARK] = True  # its response id is never chained from
    if reply.refusal:
        metadata["refusal"] = True
    # What this reply was sent of the conversation's options, and what its model refused.
    if answered.options or answered.options_dropped:
        metadata["options"] = dict(answered.options)
    if answered.options_dropped:
        metadata["options_dropped"] = list(answered.options_dropped)
    resolved = _clean(reply.model, secrets)
    if resolved and resolved != answered.model:
        metadata["resolved_model"] = resolved
    finish_reason = _clean(reply.finish_reason, secrets)
    if finish_reason:
        metadata["finish_reason"] = finish_reason
    retryable = True
    status: str
    message_error: dict[str, str] | None = None
    if stopped:
        status = "stopped"
    elif broken:
        status = "failed"
        message_error = _worded("internal")
    elif error is not None:
        status, retryable = "failed", error.retryable
        message_error = _worded(error.code)
        if error.cause:  # what lay behind it, so a reloaded page words it as the live one did
            metadata["error_cause"] = error.cause
        named = (answered.provider.name, answered.model) == (plan.provider.name, plan.model)
        if error.code == "unknown_model" and plan.previous_choice is not None and named:
            # The model this turn named is unknown upstream: the conversation keeps its previous
            # one (the store sets it back from this record, conversation_manager.models).
            provider, model = plan.previous_choice
            metadata[PREVIOUS_CHOICE] = {"provider": provider, "model": model}
    elif capped:
        status = "incomplete"
        message_error = _worded(REPLY_TOO_LONG)
    elif reply.status in ("completed", "incomplete") and response_id is None:
        # No usable response id: a malformed stream, never chained from nor stored as text.
        status = "failed"
        message_error = _worded("interrupted")
    elif reply.status == "completed":
        status = "completed"
    elif reply.status == "incomplete":
        status = "incomplete"
        # The normalised reasons (API "Storage"); anything else the upstream says is `other`.
        reason = reply.reason if reply.reason in INCOMPLETE_CODES else "other"
        message_error = _worded(reason)
    else:
        status = "failed"
        message_error = _worded("interrupted")
    # Chain only onto replies that ended well; a failed or stopped one is replayed instead.
    chained = response_id if status in ("completed", "incomplete") else None
    if chained is None and response_id:
        metadata["upstream_response_id"] = response_id
    return Outcome(
        status=status,
        error=message_error,
        response_id=chained,
        upstream_response_id=response_id,
        request_id=request_id,
        metadata=metadata,
        retryable=retryable,
    )


def save_within(
    save: Callable[[], object], deadline_seconds: float, lock_timeout: float
) -> str | None:
    """Save the reply, retrying a busy store until the deadline; return an error code or None.

    A retry starts only when the store's whole lock wait still fits before the deadline, so the
    turn never holds its lock (and its conversation) longer than `deadline_seconds`.
    """
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            save()
            return None
        except cm.StorageBusy:
            if time.monotonic() + SAVE_RETRY_PAUSE + lock_timeout > deadline:
                log.warning("reply_not_saved reason=busy")
                return "internal"
            time.sleep(SAVE_RETRY_PAUSE)
        except cm.NotFound:
            return None  # deleted while it ran: never re-created
        except cm.StorageFull:
            return "storage_full"
        except (cm.ConversationError, OSError):
            # A read-only or failing disk: the reply is repaired from the journal on a later load.
            log.exception("reply_not_saved reason=storage")
            return "internal"


Quoter = Callable[[Candidate, sp.Reply], Quote]


@dataclass(frozen=True)
class Finisher:
    """What finishing needs from outside: the store's save, the price quote and the admission."""

    save: Callable[..., object]  # store.finish_assistant_message bound to user, conversation, reply
    quote: Quoter  # the reply's cost and the rates used (responses_client.pricing.quote)
    admission: Admission | None
    observer: TurnObserver | None = None  # metrics and the turn's log line (app.observe)

    def cost(self, candidate: Candidate, reply: sp.Reply) -> Quote:
        """The reply's price; 0 when no response was created upstream, None when unknown."""
        if reply.usage or reply.billed_cost_usd is not None:
            return self.quote(candidate, reply)
        return Quote(0.0 if reply.response_id is None else None, None)

    def finish(
        self,
        plan: TurnPlan,
        settings: ChatSettings,
        reply: sp.Reply,
        error: rc.ProviderError | None,
        *,
        stopped: bool,
        capped: bool,
        broken: bool = False,
        answered: Candidate | None = None,
        fallback_from: list[dict[str, str]] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Save how the reply ended, settle the spend, and return the final frame."""
        # The configured secrets, and any the process learnt since (redaction's set), are removed
        # from every upstream value before it is judged.
        secrets = (*settings.secrets, *redaction.configured_secrets())
        answered = answered or plan.first_candidate
        outcome = decide(
            plan,
            reply,
            error,
            stopped=stopped,
            capped=capped,
            secrets=secrets,
            broken=broken,
            answered=answered,
        )
        quote = self.cost(answered, reply)
        context = answered.context or plan.context
        context_mode = context.context_mode
        usage = usage_record(reply.usage)
        fallen = list(fallback_from or []) or None

        def save() -> object:
            return self.save(
                text=reply.text,
                status=outcome.status,
                response_id=outcome.response_id,
                usage=usage,
                cost_usd=quote.cost_usd,
                error=outcome.error,
                reasoning_summary=reply.reasoning or None,
                request_id=outcome.request_id,
                latency_ms=reply.latency_ms(),
                metadata=outcome.metadata,
                context_mode=context_mode,
                model=answered.model,
                provider=answered.provider.name,
                price=quote.price,
                fallback_from=fallen,
            )

        saved_error = save_within(save, settings.save_deadline, settings.lock_timeout)
        if self.admission is not None:
            tokens = (usage or {}).get("total_tokens", 0)
            self.admission.settle(cost_usd=quote.cost_usd, tokens=tokens)
        if self.observer is not None:  # the outcome is final here; the observer never raises
            code = saved_error or (outcome.error or {}).get("code")
            self.observer.turn_finished(
                TurnReport(
                    user=plan.user,
                    conversation_id=plan.conversation.id,
                    message_id=plan.assistant_id,
                    provider=answered.provider.name,
                    model=answered.model,
                    context_mode=context_mode,
                    status=outcome.status,
                    error_code=code,
                    usage=usage,
                    cost_usd=quote.cost_usd,
                    latency_ms=reply.latency_ms(),
                    upstream_error=error.code if error is not None else None,
                    fallback_from=fallen,
                )
            )
        extra: dict[str, Any] = {}
        if fallen:
            extra["fallback_from"] = fallen
        if saved_error is not None:
            return "error", error_data(
                saved_error, plan.assistant_id, retryable=saved_error != "storage_full", **extra
            )
        if outcome.status == "failed":
            assert outcome.error is not None
            if error is not None and error.cause:
                extra["cause"] = error.cause
            return "error", error_data(
                outcome.error["code"], plan.assistant_id, retryable=outcome.retryable, **extra
            )
        return "done", {
            "message_id": plan.assistant_id,
            "response_id": outcome.response_id,
            "status": outcome.status,
            "usage": usage,
            "cost_usd": quote.cost_usd,
            "price": quote.price,
            "model": answered.model,
            "provider": answered.provider.name,
            "context_mode": context_mode,
            "error": outcome.error,
            "fallback_from": fallen,
        }
