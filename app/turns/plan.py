"""Plan a turn, purely: check the request, choose the provider and model, place the new messages in the
tree, and decide what the model receives (the context plan).

No I/O: everything comes in as records and settings. Imports no Flask and no SDK.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import conversation_manager as cm
import responses_client as rc
from app.context import ContextPlan, counter_for, holds_newest, plan_context
from app.context.parts import holds_image
from app.templating import TemplateStart
from conversation_manager.models import ChatNameSource

from .config import ChatSettings, TurnRequest
from .errors import (
    BadTurnRequest,
    ContextTooLongRequest,
    EmptyMessage,
    MessageTooLong,
    NoProvider,
    UnknownModelRequest,
    UnsupportedInputRequest,
)
from .turn_options import candidate_options

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


def choose_model(
    registry: rc.ProviderRegistry,
    req: TurnRequest,
    conversation: cm.Conversation | None,
    settings: ChatSettings,
) -> tuple[rc.Provider, str]:
    """The provider and model a turn uses (API `POST /chat`): the ones it names, else the
    conversation's, else the defaults; raise `NoProvider` or a 400 `unknown_model`."""
    if not registry:
        raise NoProvider()
    name, model = req.provider, req.model
    if name is None and model and ":" in model:
        # `provider:model` in the model field, when the part before the colon is a provider.
        head, _, tail = model.partition(":")
        if head in registry and tail:
            name, model = head, tail
    if name is not None:
        named = registry.get(name)
        if named is None:
            raise UnknownModelRequest(f"unknown provider {name!r}")
        provider = named
        model = model or _default_model(registry, name, settings)
    else:
        current = registry.get(conversation.provider) if conversation is not None else None
        if current is not None and conversation is not None:
            provider = current
            model = model or conversation.model or _default_model(registry, current.name, settings)
        else:
            default = registry.get(settings.default_provider)
            provider = default or next(iter(registry.providers.values()))
            model = model or _default_model(registry, provider.name, settings)
    if not model:
        raise UnknownModelRequest(f"name a model for provider {provider.name!r}")
    if registry.refuses_model(provider.name, model):
        raise UnknownModelRequest(f"{provider.name!r} does not list model {model!r}")
    return provider, model


def default_choice(
    registry: rc.ProviderRegistry, req: TurnRequest, settings: ChatSettings
) -> tuple[str, str] | None:
    """The default provider and model of a new conversation, or None when there is none."""
    try:
        provider, model = choose_model(
            registry, TurnRequest(user=req.user, message=None), None, settings
        )
    except (NoProvider, UnknownModelRequest):
        return None
    return provider.name, model


def _default_model(registry: rc.ProviderRegistry, provider: str, settings: ChatSettings) -> str:
    if provider == settings.default_provider and settings.default_model:
        return settings.default_model
    return registry.default_model(provider) or ""


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


def window_of(
    registry: rc.ProviderRegistry, provider: rc.Provider, model: str
) -> tuple[int | None, int | None]:
    """A model's context window and output limit: the registry's figures, else the provider's."""
    info = registry.model_info(provider.name, model)
    # Capabilities are data the provider declares; a provider without them: nothing is known.
    caps = getattr(provider, "capabilities", None)
    window = info.context_window or getattr(caps, "context_window", None)
    output = info.max_output_tokens or getattr(caps, "max_output_tokens", None)
    return window, output


def output_cap(*limits: int | None) -> int | None:
    """The output cap sent: the smallest known of the deployment's cap and the model's limit."""
    known = [limit for limit in limits if limit]
    return min(known) if known else None


@dataclass(frozen=True)
class Candidate:
    """One provider and model that may answer the turn, with what it would be sent.

    `context` None: it is skipped without a call, recorded with the code `skipped`: its window
    cannot hold the instructions plus the newest message (`context_too_long`), or it is a
    text-only fallback for a turn that carries an image (`unsupported_input`).
    """

    provider: rc.Provider
    model: str
    context: ContextPlan | None
    provider_options: Mapping[str, Any] = field(default_factory=dict)
    window: tuple[int | None, int | None] = (None, None)
    # The providers file's retry settings for this provider; None: the deployment's.
    max_retries: int | None = None
    max_retry_after: float | None = None
    skipped: str = "context_too_long"
    # The conversation's options this candidate takes (sent), and the names it refuses (dropped).
    options: Mapping[str, Any] = field(default_factory=dict)
    options_dropped: tuple[str, ...] = ()

    def ref(self, code: str | None = None) -> dict[str, str]:
        """`{"provider", "model"}` (and `code`), as `fallback` events and `fallback_from` say it."""
        out = {"provider": self.provider.name, "model": self.model}
        if code is not None:
            out["code"] = code
        return out


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


