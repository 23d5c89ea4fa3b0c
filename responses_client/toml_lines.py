"""Where each key of a TOML document is written: key path -> line number, and paths as text.

`tomllib` gives values but no positions, and an error about a value must name its line (API.md
"Providers": the line number, the key path and the reason, never the line's text). This scanner
reads a document `tomllib` has already accepted, so it can trust the syntax; on anything it does
not follow it keeps what it has found. Imports only the standard library.
"""

from __future__ import annotations

import contextlib
import json
import re
import tomllib

Path = tuple[str | int, ...]  # table keys and array indexes, outermost first

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}#\n]")
_ANY_KEY_AT = re.compile(r"\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")
_HEADER = re.compile(r"\s*\[\[?\s*([^\]#]+?)\s*(?:\]\]?\s*)?(?:#.*)?$")  # closed or not


def format_path(path: Path) -> str:
    """`providers.openai.fallback[1]`, `models."local:llama".price` (odd keys quoted)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _BARE.fullmatch(part) else json.dumps(part)
            out += f".{text}" if out else text
    return out or "(top level)"


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[Path, int] = {}
        self.duplicate: tuple[Path, int] | None = None  # the first key set twice, and its line

    def record(self, path: Path) -> None:
        for k in range(1, len(path) + 1):
            self.lines.setdefault(path[:k], self.line)

    def blank(self, *, newlines: bool) -> None:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t\r":
                self.i += 1
            elif newlines and c == "\n":
                self.line += 1
                self.i += 1
            elif newlines and c == "#":
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            else:
                return

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.blank(newlines=False)
            c = self.s[self.i]
            if c in "\"'":
                start = self.i
                self.string_end(c)
                parts.append(tomllib.loads("k = " + self.s[start : self.i])["k"])
            else:
                match = _BARE.match(self.s, self.i)
                if match is None:
                    raise ValueError("not a key")
                parts.append(match.group())
                self.i = match.end()
            self.blank(newlines=False)
            if self.i < len(self.s) and self.s[self.i] == ".":
                self.i += 1
                continue
            return tuple(parts)

    def string_end(self, quote: str) -> None:
        """Move past the string that opens at `self.i` (one line, or three quotes)."""
        s = self.s
        triple = s.startswith(quote * 3, self.i)
        self.i += 3 if triple else 1
        while self.i < len(s):
            c = s[self.i]
            if c == "\\" and quote == '"':
                self.line += s[self.i + 1] == "\n"
                self.i += 2
                continue
            if c == "\n":
                self.line += 1
            if triple and s.startswith(quote * 3, self.i):
                self.i += 3
                while self.i < len(s) and s[self.i] == quote:  # up to two quotes end the text
                    self.i += 1
                return
            if not triple and c == quote:
                self.i += 1
                return
            self.i += 1

    def value(self, path: Path) -> None:
        self.blank(newlines=False)
        c = self.s[self.i]
        if c in "\"'":
            self.string_end(c)
        elif c == "[":
            self.i += 1
            index = 0
            while True:
                self.blank(newlines=True)
                if self.s[self.i] == "]":
                    self.i += 1
                    return
                self.record((*path, index))
                self.value((*path, index))
                index += 1
                self.blank(newlines=True)
                if self.s[self.i] == ",":
                    self.i += 1
        elif c == "{":
            self.i += 1
            while True:
                self.blank(newlines=False)
                if self.s[self.i] == "}":
                    self.i += 1
                    return
                inner = (*path, *self.key())
                self.record(inner)
                self.i += 1  # "="
                self.value(inner)
                self.blank(newlines=False)
                if self.s[self.i] == ",":
                    self.i += 1
        else:
            match = _SCALAR_END.search(self.s, self.i)
            self.i = len(self.s) if match is None else match.start()

    def document(self) -> None:
        table: Path = ()
        tables_seen: dict[Path, int] = {}
        while True:
            self.blank(newlines=True)
            if self.i >= len(self.s):
                return
            if self.s[self.i] == "[":
                many = self.s.startswith("[[", self.i)
                self.i += 2 if many else 1
                keys = self.key()
                self.i += 2 if many else 1
                if many:  # an array of tables: each [[x]] is x[n]
                    index = tables_seen.get(keys, 0)
                    tables_seen[keys] = index + 1
                    table = (*keys, index)
                else:
                    table = keys
                self.record(table)
                continue
            path = (*table, *self.key())
            if path in self.lines and self.duplicate is None:
                self.duplicate = (path, self.line)
            self.record(path)
            self.i += 1  # "="
            self.value(path)


def _scanned(text: str) -> _Scanner:
    scanner = _Scanner(text)
    # On anything it does not follow, keep what was found: a lookup falls back to the enclosing
    # table's line.
    with contextlib.suppress(IndexError, ValueError, tomllib.TOMLDecodeError):
        scanner.document()
    return scanner


def key_lines(text: str) -> dict[Path, int]:
    """Map each key path of a valid TOML document to the line it is written on (1-based)."""
    return _scanned(text).lines


def duplicate_key(text: str) -> tuple[Path, int] | None:
    """The first `key = value` path written twice in `text`, and the line of the second one."""
    return _scanned(text).duplicate


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """The line of `path`, else of its nearest enclosing key that has one."""
    for k in range(len(path), 0, -1):
        if path[:k] in lines:
            return lines[path[:k]]
    return None


def path_at_line(text: str, line: int) -> Path:
    """The key path a (possibly broken) line sits under: its table and the key it starts with.

    For syntax errors, where the document cannot be scanned: the last table header above the line
    and, when the line starts with `key =`, that key. Never anything after the `=`.
    """
    rows = text.splitlines()
    table: Path = ()
    for row in rows[: max(line - 1, 0)]:
        header = _HEADER.match(row)
        if header and not row.lstrip().startswith("#"):
            parsed = _parse_key(header.group(1))
            table = parsed if parsed is not None else table
    if 0 < line <= len(rows):
        here = _HEADER.match(rows[line - 1])
        if here:
            parsed = _parse_key(here.group(1))
            return parsed if parsed is not None else table
        match = _ANY_KEY_AT.match(rows[line - 1])
        parsed = _parse_key(match.group(1)) if match else None
        if parsed is not None:
            return (*table, *parsed)
    return table


def _parse_key(text: str) -> tuple[str, ...] | None:
    scanner = _Scanner(text + "\n")
    try:
        keys = scanner.key()
    except (IndexError, ValueError, tomllib.TOMLDecodeError):
        return None
    return keys if scanner.s[scanner.i :].strip() == "" else None


# tomllib's reasons, reworded where they would quote a character or a key of the line.
_SYNTAX_REASONS = (
    ("Invalid value", "invalid value (a string needs quotes)"),
    ("Invalid statement", "not a `key = value` line or a [table] header"),
    ("Cannot overwrite a value", "this key is set twice"),
    ("Cannot declare", "this table is declared twice"),
    ("Cannot redefine namespace", "this table is defined twice"),
    ("Cannot mutate immutable namespace", "a table or array written inline cannot be extended"),
    ("Duplicate inline table key", "a key is set twice in an inline table"),
    ("Illegal character", "a control character in a string"),
    ("Unescaped", "an unescaped backslash in a string"),
    ("Invalid initial character for a key part", "not a key (inline tables stay on one line)"),
    ("Found invalid character", "an unexpected character"),
    ("Unclosed array", "an array is not closed"),
    ("Unclosed inline table", "an inline table is not closed"),
    ("Unterminated string", "a string is not closed"),
    ("Expected '=' after a key", "a key needs `= value`"),
    ("Expected \"'", "a string is not closed"),
    ("Expected '\"", "a string is not closed"),
    ("Expected newline", "one `key = value` per line"),
    ("Expected ']", "a table header is not closed"),
    ("Invalid hex value", "an invalid \\u escape in a string"),
    ("Escaped character is not a Unicode scalar value", "an invalid \\u escape in a string"),
    ("Invalid date or datetime", "an invalid date or time"),
)
_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def syntax_error(text: str, message: str) -> tuple[int, Path, str]:
    """Where and why `tomllib` refused `text` (its `message`), in words that quote nothing of it."""
    reason = next((mine for theirs, mine in _SYNTAX_REASONS if message.startswith(theirs)), None)
    if message.startswith("Cannot overwrite a value"):
        twice = duplicate_key(text)  # tomllib says "at end of document": find the key itself
        if twice is not None:
            return twice[1], twice[0], "set twice"
    at = _AT.search(message)
    if at:
        line = int(at.group(1))
        reason = f"{reason or 'invalid TOML'} (column {at.group(2)})"
    else:  # "(at end of document)"
        line = max(text.count("\n") + (0 if text.endswith("\n") else 1), 1)
    return line, path_at_line(text, line), reason or "invalid TOML"
