"""The template grammar (API "Templates"), parsed by hand: `{{ name }}` and filters, nothing else.

    template     := (text | substitution)*
    substitution := "{{" name ("|" filter)* "}}"       (spaces allowed between the parts)
    filter       := "trim" | "upper" | "lower" | "default" "(" string ")"
    string       := '...' | "..."                      (backslash escapes \\ \' \" \n \t)

Anything else inside `{{ }}` (attribute or item access, calls, arithmetic, literals, tests,
keywords), any `{% %}` block and any `{# #}` comment is a `TemplateSyntaxError` saying what was
wrong and where. The parse is a list of plain values: rendering only joins strings, so template
text can never reach a Python object (no Jinja2, no eval). Pure; imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import dataclass

FILTERS = ("default", "trim", "upper", "lower")
NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
NAME_CHARS = NAME_START | frozenset("0123456789")
SPACE = frozenset(" \t\r\n")
ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}
# What a character met where a `|` or `}}` should be usually means, for the error's words.
_WHAT = {
    ".": "attribute access (.) is not allowed",
    "[": "item access ([...]) is not allowed",
    "(": "calls are not allowed",
    "+": "arithmetic is not allowed",
    "-": "arithmetic is not allowed",
    "*": "arithmetic is not allowed",
    "/": "arithmetic is not allowed",
    "%": "arithmetic is not allowed",
    "~": "joining with ~ is not allowed",
    "=": "comparisons and assignments are not allowed",
    "<": "comparisons are not allowed",
    ">": "comparisons are not allowed",
    "!": "comparisons are not allowed",
    ",": "only one value per {{ }}",
    ":": "only a variable name is allowed",
}
_KEYWORDS = frozenset(
    {
        "if",
        "else",
        "for",
        "in",
        "not",
        "and",
        "or",
        "is",
        "true",
        "false",
        "none",
        "True",
        "False",
        "None",
        "recursive",
        "with",
        "without",
        "context",
    }
)


class TemplateSyntaxError(ValueError):
    """Template text outside the grammar: `reason` says what, `line` and `column` (1-based) where."""

    def __init__(self, reason: str, line: int, column: int) -> None:
        super().__init__(f"{reason} (line {line}, column {column})")
        self.reason = reason
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Filter:
    """One filter of a substitution; `argument` is the `default` filter's string, else None."""

    name: str
    argument: str | None = None


@dataclass(frozen=True)
class Substitution:
    """`{{ name | filters }}` at `line`, `column` of the template text."""

    name: str
    filters: tuple[Filter, ...]
    line: int
    column: int


Part = str | Substitution


def _where(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    return line, pos - start + 1


class _Parser:
    """One pass over the text; `pos` is the index of the next character to read."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str, pos: int | None = None) -> TemplateSyntaxError:
        line, column = _where(self.text, self.pos if pos is None else pos)
        return TemplateSyntaxError(reason, line, column)

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in SPACE:
            self.pos += 1

    def parse(self) -> list[Part]:
        parts: list[Part] = []
        text, n = self.text, len(self.text)
        literal_start = 0
        while True:
            brace = text.find("{", self.pos)
            if brace < 0 or brace + 1 >= n:
                break
            nxt = text[brace + 1]
            if nxt == "%":
                raise self.fail("{% %} blocks (loops, conditions, set) are not allowed", brace)
            if nxt == "#":
                raise self.fail("{# #} comments are not allowed", brace)
            if nxt != "{":
                self.pos = brace + 1
                continue
            if brace > literal_start:
                parts.append(text[literal_start:brace])
            self.pos = brace + 2
            parts.append(self.substitution(brace))
            literal_start = self.pos
        if literal_start < n:
            parts.append(text[literal_start:])
        return parts

    def substitution(self, start: int) -> Substitution:
        if self.peek() == "-":
            raise self.fail("whitespace control ({{-) is not allowed")
        self.skip_space()
        if self.pos >= len(self.text):
            raise self.fail("{{ without a closing }}", start)
        if self.peek(2) == "}}":
            raise self.fail("empty {{ }}: put a variable name inside")
        name_pos = self.pos
        name = self.name("a variable name")
        if name in _KEYWORDS:
            raise self.fail(f"{name!r} is a keyword: only a variable name is allowed", name_pos)
        filters: list[Filter] = []
        while True:
            self.skip_space()
            if self.pos >= len(self.text):
                raise self.fail("{{ without a closing }}", start)
            if self.peek(2) == "}}":
                self.pos += 2
                line, column = _where(self.text, start)
                return Substitution(name, tuple(filters), line, column)
            char = self.peek()
            if char == "|":
                self.pos += 1
                self.skip_space()
                filters.append(self.filter())
                continue
            if char == "-" and self.peek(3) == "-}}":
                raise self.fail("whitespace control (-}}) is not allowed")
            if char in NAME_START:
                word_pos = self.pos
                word = self.name("a word")
                raise self.fail(f"{word!r} after a variable: expressions are not allowed", word_pos)
            raise self.fail(_WHAT.get(char, f"unexpected {char!r}: expected | or }}}}"))

    def name(self, what: str) -> str:
        start = self.pos
        if self.pos >= len(self.text) or self.text[self.pos] not in NAME_START:
            char = self.peek()
            if char in ("'", '"'):
                raise self.fail(f"a string literal where {what} should be: only variables")
            if char.isdigit():
                raise self.fail(f"a number where {what} should be: only variables")
            if char in "([{":
                raise self.fail(f"{char!r} where {what} should be: only variables")
            raise self.fail(f"expected {what}, found {char!r}")
        while self.pos < len(self.text) and self.text[self.pos] in NAME_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def filter(self) -> Filter:
        pos = self.pos
        name = self.name("a filter name")
        if name not in FILTERS:
            raise self.fail(f"unknown filter {name!r}: only {', '.join(FILTERS)}", pos)
        self.skip_space()
        if name != "default":
            if self.peek() == "(":
                raise self.fail(f"the {name} filter takes no arguments")
            return Filter(name)
        if self.peek() != "(":
            raise self.fail("default needs one string argument: default('text')")
        self.pos += 1
        self.skip_space()
        if self.peek() not in ("'", '"'):
            raise self.fail("default's argument must be a string literal in quotes")
        value = self.string()
        self.skip_space()
        if self.peek() == ",":
            raise self.fail("default takes one argument only")
        if self.peek() != ")":
            raise self.fail("expected ) after default's argument")
        self.pos += 1
        return Filter(name, value)

    def string(self) -> str:
        quote, start = self.text[self.pos], self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == quote:
                self.pos += 1
                return "".join(out)
            if char == "\\":
                escaped = self.text[self.pos + 1 : self.pos + 2]
                if escaped not in ESCAPES:
                    raise self.fail("unknown escape in a string: use \\\\ \\' \\\" \\n \\t")
                out.append(ESCAPES[escaped])
                self.pos += 2
                continue
            out.append(char)
            self.pos += 1
        raise self.fail("a string without its closing quote", start)


def parse(text: str) -> list[Part]:
    """Parse template text into literal strings and substitutions; `TemplateSyntaxError` if outside
    the grammar."""
    return _Parser(text).parse()


def names_used(parts: list[Part]) -> list[str]:
    """The variable names the parts use, in order of first use."""
    seen: dict[str, None] = {}
    for part in parts:
        if isinstance(part, Substitution):
            seen.setdefault(part.name, None)
    return list(seen)