def reply_room(
    conversation: cm.Conversation, output_limit: int | None, settings: ChatSettings
) -> tuple[int | None, ...]:
    """The limits of the reply's room in the window: the model's output limit, the deployment's
    cap and the conversation's own `max_output_tokens` option (API "Context": the smallest)."""
    option = conversation.options.get("max_output_tokens")
    own = (
        option if isinstance(option, int) and not isinstance(option, bool) and option > 0 else None
    )
    return (output_limit, settings.max_output_tokens, own)


def plan_context_for(
    conversation: cm.Conversation,
    parent_id: str | None,
    text: str,
    provider: rc.Provider,
    settings: ChatSettings,
    *,
    model: str | None = None,
    window: tuple[int | None, int | None] = (None, None),
    force_replay: bool = False,
    new_tokens: int | None = None,
    attachments: Sequence[cm.Attachment] = (),
    images: bool = True,
) -> ContextPlan:
    """The context plan of a turn under `parent_id` for `provider:model`, fitted to `window`
    (`attachments`: the new message's; `images` False: a text-only model, never chained over
    images).

    Summaries and compaction follow the settings' `summaries` and `compact_after`
    (CHAT_SUMMARIES and CHAT_COMPACT_INPUT_TOKENS).
    """
    context_window, output_limit = window
    return plan_context(
        conversation,
        parent_id,
        text,
        provider=provider.name,
        stateful=provider.stateful,
        context_tokens=settings.context_tokens,
        window=context_window,
        output_limits=reply_room(conversation, output_limit, settings),
        force_replay=force_replay,
        summaries=settings.summaries,
        compact_after=settings.compact_after,
        model=model or conversation.model,
        new_tokens=new_tokens,
        new_attachments=attachments,
        images=images,
    )


def takes_images(registry: rc.ProviderRegistry, provider: str, model: str) -> bool:
    """Whether `provider:model` may be sent images: its known `input` lists `image`, or nothing
    is known of it (the upstream decides; API "Attachments")."""
    kinds = registry.model_info(provider, model).input
    return kinds is None or "image" in kinds


def plan_candidates(
    registry: rc.ProviderRegistry,
    conversation: cm.Conversation,
    parent_id: str | None,
    text: str,
    chosen: tuple[rc.Provider, str],
    settings: ChatSettings,
    *,
    attachments: Sequence[cm.Attachment] = (),
) -> tuple[Candidate, ...]:
    """The chosen provider and model, then its fallback candidates, each with what it is sent.

    A candidate gets the history replayed and fitted to its own window (API "Retries and
    fallback"); one whose window cannot hold the instructions plus the newest message has no
    context, nor has a text-only fallback when the new message (`attachments`) holds an image.
    Raise the up-front 400 `context_too_long` when no candidate can hold them.
    """
    provider, model = chosen
    refs = [(provider.name, model), *registry.fallback_for(provider.name, model)]
    image = holds_image(attachments)
    out: list[Candidate] = []
    for n, (name, candidate_model) in enumerate(refs):
        live = provider if n == 0 else registry.get(name)
        if live is None:
            continue
        window = window_of(registry, live, candidate_model)
        # The chosen model was checked by `plan_turn`; a fallback never drops the image.
        refused = n > 0 and image and not takes_images(registry, name, candidate_model)
        holds = not refused and holds_newest(
            conversation.instructions,
            text,
            window=window[0],
            context_tokens=settings.context_tokens,
            output_limits=reply_room(conversation, window[1], settings),
            counter=counter_for(conversation, name, candidate_model),
            attachments=attachments,
        )
        context = (
            plan_context_for(
                conversation,
                parent_id,
                text,
                live,
                settings,
                model=candidate_model,
                window=window,
                force_replay=n > 0,
                attachments=attachments,
                images=takes_images(registry, name, candidate_model),
            )
            if holds
            else None
        )
        own = registry.settings.get(name)
        sent, dropped = candidate_options(registry, conversation.options, name, candidate_model)
        out.append(
            Candidate(
                live,
                candidate_model,
                context,
                dict(own.options) if own else {},
                window,
                max_retries=own.max_retries if own else None,
                max_retry_after=own.max_retry_after if own else None,
                skipped="unsupported_input" if refused else "context_too_long",
                options=sent,
                options_dropped=dropped,
            )
        )
    if all(c.context is None for c in out):
        raise ContextTooLongRequest("the instructions and the message alone overflow the window")
    return tuple(out)


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
