"""Rendering parsed template text: join literals and substituted values, nothing else.

A value is a string the caller supplies; the filters are four string operations. Rendering stops
as soon as the text passes its cap, so no input can build a huge string. Pure; imports only the
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


def _value(sub: Substitution, values: Mapping[str, str]) -> str:
    value = values.get(sub.name)
    for f in sub.filters:
        if f.name == "default":
            if value is None:
                value = f.argument
            continue
        if value is None:
            raise MissingVariable(sub.name)
        if f.name == "trim":
            value = value.strip()
        elif f.name == "upper":
            value = value.upper()
        elif f.name == "lower":
            value = value.lower()
    if value is None:
        raise MissingVariable(sub.name)
    return value


def missing(parts: Sequence[Part], values: Mapping[str, str]) -> list[str]:
    """The names of the variables that would render without a value, in order of first use."""
    out: dict[str, None] = {}
    for part in parts:
        if isinstance(part, Substitution):
            try:
                _value(part, values)
            except MissingVariable as exc:
                out.setdefault(exc.name, None)
    return list(out)


def render_parts(parts: Sequence[Part], values: Mapping[str, str], max_chars: int) -> str:
    """Render parsed text with `values`; `MissingVariable`, or `TooLong` past `max_chars`."""
    out: list[str] = []
    size = 0
    for part in parts:
        piece = part if isinstance(part, str) else _value(part, values)
        size += len(piece)
        if size > max_chars:
            raise TooLong(f"the rendered text is longer than {max_chars} characters")
        out.append(piece)
    return "".join(out)
