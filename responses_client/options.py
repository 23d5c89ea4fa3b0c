"""Per-model options (API.md "Providers", **Options**): check a turn's options, and keep what a model takes.

`check_options` refuses an unknown key or value, a wrong type or an out-of-range number with
`BadOption` naming the option; `accepted` splits checked options into what a model takes and the
names it refuses; `rules_for` gathers what is known of one model (the registry's facts, the
built-in catalog's under them, and what its protocol can send at all). Imports no SDK and no app
code: only the catalog and the registry's data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from responses_client.catalog import (
    EFFORTS,
    OPTION_NAMES,
    effort_map,
    family_of,
    model_facts,
    protocol_options,
)
from responses_client.registry import ProviderRegistry

# The values of each enum option (API.md "Options").
CHOICES: dict[str, tuple[str, ...]] = {
    "reasoning_effort": EFFORTS,
    "reasoning_summary": ("auto", "concise", "detailed", "none"),
    "verbosity": ("low", "medium", "high"),
    "thinking": ("on", "off", "adaptive"),
}
# The numeric options' ranges, both ends included.
RANGES: dict[str, tuple[float, float]] = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0)}
# The largest output cap anyone could mean when neither the model nor the deployment gives one.
MAX_TOKENS_CEILING = 2**31 - 1


class BadOption(ValueError):
    """An option that is unknown, has a wrong value, or the model refuses; `option` names it."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option = option
        self.reason = reason


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_options(
    raw: Mapping[str, Any], *, max_output_tokens: int | None = None
) -> dict[str, Any]:
    """The options checked and in the contract's order (a null value is an option not set).

    `max_output_tokens` is the largest output cap allowed (the smaller of the model's limit and
    CHAT_MAX_OUTPUT_TOKENS; None: no known bound). Raise `BadOption` naming the first bad one.
    """
    if not isinstance(raw, Mapping):
        raise BadOption("options", "must be an object")
    for key in raw:
        if key not in OPTION_NAMES:
            raise BadOption(str(key)[:64], "is not an option")
    out: dict[str, Any] = {}
    for name in OPTION_NAMES:
        value = raw.get(name)
        if value is None:
            continue
        if name in CHOICES:
            if not isinstance(value, str) or value not in CHOICES[name]:
                raise BadOption(name, "must be one of " + ", ".join(CHOICES[name]))
        elif name in RANGES:
            low, high = RANGES[name]
            if not _number(value) or not math.isfinite(value):
                raise BadOption(name, "must be a number")
            if not low <= value <= high:
                raise BadOption(name, f"must be between {low:g} and {high:g}")
        else:  # max_output_tokens
            if not isinstance(value, int) or isinstance(value, bool):
                raise BadOption(name, "must be a whole number")
            ceiling = max_output_tokens or MAX_TOKENS_CEILING
            if not 1 <= value <= ceiling:
                raise BadOption(name, f"must be between 1 and {ceiling}")
        out[name] = value
    return out


@dataclass(frozen=True)
class OptionRules:
    """What one model takes: option names (None: every one), efforts (None: every one), the
    values it takes of some enum options, how its protocol maps efforts, and its output limit."""

    takes: tuple[str, ...] | None = None
    efforts: tuple[str, ...] | None = None
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    effort_map: Mapping[str, str] = field(default_factory=dict)
    max_output_tokens: int | None = None


def _refusal(name: str, value: Any, rules: OptionRules) -> str | None:
    """Why the model refuses `name` = `value`, or None when it takes it."""
    if rules.takes is not None and name not in rules.takes:
        return "this model does not take it"
    allowed = rules.values.get(name)
    if allowed is not None and value not in allowed:
        return "this model takes only " + ", ".join(allowed)
    if name == "reasoning_effort" and rules.efforts is not None:
        if not rules.efforts:
            return "this model takes no reasoning effort"
        if rules.effort_map.get(value, value) not in rules.efforts:
            return "this model takes only " + ", ".join(rules.efforts)
    return None


def accepted(
    options: Mapping[str, Any],
    takes: tuple[str, ...] | None = None,
    efforts: tuple[str, ...] | None = None,
    *,
    rules: OptionRules | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """(the options the model takes, the names it refuses), from checked options.

    `takes` and `efforts` describe the model (None: everything), or `rules` does in full. A
    `max_output_tokens` above the model's known limit is lowered to it (the rest of what it
    asks is still sent).
    """
    rules = rules or OptionRules(takes=takes, efforts=efforts)
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in options.items():
        if _refusal(name, value, rules) is not None:
            dropped.append(name)
            continue
        limit = rules.max_output_tokens
        over = name == "max_output_tokens" and limit and isinstance(value, int) and value > limit
        kept[name] = limit if over else value
    return kept, dropped


def refuse_unaccepted(options: Mapping[str, Any], rules: OptionRules) -> None:
    """Raise `BadOption` for the first option the model refuses (a turn's own options)."""
    for name, value in options.items():
        reason = _refusal(name, value, rules)
        if reason is not None:
            raise BadOption(name, reason)


def rules_for(registry: ProviderRegistry, provider: str, model: str) -> OptionRules:
    """What `provider:model` takes: the registry's facts (the file over the catalog), the
    catalog's family facts for what those leave unknown, within what its protocol can send."""
    settings = registry.settings.get(provider)
    protocol = settings.protocol if settings else None
    live = registry.get(provider)
    flavour = getattr(live, "flavour", None)
    family = family_of(provider, protocol) if protocol else None
    info = registry.model_info(provider, model)
    facts = model_facts(family, model)
    takes = info.options if info.options is not None else (facts.options if facts else None)
    efforts = info.reasoning if info.reasoning is not None else (facts.reasoning if facts else None)
    sendable = protocol_options(protocol, flavour if isinstance(flavour, str) else None)
    names = OPTION_NAMES if takes is None else takes
    takes = tuple(n for n in names if n in sendable)
    limit = info.max_output_tokens or (facts.max_output_tokens if facts else None)
    if limit is None:
        limit = getattr(getattr(live, "capabilities", None), "max_output_tokens", None)
    return OptionRules(
        takes=None if set(takes) == set(OPTION_NAMES) else takes,
        efforts=efforts,
        values=dict(facts.values) if facts else {},
        effort_map=effort_map(family, protocol, flavour if isinstance(flavour, str) else None),
        max_output_tokens=limit if isinstance(limit, int) else None,
    )


def output_ceiling(rules: OptionRules, deployment_cap: int | None) -> int | None:
    """The largest `max_output_tokens` a turn may ask: the smaller of the model's limit and
    CHAT_MAX_OUTPUT_TOKENS; None when neither is known."""
    known = [n for n in (rules.max_output_tokens, deployment_cap) if n]
    return min(known) if known else None
