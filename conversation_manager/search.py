"""Full-text search, the pure part: the query and hit records, the query parser, and the text
preparation shared by the index and the query (API "Search").

Text is prepared the same way on both sides: NFKC, then every run of a script written without
spaces (Han, Hiragana, Katakana) becomes its overlapping bigrams followed by its last character, so
an SQLite FTS5 `unicode61 remove_diacritics 2` tokenizer (case- and accent-insensitive) can match
any run of two or more characters as a phrase of bigrams, and one character as a prefix. Queries
are parsed here into terms, and every term reaches FTS5 as a quoted string: raw user input never
becomes FTS5 syntax. No I/O; imports neither Flask nor an SDK.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .errors import ConversationError

__all__ = [
    "CJK_CLASS",
    "MAX_LIMIT",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "QuerySyntaxError",
    "SearchHit",
    "SearchQuery",
    "Term",
    "fts_match",
    "parse_query",
    "prepare_text",
]

MAX_LIMIT = 100  # API "Search": `limit` at most 100
MAX_QUERY_CHARS = 500
MAX_TERMS = 16
MIN_TYPED_PREFIX = 3  # the last word is a prefix from this many characters on
# The scripts written without spaces: Han (with the iteration marks), Hiragana, Katakana
# (half-width too).
CJK_CLASS = (
    "\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff66-\uff9f\U00020000-\U0002fa1f"
)
_CJK_RUN = re.compile(f"[{CJK_CLASS}]+")
# What FTS5's unicode61 keeps as token characters, roughly: letters and digits (not `_`).
_ATOM = re.compile(f"(?P<c>[{CJK_CLASS}]+)|(?P<w>[^\\W_{CJK_CLASS}]+)")


class QuerySyntaxError(ConversationError, ValueError):
    """A search query that cannot be parsed (the web layer answers 400 `bad_request`)."""


@dataclass(frozen=True)
class SearchQuery:
    """One search: the text typed, optional filters, and how many hits at most."""

    text: str
    provider: str | None = None
    model: str | None = None
    since: float | None = None  # Unix seconds, inclusive
    until: float | None = None  # Unix seconds, exclusive
    limit: int = 20

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise QuerySyntaxError(f"limit must be between 1 and {MAX_LIMIT}")


@dataclass(frozen=True)
class SearchHit:
    """One result: a conversation name (message_id None) or a message, with its snippet."""

    conversation_id: str
    chat_name: str
    message_id: str | None
    role: str | None
    snippet: str
    highlights: list[tuple[int, int]] = field(default_factory=list)  # code point offsets
    score: float = 0.0
    timestamp: float = 0.0


@dataclass(frozen=True)
class Term:
    """One term of a query: a word or a quoted phrase, as atoms (words and no-space runs).

    `prefix` makes the last word atom match any word that starts with it.
    """

    atoms: tuple[tuple[str, str], ...]  # ("w", word) or ("c", run of a no-space script)
    prefix: bool = False
    phrase: bool = False


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _expand_run(run: str, *, tail: bool) -> list[str]:
    """Bigrams of a no-space run, then (`tail`) its last character alone."""
    if len(run) == 1:
        return [run]
    grams = [run[i : i + 2] for i in range(len(run) - 1)]
    return [*grams, run[-1]] if tail else grams


def prepare_text(text: str) -> str:
    """Return `text` as the index tokenizes it: NFKC, no-space runs as bigrams plus their tail."""
    text = _fold(text)
    if not _CJK_RUN.search(text):
        return text
    return _CJK_RUN.sub(lambda m: " " + " ".join(_expand_run(m.group(), tail=True)) + " ", text)


def _atoms(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        ("c", m.group()) if m.lastgroup == "c" else ("w", m.group())
        for m in _ATOM.finditer(_fold(text))
    )


def parse_query(text: str) -> list[Term]:
    """Parse a query: words (AND), `"quoted phrases"`, `word*` prefixes; the last bare word of 3
    or more characters is a prefix too (search as you type). Raise QuerySyntaxError for what
    cannot be searched."""
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    if "\x00" in text:
        raise QuerySyntaxError("the query holds a NUL character")
    if text.count('"') % 2:
        raise QuerySyntaxError("a quotation mark is not closed")
    terms: list[Term] = []
    pieces = re.findall(r'"([^"]*)"(\*?)|(\S+)', text)
    for number, (quoted, star, bare) in enumerate(pieces):
        if bare:
            if '"' in bare:
                raise QuerySyntaxError("a quotation mark inside a word")
            stem = bare.rstrip("*")
            if "*" in stem:
                raise QuerySyntaxError("`*` may only end a word")
            atoms = _atoms(stem)
            if not atoms:
                if stem:
                    continue  # punctuation alone: nothing to look for in it
                raise QuerySyntaxError("`*` must follow a word")
            # As you type, the last word is a prefix, once it is long enough to say something.
            typing = number == len(pieces) - 1 and len(atoms[-1][1]) >= MIN_TYPED_PREFIX
            terms.append(Term(atoms, prefix=bare.endswith("*") or typing, phrase=False))
        else:
            atoms = _atoms(quoted)
            if atoms:
                terms.append(Term(atoms, prefix=bool(star), phrase=True))
    if not terms:
        raise QuerySyntaxError("the query has no word to search for")
    if len(terms) > MAX_TERMS:
        raise QuerySyntaxError(f"the query has more than {MAX_TERMS} terms")
    return terms


def _term_tokens(term: Term) -> tuple[list[str], bool]:
    """The term's tokens as the index holds them, and whether the last is a prefix."""
    tokens: list[str] = []
    prefix = False
    for number, (kind, value) in enumerate(term.atoms):
        last = number == len(term.atoms) - 1
        if kind == "w":
            tokens.append(value)
            prefix = last and term.prefix
        elif len(value) == 1:
            # One character: any bigram starting with it, or the tail of a run (a prefix);
            # followed by more of the phrase, it must end its run in the text (the tail token).
            tokens.append(value)
            prefix = last
        else:
            tokens.extend(_expand_run(value, tail=not last))
            prefix = False
    return tokens, prefix


def fts_match(terms: list[Term]) -> str:
    """Return the FTS5 MATCH expression: each term one quoted string (a phrase), ANDed."""
    parts = []
    for term in terms:
        tokens, prefix = _term_tokens(term)
        quoted = '"' + " ".join(tokens).replace('"', '""') + '"'
        parts.append(quoted + ("*" if prefix else ""))
    return " AND ".join(parts)
