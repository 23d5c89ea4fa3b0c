"""Finish a turn: decide how the reply ended, keep only cleaned upstream values, save it within a
deadline, settle the ledger, and build the final frame (`done` or `error`).

Runs in the turn's worker; imports no Flask and no SDK. Words for a person come from `app.messages`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import conversation_manager as cm
import responses_client as rc
import stream_processor as sp
from app import messages, redaction
from responses_client.identifiers import INCOMPLETE_CODES, clean_token

from .config import ChatSettings
from .plan import TurnPlan

log = logging.getLogger(__name__)

REPLY_TOO_LONG = "reply_too_long"
SAVE_RETRY_PAUSE = 0.2


class Admission(Protocol):
    """A turn's admission by the limits: settle the spend, release the slot (both idempotent)."""

    def settle(self, *, cost_usd: float | None, tokens: int) -> None:
        """Record what the turn cost, in place of its reservation."""
        ...

    def release(self) -> None:
        """Give the concurrency slot back (and drop an unsettled reservation)."""
        ...


def error_data(code: str, message_id: str, *, retryable: bool | None = None) -> dict[str, Any]:
    """The data of an `error` frame for `code`, worded from the one table of messages."""
    return sp.error_data(
        code,
        message=messages.message_for(code),
        retryable=messages.retryable(code) if retryable is None else retryable,
        message_id=message_id,
    )


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
) -> Outcome:
    """Decide the reply's status and error; keep upstream values only when they are clean tokens."""
    response_id = _clean(reply.response_id, secrets)
    request_id = _clean((error.request_id if error else None) or reply.request_id, secrets)
    metadata: dict[str, Any] = {}
    if plan.context.trimmed_messages:
        metadata["trimmed_messages"] = plan.context.trimmed_messages
    if reply.refusal:
        metadata["refusal"] = True
    resolved = _clean(reply.model, secrets)
    if resolved and resolved != plan.model:
        metadata["resolved_model"] = resolved
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
        finish_reason = _clean(reply.finish_reason, secrets)
        if finish_reason:
            metadata["finish_reason"] = finish_reason
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


@dataclass(frozen=True)
class Finisher:
    """What finishing needs from outside: the store's save, the price table and the admission."""

    save: Callable[..., object]  # store.finish_assistant_message bound to user, conversation, reply
    price: Callable[[str, str, dict[str, int]], float | None]
    admission: Admission | None

    def cost(self, plan: TurnPlan, reply: sp.Reply) -> float | None:
        """The reply's price; 0 when no response was created upstream, None when unknown."""
        if reply.usage:
            return self.price(plan.model, plan.provider.name, reply.usage)
        return 0.0 if reply.response_id is None else None

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
    ) -> tuple[str, dict[str, Any]]:
        """Save how the reply ended, settle the spend, and return the final frame."""
        # The configured secrets, and any the process learnt since (redaction's set), are removed
        # from every upstream value before it is judged.
        secrets = (*settings.secrets, *redaction.configured_secrets())
        outcome = decide(
            plan, reply, error, stopped=stopped, capped=capped, secrets=secrets, broken=broken
        )
        cost = self.cost(plan, reply)
        context_mode = plan.context.context_mode

        def save() -> object:
            return self.save(
                text=reply.text,
                status=outcome.status,
                response_id=outcome.response_id,
                usage=reply.usage,
                cost_usd=cost,
                error=outcome.error,
                reasoning_summary=reply.reasoning or None,
                request_id=outcome.request_id,
                latency_ms=reply.latency_ms(),
                metadata=outcome.metadata,
                context_mode=context_mode,
                model=plan.model,
            )

        saved_error = save_within(save, settings.save_deadline, settings.lock_timeout)
        if self.admission is not None:
            tokens = (reply.usage or {}).get("total_tokens", 0)
            self.admission.settle(cost_usd=cost, tokens=tokens)
        if saved_error is not None:
            return "error", error_data(
                saved_error, plan.assistant_id, retryable=saved_error != "storage_full"
            )
        if outcome.status == "failed":
            assert outcome.error is not None
            return "error", error_data(
                outcome.error["code"], plan.assistant_id, retryable=outcome.retryable
            )
        return "done", {
            "message_id": plan.assistant_id,
            "response_id": outcome.response_id,
            "status": outcome.status,
            "usage": reply.usage,
            "cost_usd": cost,
            "model": plan.model,
            "provider": plan.provider.name,
            "context_mode": context_mode,
            "error": outcome.error,
        }
