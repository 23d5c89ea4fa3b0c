"""Continue a `stopped` or `incomplete` reply in place (API `POST /chat`, `continue_message_id`).

The model gets the branch replayed down to that reply, whose text ends the history as an assistant
turn, then a request to go on exactly where it stopped; its text streams into the same message,
with a stream (and a journal) of its own numbered from 1. The store appends the text and sums the
usage and cost (conversation_manager.continuations); a failed call leaves the reply as it was.
The reply's own provider and model continue it, without fallback. The plan is pure; the run only
adds the summed usage and cost to its `done` frame. Imports no Flask and no SDK.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import conversation_manager as cm
import responses_client as rc
import stream_processor as sp
from conversation_manager import continuations

from .candidates import Candidate, plan_context_for, takes_images, window_of
from .config import ChatSettings, TurnRequest
from .errors import BadTurnRequest, ContextTooLongRequest
from .model_choice import choose_model
from .plan import TurnPlan
from .run import TurnRun
from .turn_options import candidate_options

# What the model is asked after the reply's text (a user turn: every protocol takes one there).
CONTINUE_REQUEST = (
    "Your previous answer was cut off. Continue it exactly where it stopped, as if it had never "
    "been interrupted: do not repeat anything already written and add no preamble; if it stopped "
    "in the middle of a word, a sentence or a code block, go on from there."
)


def check_request(req: TurnRequest) -> None:
    """Refuse (400) a continuation that names what a continuation does not take."""
    if req.conversation_id is None:
        raise BadTurnRequest("continue_message_id goes with a conversation_id")
    if req.message and req.message.strip():
        raise BadTurnRequest("a continuation takes no message")
    if req.regenerate or req.parent_message_id is not None:
        raise BadTurnRequest("a continuation takes neither regenerate nor parent_message_id")
    if req.attachments:
        raise BadTurnRequest("a continuation takes no attachments")
    if req.template_id is not None or req.variables:
        raise BadTurnRequest("a continuation takes no template")


def continued_reply(conversation: cm.Conversation, message_id: str) -> cm.Message:
    """The reply to continue: 404 for an unknown id, 400 for a user message, a reply that is not
    `stopped` or `incomplete`, or one with no text to go on from."""
    try:
        reply = continuations.continuable(conversation, message_id)
    except cm.InvalidParent as refused:
        raise BadTurnRequest(str(refused)) from None
    if not reply.text:
        raise BadTurnRequest("the reply has no text to go on from: regenerate it instead")
    return reply


def continuation_choice(
    registry: rc.ProviderRegistry,
    req: TurnRequest,
    conversation: cm.Conversation,
    settings: ChatSettings,
) -> tuple[rc.Provider, str]:
    """The reply's own provider and model (a body may name them, and no others: 400); 400
    `unknown_model` when that provider is no longer configured."""
    reply = conversation.message(req.continue_message_id or "")
    provider = reply.provider or conversation.provider
    model = reply.model or conversation.model
    named = (None, model, f"{provider}:{model}")
    if req.provider not in (None, provider) or req.model not in named:
        raise BadTurnRequest(f"a reply is continued by its own model, {provider}:{model}")
    own = dataclasses.replace(req, provider=provider, model=model)
    return choose_model(registry, own, conversation, settings)


@dataclass
class MergedSave:
    """The finisher's save for a continuation: `store.finish_continuation` bound to the reply
    (`save`, set at launch), keeping the merged reply it saved for the `done` frame."""

    save: Callable[..., cm.Message] | None = None
    merged: cm.Message | None = None

    def __call__(self, **call: Any) -> cm.Message:
        assert self.save is not None, "bound by ContinuationPlan.saver"
        self.merged = self.save(**call)
        return self.merged


@dataclass(frozen=True)
class ContinuationPlan(TurnPlan):
    """A turn that continues the reply `assistant_id` (`continued`, as it was at planning)."""

    continued: cm.Message | None = None
    saved: MergedSave | None = None  # set by `saver`: what the run's `done` frame reports

    def first_frame(self, chat_name: str) -> dict[str, Any]:
        """The `conversation` event: no user message; `continue_message_id` names the reply."""
        return {
            **super().first_frame(chat_name),
            "user_message_id": None,
            "continue_message_id": self.assistant_id,
        }

    def saver(self, store: cm.ConversationStore) -> MergedSave:
        """The finisher's save: the call's values merged into the reply by `store`."""
        assert self.saved is not None
        self.saved.save = functools.partial(
            store.finish_continuation, self.user, self.conversation.id, self.assistant_id
        )
        return self.saved


def plan_continuation(
    req: TurnRequest,
    conversation: cm.Conversation,
    chosen: tuple[rc.Provider, str],
    settings: ChatSettings,
    *,
    registry: rc.ProviderRegistry,
) -> ContinuationPlan:
    """What a continuation sends: the branch down to the reply, replayed and fitted to the window
    (never chained: the reply's text must be the history's end), then `CONTINUE_REQUEST`.

    Raise 404/400 for a reply that cannot be continued, 400 `context_too_long` when the reply no
    longer fits the window, 400 when the reply is already as long as this server keeps one."""
    reply = continued_reply(conversation, req.continue_message_id or "")
    if settings.max_reply_chars and len(reply.text) >= settings.max_reply_chars:
        raise BadTurnRequest(f"the reply is at the limit of {settings.max_reply_chars} characters")
    provider, model = chosen
    window = window_of(registry, provider, model)
    context = plan_context_for(
        conversation,
        reply.id,
        CONTINUE_REQUEST,
        provider,
        settings,
        model=model,
        window=window,
        force_replay=True,
        images=takes_images(registry, provider.name, model),
    )
    if reply.id not in context.sent_ids:
        raise ContextTooLongRequest("the reply to continue no longer fits the model's window")
    # No new summary is written for a continuation (it reuses those there are): the summary
    # step would plan the turn again as a new message.
    context = dataclasses.replace(context, needs_summary=(), summary_room=0)
    own = registry.settings.get(provider.name)
    sent, dropped = candidate_options(registry, conversation.options, provider.name, model)
    candidate = Candidate(
        provider,
        model,
        context,
        dict(own.options) if own else {},
        window,
        max_retries=own.max_retries if own else None,
        max_retry_after=own.max_retry_after if own else None,
        options=sent,
        options_dropped=dropped,
    )
    return ContinuationPlan(
        user=req.user,
        conversation=conversation,
        is_new=False,
        assistant_id=reply.id,
        user_message_id=None,
        place_under=reply.parent_id,
        regenerate=False,
        provider=provider,
        model=model,
        context=context,
        plan_parent=reply.id,
        text=CONTINUE_REQUEST,
        candidates=(candidate,),
        continued=reply,
        saved=MergedSave(),
    )


@dataclass
class ContinuationRun(TurnRun):
    """A continuation's worker body: the turn's run with the reply's room left under
    CHAT_MAX_REPLY_CHARS, and a `done` frame that reports the reply as merged (summed usage and
    cost; the status it kept when the call was stopped before any text)."""

    def __post_init__(self) -> None:
        plan = self.plan
        assert isinstance(plan, ContinuationPlan) and plan.continued is not None
        cap = self.settings.max_reply_chars
        if cap:
            room = max(1, cap - len(plan.continued.text))
            self.settings = dataclasses.replace(self.settings, max_reply_chars=room)

    def __call__(self, control: sp.TurnControl) -> tuple[str, dict[str, Any]]:
        event, data = super().__call__(control)
        if event != "done":
            return event, data
        plan = self.plan
        assert isinstance(plan, ContinuationPlan) and plan.continued is not None
        merged = plan.saved.merged if plan.saved is not None else None
        if merged is None:  # not saved (the conversation went meanwhile): summed from the plan
            call = cm.Usage.model_validate(data["usage"]) if data.get("usage") else None
            usage, cost = continuations.with_call(
                plan.continued.usage, plan.continued.cost_usd, call, data.get("cost_usd")
            )
            return event, {**data, "usage": _usage_json(usage), "cost_usd": cost}
        return event, {
            **data,
            "status": merged.status,
            "response_id": merged.response_id,
            "error": merged.error.model_dump() if merged.error is not None else None,
            "usage": _usage_json(merged.usage),
            "cost_usd": merged.cost_usd,
        }


def _usage_json(usage: cm.Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    return {key: int(value or 0) for key, value in usage.model_dump().items()}
