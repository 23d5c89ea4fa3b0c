"""A template's rules: what is refused at save, and rendering a stored template with variables.

At save: every text (instructions, each message) must parse (app/templating/grammar.py), every
variable it uses must be declared, declarations need valid, distinct names. At render: a passed
variable that is not declared or is longer than the cap, or a used one with no value and no
default, is refused naming it; each rendered text is capped. Errors are `BadTemplate` (400
`bad_template`). Imports no Flask.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from conversation_manager.store import TemplateRecord
from responses_client.options import BadOption, check_options

from .grammar import Part, TemplateSyntaxError, names_used, parse
from .render import MissingVariable, TooLong, missing, render_parts

VARIABLE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_VARIABLES = 50
MAX_MESSAGES = 50
ROLES = ("user", "assistant")


class BadTemplate(ValueError):
    """A template or its variables outside the rules; `detail` says what and where."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Rendered:
    """A template rendered with its variables: the instructions and the messages to seed."""

    instructions: str
    messages: tuple[tuple[str, str], ...]  # (role, text)
    variables: Mapping[str, str]  # what was passed (declared defaults are not copied in)


def _parsed(where: str, text: str, max_chars: int) -> list[Part]:
    if len(text) > max_chars:
        raise BadTemplate(f"{where} is longer than {max_chars} characters")
    try:
        return parse(text)
    except TemplateSyntaxError as exc:
        raise BadTemplate(f"{where}, line {exc.line}, column {exc.column}: {exc.reason}") from None


def _texts(record: TemplateRecord) -> list[tuple[str, str]]:
    out = [("instructions", record.instructions)]
    out += [(f"message {n}", m.get("text", "")) for n, m in enumerate(record.messages, 1)]
    return out


def check(record: TemplateRecord, *, max_chars: int) -> None:
    """Raise `BadTemplate` unless the template may be saved (grammar, declarations, roles)."""
    if len(record.variables) > MAX_VARIABLES:
        raise BadTemplate(f"at most {MAX_VARIABLES} variables")
    if len(record.messages) > MAX_MESSAGES:
        raise BadTemplate(f"at most {MAX_MESSAGES} messages")
    if record.options:
        # The turn's own check of options (a turn it starts checks them again for its model).
        try:
            check_options(record.options)
        except BadOption as exc:
            raise BadTemplate(f"option {exc}") from None
    declared: set[str] = set()
    for variable in record.variables:
        name = variable.get("name", "")
        if VARIABLE_RE.fullmatch(name) is None:
            raise BadTemplate(
                f"variable name {name!r}: use letters, digits and _, not starting with a digit"
            )
        if name in declared:
            raise BadTemplate(f"variable {name!r} is declared twice")
        declared.add(name)
        if len(variable.get("default", "")) > max_chars:
            raise BadTemplate(f"the default of {name!r} is longer than {max_chars} characters")
    for n, message in enumerate(record.messages, 1):
        if message.get("role") not in ROLES:
            raise BadTemplate(f"message {n}: the role must be user or assistant")
    for where, text in _texts(record):
        parts = _parsed(where, text, max_chars)
        undeclared = [name for name in names_used(parts) if name not in declared]
        if undeclared:
            raise BadTemplate(f"{where} uses {undeclared[0]!r}, which is not declared")


def render(
    record: TemplateRecord, variables: Mapping[str, str] | None, *, max_chars: int
) -> Rendered:
    """Render the template's instructions and messages with `variables` (declared defaults fill
    the rest); `BadTemplate` naming an undeclared, missing or too long variable, or a text past
    `max_chars`."""
    passed = dict(variables or {})
    # Before any parsing or filtering: each filter works on the whole value, once per
    # substitution, so a value past the cap is refused outright (even one `trim` would shorten).
    for name, value in passed.items():
        if len(value) > max_chars:
            raise BadTemplate(f"variable {name!r} is longer than {max_chars} characters")
    declared = {v.get("name", ""): v for v in record.variables}
    unknown = sorted(name for name in passed if name not in declared)
    if unknown:
        raise BadTemplate(f"variable {unknown[0]!r} is not declared by this template")
    values = {name: v["default"] for name, v in declared.items() if "default" in v}
    values.update(passed)
    parsed = [(where, _parsed(where, text, max_chars)) for where, text in _texts(record)]
    absent: dict[str, None] = {}
    for _, parts in parsed:
        for name in missing(parts, values):
            absent.setdefault(name, None)
    if absent:
        names = ", ".join(repr(n) for n in absent)
        raise BadTemplate(f"missing variable {names}: give it a value")
    out: list[str] = []
    for where, parts in parsed:
        try:
            out.append(render_parts(parts, values, max_chars))
        except TooLong:
            raise BadTemplate(f"{where} renders longer than {max_chars} characters") from None
        except MissingVariable as exc:  # checked above; kept for safety
            raise BadTemplate(f"missing variable {exc.name!r}: give it a value") from None
    roles: Sequence[str] = [m.get("role", "user") for m in record.messages]
    return Rendered(out[0], tuple(zip(roles, out[1:], strict=True)), passed)
