"""Plan a turn's candidates, purely: the chosen provider and model, then its fallbacks, each with its
window, its options and the context it would be sent (or why it is skipped).

No I/O: everything comes in as records and settings. Imports no Flask and no SDK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import conversation_manager as cm
import responses_client as rc
from app.context import ContextPlan, counter_for, holds_newest, plan_context
from app.context.parts import holds_image

from .config import ChatSettings
from .errors import ContextTooLongRequest
from .turn_options import candidate_options


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
