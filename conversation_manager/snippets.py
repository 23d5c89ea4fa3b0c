"""Snippets of search hits: where a parsed query matches a text, and a short plain-text window
around the first match with the matches' offsets (API "Search": `snippet`, `highlights`).

Matching here mirrors the index's (case and accents folded, words and prefixes, phrases, no-space
scripts by substring) on the original text, so offsets are code points of the snippet itself.
A snippet's work is bounded by the window around the first match, not by the text: the first
match is found in a fold of the whole text made by C-level string operations in blocks (the same
fold, without the offsets of each character), then only the window around it is folded character
by character. Pure: no I/O; imports neither Flask nor an SDK.
"""

from __future__ import annotations

import bisect
import functools
import re
import sys
import unicodedata
from collections.abc import Iterator

from .search import CJK_CLASS, Term

__all__ = ["SNIPPET_CHARS", "locate", "snippet"]

SNIPPET_CHARS = 160  # the longest snippet, ellipses aside
_LEAD = 50  # characters of context kept before the first match
_WORD = f"[^\\W_{CJK_CLASS}]"
_SPACE = re.compile(r"\s+")
_BLOCK = 2048  # characters folded at once when looking for the first match
_BEFORE, _AFTER = 256, 512  # characters kept around that block for the exact pass (> SNIPPET_CHARS)


@functools.lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _folded(text: str) -> tuple[str, list[int] | None]:
    """Return the folded text and, unless it kept the length, where each folded char came from."""
    if text.isascii():
        return text.lower(), None
    out: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        folded = _fold_char(ch)
        out.append(folded)
        origin.extend([index] * len(folded))
    return "".join(out), origin


def _fold_all(text: str) -> str:
    return "".join(_fold_char(c) for c in text)


@functools.lru_cache(maxsize=256)
def _pattern(term: Term) -> re.Pattern[str]:
    parts = []
    for number, (kind, value) in enumerate(term.atoms):
        last = number == len(term.atoms) - 1
        escaped = re.escape(_fold_all(value))
        if kind == "c":
            parts.append(escaped)
        elif last and term.prefix:
            parts.append(f"(?<!{_WORD}){escaped}{_WORD}*")
        else:
            parts.append(f"(?<!{_WORD}){escaped}(?!{_WORD})")
    return re.compile(r"[\W_]*".join(parts))


@functools.cache
def _marks() -> str:
    """A regex class of every character with a combining class (what `_fold_char` drops)."""
    ranges: list[list[int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.combining(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]"


@functools.lru_cache(maxsize=256)
def _loose(term: Term) -> re.Pattern[str]:
    """`_pattern(term)` for a text whose combining marks were kept: each character may be
    followed by marks. It matches wherever the exact pattern matches the folded text (and maybe
    elsewhere too: a mark is not a word character), so it tells where to look."""
    marks = _marks() + "*"
    parts = []
    for number, (kind, value) in enumerate(term.atoms):
        last = number == len(term.atoms) - 1
        escaped = "".join(re.escape(c) + marks for c in _fold_all(value))
        if kind == "c":
            parts.append(escaped)
        elif last and term.prefix:
            parts.append(f"(?<!{_WORD}){escaped}")
        else:
            parts.append(f"(?<!{_WORD}){escaped}(?!{_WORD})")
    return re.compile(r"[\W_]*".join(parts))


def _block_fold(text: str) -> tuple[str, list[int]]:
    """The text decomposed and case-folded block by block (C-level operations), its combining
    marks kept, and where each block starts in it: what the `_loose` patterns search."""
    out: list[str] = []
    starts: list[int] = []
    length = 0
    for at in range(0, len(text), _BLOCK):
        starts.append(length)
        piece = unicodedata.normalize("NFKD", text[at : at + _BLOCK]).casefold()
        out.append(piece)
        length += len(piece)
    return "".join(out), starts


def _candidates(text: str, terms: list[Term]) -> Iterator[int]:
    """The original offsets of the blocks where a match may start, in order."""
    if text.isascii():
        folded = text.lower()
        starts = list(range(0, len(text), _BLOCK))
        patterns = [_pattern(term) for term in terms]
    else:
        folded, starts = _block_fold(text)
        patterns = [_loose(term) for term in terms]
    at = 0
    while True:
        found = [m.start() for p in patterns if (m := p.search(folded, at)) is not None]
        if not found:
            return
        block = bisect.bisect_right(starts, min(found)) - 1
        yield block * _BLOCK
        if block + 1 >= len(starts):
            return
        at = starts[block + 1]


def _window(text: str, terms: list[Term]) -> list[tuple[int, int]]:
    """The spans from the first match on, exact within at least `_AFTER` characters after it
    (a span starting later may be cut short): what a snippet needs."""
    if len(text) <= _BLOCK + _BEFORE + _AFTER:
        return locate(text, terms)
    for block in _candidates(text, terms):
        low = max(0, block - _BEFORE)
        spans = locate(text[low : block + _BLOCK + _AFTER], terms)
        # A span at the window's very start may be the tail of a word begun before it.
        spans = [(a + low, b + low) for a, b in spans if not (low and a == 0)]
        if spans and spans[0][0] < block + _BLOCK:  # later ones: the next block's window
            return spans
    return []


def locate(text: str, terms: list[Term]) -> list[tuple[int, int]]:
    """Return the sorted, merged [start, end) spans of `text` that the terms match."""
    folded, origin = _folded(text)
    spans: list[tuple[int, int]] = []
    for term in terms:
        for match in _pattern(term).finditer(folded):
            start, end = match.span()
            if start == end:
                continue
            if origin is not None:
                start, end = origin[start], origin[end - 1] + 1
            spans.append((start, end))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def snippet(text: str, terms: list[Term]) -> tuple[str, list[tuple[int, int]]]:
    """Return a window of `text` around its first match, white space collapsed, with the spans
    of the matches inside it (offsets into the returned snippet)."""
    spans = _window(text, terms)
    first = spans[0][0] if spans else 0
    # Context before the first match, but never a window shorter than the text allows.
    start = max(0, min(first - _LEAD, len(text) - SNIPPET_CHARS))
    if start > 0:  # begin at a word when one starts close by
        space = text.find(" ", start, first)
        if 0 <= space < start + 15:
            start = space + 1
    end = min(len(text), start + SNIPPET_CHARS)
    out: list[str] = []
    position: dict[int, int] = {}  # original offset -> snippet offset
    if start > 0:
        out.append("…")
    length = len(out)
    index = start
    for match in _SPACE.finditer(text, start, end):
        for i in range(index, match.start()):
            position[i] = length + i - index
        out.append(text[index : match.start()])
        length += match.start() - index
        position.update(dict.fromkeys(range(match.start(), match.end()), length))
        if length > (1 if start > 0 else 0):
            out.append(" ")
            length += 1
        index = match.end()
    for i in range(index, end):
        position[i] = length + i - index
    out.append(text[index:end])
    length += end - index
    body = "".join(out).rstrip()
    marks: list[tuple[int, int]] = []
    for span_start, span_end in spans:
        if span_end <= start or span_start >= end:
            continue
        s, e = max(span_start, start), min(span_end, end)
        a, b = position[s], position[e - 1] + 1
        b = min(b, len(body))
        if a < b:
            marks.append((a, b))
    if end < len(text):
        body += "…"
    return body, marks
