"""A turn's per-model options (API "Providers", **Options**): the up-front check, and what each
candidate is sent.

A turn that names `options` (or a template's start that carries them) replaces the
conversation's: they are checked for the chosen model, and anything unknown, out of range or
refused by that model is 400 `bad_option` naming it, before anything is sent. A turn without
`options` uses the conversation's, and each candidate (the chosen model after a switch, a
fallback) gets only what it takes; the rest are dropped and the reply says which. Pure: no I/O,
no Flask, no SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import responses_client as rc
from responses_client.options import (
    BadOption,
    accepted,
    check_options,
    output_ceiling,
    refuse_unaccepted,
    rules_for,
)

from .config import ChatSettings
from .errors import BadOptionRequest


def turn_options(
    registry: rc.ProviderRegistry,
    given: Mapping[str, Any] | None,
    kept: Mapping[str, Any],
    chosen: tuple[rc.Provider, str],
    settings: ChatSettings,
) -> dict[str, Any]:
    """The options the conversation keeps once this turn is accepted.

    `given` is the turn's own (None: it names none, so the conversation's `kept` stay as they
    are); raise `BadOptionRequest` for the first one that is bad or the chosen model refuses.
    """
    if given is None:
        return dict(kept)
    provider, model = chosen
    rules = rules_for(registry, provider.name, model)
    try:
        checked = check_options(
            given, max_output_tokens=output_ceiling(rules, settings.max_output_tokens)
        )
        refuse_unaccepted(checked, rules)
    except BadOption as exc:
        raise BadOptionRequest(exc.option, exc.reason) from None
    return checked


def candidate_options(
    registry: rc.ProviderRegistry, options: Mapping[str, Any], provider: str, model: str
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(what `provider:model` is sent of the conversation's options, the names it refuses)."""
    if not options:
        return {}, ()
    kept, dropped = accepted(options, rules=rules_for(registry, provider, model))
    return kept, tuple(dropped)
