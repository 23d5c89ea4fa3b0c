"""Plan a turn, purely: check the request, place the new messages in the tree, and decide what each
candidate receives (model choice in model_choice.py, the candidates in candidates.py).

No I/O: everything comes in as records and settings. Imports no Flask and no SDK.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import conversation_manager as cm
import responses_client as rc
from app.context import ContextPlan
from app.context.parts import holds_image
from app.templating import TemplateStart
from conversation_manager.models import ChatNameSource

from .candidates import Candidate, output_cap, plan_candidates, plan_context_for, takes_images
from .config import ChatSettings, TurnRequest
from .errors import BadTurnRequest, EmptyMessage, MessageTooLong, UnsupportedInputRequest
from .model_choice import default_choice

CHAT_NAME_CHARS = 60


def message_text(req: TurnRequest, max_chars: int) -> str:
    """Return the turn's message text, or raise the 400/413 that refuses it (a message may be
    empty when it carries attachments)."""
    text = req.message if req.message is not None else ""
    if req.regenerate:
        if text.strip():
            raise BadTurnRequest("regenerate takes no message")
        if req.attachments:
            raise BadTurnRequest("regenerate takes no attachments: it reuses its message's")
        if not req.parent_message_id or req.parent_message_id == cm.ROOT:
            raise BadTurnRequest("regenerate needs the user message as parent_message_id")
    elif not text.strip():
        if not req.attachments:
            raise EmptyMessage()
        text = ""  # the attachments alone: no blank text part beside them
    if len(text) > max_chars:
        raise MessageTooLong(f"at most {max_chars} characters")
    return text


def name_from(text: str) -> str:
    """A conversation's name from its first message: one line, at most 60 characters."""
    line = " ".join(text.split())
    return line if len(line) <= CHAT_NAME_CHARS else line[: CHAT_NAME_CHARS - 1].rstrip() + "…"


def new_conversation(
    req: TurnRequest,
    provider: rc.Provider,
    model: str,
    settings: ChatSettings,
    text: str,
    *,
    start: TemplateStart | None = None,
    instructions: str | None = None,
) -> cm.Conversation:
    """The record of a conversation this turn starts (created on disk in the turn's own commit).

    Its instructions: the template's (`start`), else the user's default (`instructions`), else
    the deployment's; a template's messages come first, as ordinary messages (API "Templates").
    """
    if req.regenerate or req.parent_message_id not in (None, cm.ROOT):
        raise cm.NotFound("parent message")
    now = time.time()
    given = (req.chat_name or "").strip()[:200]
    # Named from `chat_name`, else its first message (API "Conversations: more fields"): for a
    # template, its first seeded message; "message" lets a model-written title replace it.
    first = start.seeded[0][1] if start is not None and start.seeded else text
    source: ChatNameSource = "user" if given else "message"
    name = given or name_from(first)
    seeded = start.messages(now) if start is not None else []
    return cm.Conversation(
        id=cm.new_conversation_id(),
        chat_name=name,
        chat_name_source=source,
        created_at=now,
        last_update=now,
        model=model,
        provider=provider.name,
        instructions=start.instructions
        if start is not None
        else instructions
        if instructions is not None
        else settings.instructions,
        messages=seeded,
        current_message_id=seeded[-1].id if seeded else None,
        template_id=start.template_id if start is not None else None,
        template_variables=dict(start.variables) if start is not None else None,
        options=dict(start.options or {}) if start is not None else {},
    )


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
    context: ContextPlan  # the first candidate that is called (the chosen one unless skipped)
    plan_parent: str | None  # the message the context is planned under
    text: str
    # The new (or regenerated) user message's attachments; the context holds references to them.
    attachments: tuple[cm.Attachment, ...] = ()
    # The chosen provider and model first, then the fallback candidates, in order.
    candidates: tuple[Candidate, ...] = ()
    # The conversation's provider and model before this turn named others (set back when the
    # upstream does not know the named model); None when the turn named nothing new.
    previous_choice: tuple[str, str] | None = None

    def request_for(self, candidate: Candidate, settings: ChatSettings) -> rc.ResponseRequest:
        """The upstream request for `candidate` (which must have a context)."""
        assert candidate.context is not None
        # A summary standing for the oldest messages rides on the instructions (API "Context");
        # a provider's compaction is already at the head of the input.
        instructions = self.conversation.instructions + candidate.context.instructions_suffix
        return rc.ResponseRequest(
            model=candidate.model,
            input=candidate.context.input,
            instructions=instructions,
            previous_response_id=candidate.context.previous_response_id,
            store=candidate.provider.stateful,
            max_output_tokens=output_cap(settings.max_output_tokens, candidate.window[1]),
            options=candidate.options,
            provider_options=candidate.provider_options,
        )

    @property
    def first_candidate(self) -> Candidate:
        """The first candidate that is called (the chosen one, unless its window is too small)."""
        for candidate in self.candidates:
            if candidate.context is not None:
                return candidate
        return Candidate(self.provider, self.model, self.context)

    def estimated_tokens(self, settings: ChatSettings) -> int:
        """Tokens this turn may use at most, by estimate: its input and the output cap."""
        output = settings.max_output_tokens or 0
        return self.context.estimated_input_tokens + output

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


