"""The body of one turn's worker: stream from the provider, replay once on an expired chain, save.

Runs in the turn's background thread; imports no Flask, and SDKs only through the adapters.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import conversation_manager as cm
import responses_client as rc
import stream_processor as sp
from app.context import ContextPlan, plan_context

if TYPE_CHECKING:
    from .service import ChatService

log = logging.getLogger(__name__)

SAVE_ATTEMPTS = 5


SAFE_MESSAGES = {
    "rate_limited": "The model provider is busy right now. Try again in a moment.",
    "upstream_unavailable": "The model provider could not be reached. Try again.",
    "interrupted": sp.INTERRUPTED_MESSAGE,
    "upstream_error": "The model provider returned an error. Try again.",
    "upstream_auth": "The server's API key was refused by the model provider.",
    "quota_exceeded": "The model provider's quota for this server is used up.",
    "context_too_long": "This conversation is too long for the model. Start a new one.",
    "unknown_model": "The model provider does not know this model.",
    "bad_request": "The model provider refused the request.",
    "storage_full": "The server's disk is full: the answer could not be saved.",
    "internal": sp.INTERNAL_MESSAGE,
}


@dataclass
class TurnRun:
    """The body of one turn's worker: stream, then save whatever ended it."""

    service: ChatService
    user: str
    conversation: cm.Conversation  # as it was before this turn's commit
    assistant_id: str
    user_message_id: str | None
    place_under: str | None
    regenerate: bool
    is_new: bool
    provider: rc.Provider
    model: str
    plan: ContextPlan
    plan_parent: str | None
    text: str

    def __call__(self, control: sp.TurnControl) -> tuple[str, dict[str, Any]]:
        reply = sp.Reply()
        context_mode = self.plan.context_mode
        request = rc.ResponseRequest(
            model=self.model,
            input=self.plan.input,
            instructions=self.conversation.instructions,
            previous_response_id=self.plan.previous_response_id,
            store=self.provider.stateful,
            max_output_tokens=self.service.settings.max_output_tokens,
        )
        error: rc.ProviderError | None = None
        try:
            try:
                sp.relay(self.provider.stream(request, control.cancel), reply, control.emit)
            except rc.PreviousResponseNotFound:
                # The chain expired upstream: resend the branch's history, once, never in a loop.
                replan = plan_context(
                    self.conversation,
                    self.plan_parent,
                    self.text,
                    provider=self.provider.name,
                    stateful=self.provider.stateful,
                    context_tokens=self.service.settings.context_tokens,
                    force_replay=True,
                )
                context_mode = replan.context_mode
                self.plan = replan
                retry = replace(request, input=replan.input, previous_response_id=None)
                sp.relay(self.provider.stream(retry, control.cancel), reply, control.emit)
        except rc.ProviderError as exc:
            error = exc
            log.warning(
                "turn_failed conversation=%s code=%s status=%s request_id=%s",
                self.conversation.id,
                exc.code,
                exc.status,
                exc.request_id,
            )
        return self._save(control, reply, error, context_mode)

    def _outcome(
        self, control: sp.TurnControl, reply: sp.Reply, error: rc.ProviderError | None
    ) -> tuple[str, dict[str, str] | None]:
        if control.stopped:
            return "stopped", None
        if error is not None:
            return "failed", {"code": error.code, "message": SAFE_MESSAGES.get(error.code, "")}
        if reply.status == "completed":
            return "completed", None
        if reply.status == "incomplete":
            reason = reply.reason or "incomplete"
            return "incomplete", {"code": reason, "message": f"The model stopped early ({reason})."}
        return "failed", {"code": "interrupted", "message": SAFE_MESSAGES["interrupted"]}

    def _cost(self, reply: sp.Reply) -> float | None:
        if reply.usage:
            return self.service.price(self.model, self.provider.name, reply.usage)
        # No response was ever created upstream: nothing was billed. Otherwise the price is unknown.
        return 0.0 if reply.response_id is None else None

    def _save(
        self,
        control: sp.TurnControl,
        reply: sp.Reply,
        error: rc.ProviderError | None,
        context_mode: str,
    ) -> tuple[str, dict[str, Any]]:
        control.wait_ready()  # never save before the turn's own commit (raises if it failed)
        status, message_error = self._outcome(control, reply, error)
        cost = self._cost(reply)
        metadata: dict[str, Any] = {}
        if self.plan.trimmed_messages:
            metadata["trimmed_messages"] = self.plan.trimmed_messages
        if reply.refusal:
            metadata["refusal"] = True
        if reply.model and reply.model != self.model:
            metadata["resolved_model"] = reply.model
        # Chain only onto replies that ended well; a failed or stopped one is replayed instead.
        response_id = reply.response_id if status in ("completed", "incomplete") else None
        if response_id is None and reply.response_id:
            metadata["upstream_response_id"] = reply.response_id
        saved_error = None
        for attempt in range(SAVE_ATTEMPTS):
            try:
                self.service.store.finish_assistant_message(
                    self.user,
                    self.conversation.id,
                    self.assistant_id,
                    text=reply.text,
                    status=status,
                    response_id=response_id,
                    usage=reply.usage,
                    cost_usd=cost,
                    error=message_error,
                    reasoning_summary=reply.reasoning or None,
                    request_id=error.request_id if error else None,
                    latency_ms=reply.latency_ms(),
                    metadata=metadata,
                    context_mode=context_mode,
                    model=self.model,
                )
                break
            except cm.StorageBusy:
                time.sleep(0.2 * (attempt + 1))
            except cm.NotFound:
                break  # deleted while it ran: never re-created
            except cm.StorageFull:
                saved_error = "storage_full"
                break
            except cm.ConversationError:
                log.exception("reply_not_saved conversation=%s", self.conversation.id)
                saved_error = "internal"
                break
        else:
            saved_error = "internal"

        self.service.record_spend(self.user, cost, reply.usage)
        if saved_error is not None:
            return "error", self._error_frame(saved_error, retryable=saved_error != "storage_full")
        if status == "failed":
            assert message_error is not None
            retryable = error.retryable if error is not None else True
            return "error", self._error_frame(message_error["code"], retryable=retryable)
        return "done", {
            "message_id": self.assistant_id,
            "response_id": response_id,
            "status": status,
            "usage": reply.usage,
            "cost_usd": cost,
            "model": self.model,
            "provider": self.provider.name,
            "context_mode": context_mode,
            "error": message_error,
        }

    def _error_frame(self, code: str, *, retryable: bool) -> dict[str, Any]:
        return {
            "code": code,
            "message": SAFE_MESSAGES.get(code, SAFE_MESSAGES["internal"]),
            "retryable": retryable,
            "message_id": self.assistant_id,
        }
