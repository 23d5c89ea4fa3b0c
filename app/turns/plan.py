"""Plan a turn, purely: check the request, choose the provider and model, place the new messages in the
tree, and decide what the model receives (the context plan).

No I/O: everything comes in as records and settings. Imports no Flask and no SDK.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import conversation_manager as cm
import responses_client as rc
from app.context import ContextPlan, plan_context

from .config import ChatSettings, TurnRequest
from .errors import BadTurnRequest, EmptyMessage, MessageTooLong, NoProvider

CHAT_NAME_CHARS = 60


def message_text(req: TurnRequest, max_chars: int) -> str:
    """Return the turn's message text, or raise the 400/413 that refuses it."""
    text = req.message if req.message is not None else ""
    if req.regenerate:
        if text.strip():
            raise BadTurnRequest("regenerate takes no message")
        if not req.parent_message_id or req.parent_message_id == cm.ROOT:
            raise BadTurnRequest("regenerate needs the user message as parent_message_id")
    elif not text.strip():
        raise EmptyMessage()
    if len(text) > max_chars:
        raise MessageTooLong(f"at most {max_chars} characters")
    return text


def choose_provider(
    providers: Mapping[str, rc.Provider], name: str | None, default: str
) -> rc.Provider:
    """The provider a turn names, else the default one; raise `NoProvider` or a 400."""
    if not providers:
        raise NoProvider()
    provider = providers.get(name or default)
    if provider is None:
        if name is None:
            return next(iter(providers.values()))
        raise BadTurnRequest(f"unknown provider {name!r}")
    return provider


def name_from(text: str) -> str:
    """A conversation's name from its first message: one line, at most 60 characters."""
    line = " ".join(text.split())
    return line if len(line) <= CHAT_NAME_CHARS else line[: CHAT_NAME_CHARS - 1].rstrip() + "…"


def new_conversation(
    req: TurnRequest, provider: rc.Provider, settings: ChatSettings, text: str
) -> cm.Conversation:
    """The record of a conversation this turn starts (created on disk in the turn's own commit)."""
    if req.regenerate or req.parent_message_id not in (None, cm.ROOT):
        raise cm.NotFound("parent message")
    now = time.time()
    return cm.Conversation(
        id=cm.new_conversation_id(),
        chat_name=(req.chat_name or "").strip()[:200] or name_from(text),
        created_at=now,
        last_update=now,
        model=req.model or settings.default_model,
        provider=provider.name,
        instructions=settings.instructions,
    )


def _window(provider: rc.Provider) -> tuple[int | None, int | None]:
    # Capabilities are data the provider declares; a provider without them: nothing is known.
    caps = getattr(provider, "capabilities", None)
    return getattr(caps, "context_window", None), getattr(caps, "max_output_tokens", None)


@dataclass(frozen=True)
class TurnPlan:
    """Everything decided before the model is called: where the messages go and what is sent."""

    user: str
    conversation: cm.Conversation  # as it was before this turn's commit
    is_new: bool
    assistant_id: str
    user_message_id: str | None
    place_under: str | None  # the new user message's parent (regenerate: the user message)
    regenerate: bool
    provider: rc.Provider
    model: str
    context: ContextPlan
    plan_parent: str | None  # the message the context is planned under
    text: str

    def request(self, settings: ChatSettings) -> rc.ResponseRequest:
        """The upstream request of this plan."""
        return rc.ResponseRequest(
            model=self.model,
            input=self.context.input,
            instructions=self.conversation.instructions,
            previous_response_id=self.context.previous_response_id,
            store=self.provider.stateful,
            max_output_tokens=settings.max_output_tokens,
        )

    def estimated_tokens(self, settings: ChatSettings) -> int:
        """Tokens this turn may use at most, by estimate: its input and the output cap."""
        output = settings.max_output_tokens or 0
        return self.context.input_tokens(self.conversation.instructions) + output

    def first_frame(self, chat_name: str) -> dict[str, Any]:
        """The data of the `conversation` event, sent at once."""
        return {
            "conversation_id": self.conversation.id,
            "chat_name": chat_name,
            "user_message_id": self.user_message_id,
            "assistant_message_id": self.assistant_id,
            "model": self.model,
            "provider": self.provider.name,
            "context_mode": self.context.context_mode,
        }


def plan_context_for(
    conversation: cm.Conversation,
    parent_id: str | None,
    text: str,
    provider: rc.Provider,
    settings: ChatSettings,
    *,
    force_replay: bool = False,
) -> ContextPlan:
    """The context plan of a turn under `parent_id` for `provider`, fitted to its window."""
    window, output_limit = _window(provider)
    return plan_context(
        conversation,
        parent_id,
        text,
        provider=provider.name,
        stateful=provider.stateful,
        context_tokens=settings.context_tokens,
        window=window,
        output_limits=(output_limit, settings.max_output_tokens),
        force_replay=force_replay,
    )


def plan_turn(
    req: TurnRequest,
    conversation: cm.Conversation,
    provider: rc.Provider,
    settings: ChatSettings,
    text: str,
    *,
    is_new: bool,
    new_id: Callable[[], str] = cm.new_message_id,
) -> TurnPlan:
    """Place the new messages in the tree and decide what the model receives."""
    model = req.model or conversation.model or settings.default_model
    if req.regenerate:
        user_message = conversation.message(req.parent_message_id or "")
        if user_message.role != "user":
            raise cm.InvalidParent("regenerate answers a user message")
        plan_parent, text, place_under = user_message.parent_id, user_message.text, user_message.id
    elif req.parent_message_id == cm.ROOT:
        plan_parent = place_under = None
    elif req.parent_message_id is not None:
        parent = conversation.message(req.parent_message_id)
        if parent.role != "assistant":
            raise cm.InvalidParent("a new message goes under an assistant message")
        plan_parent = place_under = parent.id
    else:
        plan_parent = place_under = conversation.current_message_id
    return TurnPlan(
        user=req.user,
        conversation=conversation,
        is_new=is_new,
        assistant_id=new_id(),
        user_message_id=place_under if req.regenerate else new_id(),
        place_under=place_under,
        regenerate=req.regenerate,
        provider=provider,
        model=model,
        context=plan_context_for(conversation, plan_parent, text, provider, settings),
        plan_parent=plan_parent,
        text=text,
    )


def replan_replayed(plan: TurnPlan, settings: ChatSettings) -> TurnPlan:
    """The same turn with the branch's history replayed (the chain expired upstream)."""
    context = plan_context_for(
        plan.conversation, plan.plan_parent, plan.text, plan.provider, settings, force_replay=True
    )
    return replace(plan, context=context)