def new_message_parent(conversation: cm.Conversation, parent_message_id: str | None) -> str | None:
    """Where a new user message goes (API `POST /chat`): under the assistant message named, at
    the root for `root` (None), else at the end of the branch on screen; 404, or 400 for a user
    message."""
    if parent_message_id == cm.ROOT:
        return None
    if parent_message_id is None:
        return conversation.current_message_id
    if conversation.message(parent_message_id).role != "assistant":
        raise cm.InvalidParent("a new message goes under an assistant message")
    return parent_message_id


def plan_turn(
    req: TurnRequest,
    conversation: cm.Conversation,
    chosen: tuple[rc.Provider, str],
    settings: ChatSettings,
    text: str,
    *,
    is_new: bool,
    registry: rc.ProviderRegistry | None = None,
    new_id: Callable[[], str] = cm.new_message_id,
    attachments: Sequence[cm.Attachment] = (),
) -> TurnPlan:
    """Place the new messages in the tree and decide what each candidate receives (`attachments`:
    the new message's, resolved; a text-only chosen model refuses an image: 400)."""
    provider, model = chosen
    attachments = tuple(attachments)
    registry = registry or rc.ProviderRegistry.of({provider.name: provider})
    place_under: str | None
    if req.regenerate:
        user_message = conversation.message(req.parent_message_id or "")
        if user_message.role != "user":
            raise cm.InvalidParent("regenerate answers a user message")
        plan_parent, text, place_under = user_message.parent_id, user_message.text, user_message.id
        attachments = tuple(user_message.attachments)  # a regenerate reuses its message's
    else:
        plan_parent = place_under = new_message_parent(conversation, req.parent_message_id)
    if holds_image(attachments) and not takes_images(registry, provider.name, model):
        # Before anything is sent; fallback never swaps the model a user picked for an image.
        raise UnsupportedInputRequest(f"{provider.name}:{model} does not take images")
    candidates = plan_candidates(
        registry, conversation, plan_parent, text, chosen, settings, attachments=attachments
    )
    first = next(c for c in candidates if c.context is not None)
    assert first.context is not None
    previous: tuple[str, str] | None = (conversation.provider, conversation.model)
    named = req.model is not None or req.provider is not None
    if is_new and named:
        # A new conversation has no earlier model: a named one the upstream does not know
        # gives way to the defaults, so it never becomes the conversation's.
        previous = default_choice(registry, req, settings)
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
        context=first.context,
        plan_parent=plan_parent,
        text=text,
        attachments=attachments,
        candidates=candidates,
        previous_choice=previous
        if named and previous not in (None, (provider.name, model))
        else None,
    )


def replay_candidate(plan: TurnPlan, candidate: Candidate, settings: ChatSettings) -> Candidate:
    """The same candidate with the branch's history replayed (its chain expired upstream)."""
    context = plan_context_for(
        plan.conversation,
        plan.plan_parent,
        plan.text,
        candidate.provider,
        settings,
        model=candidate.model,
        window=candidate.window,
        force_replay=True,
        attachments=plan.attachments,
    )
    return replace(candidate, context=context)
