"""Rendering parsed template text: join literals and substituted values, nothing else.

A value is a string the caller supplies (checks.render refuses one longer than the cap before
anything runs); the filters are four string operations. Whether a variable is missing is decided
without running any filter, and rendering stops at the first piece that takes the text past its
cap, so no input can make much more than the cap's worth of string work. Pure; imports only the
grammar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .grammar import Part, Substitution


class MissingVariable(ValueError):
    """A substitution whose variable has no value and no `default` filter."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class TooLong(ValueError):
    """The rendered text passed its cap."""


def apply_filter(name: str, value: str) -> str:
    """One of the string filters (`trim`, `upper`, `lower`) applied to `value`."""
    if name == "trim":
        return value.strip()
    if name == "upper":
        return value.upper()
    if name == "lower":
        return value.lower()
    return value


def is_missing(sub: Substitution, values: Mapping[str, str]) -> bool:
    """Whether `sub` has no value: not passed (or None) and its first filter is not `default`.

    Decided without touching the value: the string filters never turn a value into None, and a
    leading `default` always gives one, so no filter needs to run to know.
    """
    if values.get(sub.name) is not None:
        return False
    return not sub.filters or sub.filters[0].name != "default"


def _value(sub: Substitution, values: Mapping[str, str]) -> str:
    if is_missing(sub, values):
        raise MissingVariable(sub.name)
    value = values.get(sub.name)
    for f in sub.filters:
        if f.name == "default":
            if value is None:
                value = f.argument
        elif value is not None:
            value = apply_filter(f.name, value)
    if value is None:  # only a default without an argument, which the grammar refuses
        raise MissingVariable(sub.name)
    return value


def missing(parts: Sequence[Part], values: Mapping[str, str]) -> list[str]:
    """The names of the variables that would render without a value, in order of first use.

    No filter runs here: presence is decided from the names alone (`is_missing`), so a template
    repeating one substitution thousands of times costs one dictionary look-up each.
    """
    out: dict[str, None] = {}
    for part in parts:
        if isinstance(part, Substitution) and is_missing(part, values):
            out.setdefault(part.name, None)
    return list(out)


def render_parts(parts: Sequence[Part], values: Mapping[str, str], max_chars: int) -> str:
    """Render parsed text with `values`; `MissingVariable`, or `TooLong` past `max_chars`."""
    out: list[str] = []
    size = 0
    for part in parts:
        piece = part if isinstance(part, str) else _value(part, values)
        size += len(piece)
        # Checked after every piece: at most one piece (a value within the cap) is built past it.
        if size > max_chars:
            raise TooLong(f"the rendered text is longer than {max_chars} characters")
        out.append(piece)
    return "".join(out)
