"""The shapes a TOML value may take (a table, known keys, a bool, a number, a list of strings),
each check failing at the key's own path.

A base for a file's checker: the subclass's `fail(path, reason)` raises its own error with the
line. Reasons never quote the value. Imports only the standard library and `toml_lines`.
"""

from __future__ import annotations

import math
import re
from typing import Any, NoReturn

from responses_client.toml_lines import Path


class TomlChecker:
    """Value checks over a parsed document whose key lines are known."""

    def __init__(self, lines: dict[Path, int]) -> None:
        self.lines = lines

    def fail(self, path: Path, reason: str) -> NoReturn:
        """Raise the subclass's error for `path`."""
        raise NotImplementedError

    def table(self, value: Any, path: Path) -> dict[str, Any]:
        """`value` if it is a table."""
        if not isinstance(value, dict):
            self.fail(path, "must be a table")
        return value

    def keys(self, value: dict[str, Any], path: Path, allowed: tuple[str, ...]) -> None:
        """Refuse a key of `value` not in `allowed`, naming its path."""
        for name in value:
            if name not in allowed:
                self.fail((*path, name), f"unknown key (known here: {', '.join(allowed)})")

    def boolean(self, value: Any, path: Path) -> bool:
        """`value` if it is true or false."""
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
        return value

    def number(self, value: Any, path: Path, *, minimum: float = 0.0, above: bool = True) -> float:
        """`value` as a finite float, above (or at least) `minimum`."""
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.fail(path, "must be a number")
        if value < minimum or (above and value == minimum):
            self.fail(path, f"must be {'above' if above else 'at least'} {minimum:g}")
        return float(value)

    def integer(self, value: Any, path: Path, *, minimum: int, maximum: int) -> int:
        """`value` if it is a whole number from `minimum` to `maximum`."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "must be a whole number")
        if not minimum <= value <= maximum:
            self.fail(path, f"must be from {minimum} to {maximum}")
        return value

    def string(self, value: Any, path: Path, pattern: re.Pattern[str], what: str) -> str:
        """`value` if it is a string matching `pattern` (`what` it should be, for the reason)."""
        if not isinstance(value, str):
            self.fail(path, "must be a string")
        if not pattern.match(value):
            self.fail(path, f"is not {what}")
        return value

    def strings(
        self,
        value: Any,
        path: Path,
        *,
        choices: tuple[str, ...] | None = None,
        pattern: re.Pattern[str] | None = None,
        empty: bool,
    ) -> tuple[str, ...]:
        """`value` as a tuple of distinct strings, each one of `choices` or matching `pattern`."""
        if not isinstance(value, list):
            self.fail(path, "must be an array of strings")
        if not value and not empty:
            self.fail(path, "must not be empty")
        out: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail((*path, i), "must be a string")
            if choices is not None and item not in choices:
                self.fail((*path, i), f"must be one of {', '.join(choices)}")
            if pattern is not None and not pattern.match(item):
                self.fail((*path, i), "is not a model id (1 to 200 characters, no spaces)")
            if item in out:
                self.fail((*path, i), "is listed twice")
            out.append(item)
        return tuple(out)
