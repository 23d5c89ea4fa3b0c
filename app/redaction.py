"""Secrets and share tokens never reach a log line: the configured secrets, `redact()`, and the
log-record factory that applies it to every record of the process.

Imports no Flask, and of ours only `responses_client.secret_values` (the one reading of a URL's
user-info), so the turns and the providers can redact upstream text too.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from responses_client.secret_values import url_credentials

REDACTED = "[redacted]"
# API.md "Secrets": variables named like this hold secrets, whatever else they are called.
SECRET_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET")
SECRET_NAMES = frozenset({"SECRET_KEY", "CHAT_METRICS_TOKEN"})
FRAGMENT = 8  # no run of this many characters of a secret may appear in a log line

_SHARE_PATH_RE = re.compile(r"/share/([^\s?#\"']+)")
_KEY_LIKE_RE = re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_*.-]{6,}|(?i:bearer)\s+\S+")

_WORD_RE = re.compile(rf"\S{{{FRAGMENT},}}")

_lock = threading.Lock()
_secrets: set[str] = set()
# Every 8-character piece of a secret: those without whitespace are looked up per word (a set
# lookup per window, linear in the text); the rare pieces with whitespace by one search each.
_pieces: frozenset[str] = frozenset()
_spaced_re: re.Pattern[str] | None = None


def secrets_in(values: Mapping[str, Any], names: Iterable[str] = ()) -> list[str]:
    """Return the secret values among `values` (an environment, or the settings), by name.

    Every `*_API_KEY`, `*_TOKEN` and `*_SECRET` value, `SECRET_KEY`, `CHAT_METRICS_TOKEN`, every
    variable in `names` (the providers file's `api_key_env`), and the user-info part of any
    URL-valued setting (a base URL, `CHAT_DATABASE_URL`).
    """
    named = {n.upper() for n in names}
    found: list[str] = []
    for name, value in values.items():
        if not isinstance(name, str) or not isinstance(value, str) or not value:
            continue
        upper = name.upper()
        if upper in SECRET_NAMES or upper in named or upper.endswith(SECRET_SUFFIXES):
            found.append(value)
        elif upper.endswith("_URL"):
            found += url_credentials(value)
    return found


def add_secrets(values: Iterable[Any]) -> None:
    """Add secret values to redact from now on (values shorter than 8 characters are ignored)."""
    global _pieces, _spaced_re  # noqa: PLW0603 - one process-wide redaction set, like logging
    with _lock:
        for raw in values:
            # A generated key is bytes: redact it as a traceback or a repr would show it.
            value = repr(raw)[2:-1] if isinstance(raw, bytes) else raw
            if isinstance(value, str) and len(value) >= FRAGMENT:
                _secrets.add(value)
        pieces = {s[i : i + FRAGMENT] for s in _secrets for i in range(len(s) - FRAGMENT + 1)}
        spaced = sorted(p for p in pieces if any(c.isspace() for c in p))
        _pieces = frozenset(pieces.difference(spaced))
        alternatives = "|".join(re.escape(p) for p in spaced)
        _spaced_re = re.compile(alternatives) if spaced else None


def configured_secrets() -> tuple[str, ...]:
    """Return the secret values this process redacts (for code that checks upstream text)."""
    with _lock:
        return tuple(sorted(_secrets))


def redact_secrets(text: str) -> str:
    """Replace every word holding a configured secret (or an 8-character piece of one).

    Linear in the text: a log line is redacted on every turn, and a regex of all the pieces
    wrapped in `\\S*` backtracked over each word (16 ms for one turn's log line).
    """
    pieces, spaced = _pieces, _spaced_re
    if spaced is not None:
        text = _redact_spaced(text, spaced)
    if not pieces:
        return text

    def word(match: re.Match[str]) -> str:
        w = match.group()
        held = any(w[i : i + FRAGMENT] in pieces for i in range(len(w) - FRAGMENT + 1))
        return REDACTED if held else w

    return _WORD_RE.sub(word, text)


def _redact_spaced(text: str, pattern: re.Pattern[str]) -> str:
    """Replace each match of a piece holding whitespace, with the words it touches."""
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    for start, end in reversed(spans):
        text = text[:start] + REDACTED + text[end:]
    return text


def share_path_for_logs(match: re.Match[str]) -> str:
    """Replace a share token in a path with the first 8 hex digits of its sha256."""
    digest = hashlib.sha256(unquote(match.group(1)).encode()).hexdigest()[:8]
    return f"/share/{digest}"


def redact(text: str) -> str:
    """Remove configured secrets (and any 8-character piece of them), key-like words and share
    tokens from a text bound for a log or a user."""
    text = _KEY_LIKE_RE.sub(REDACTED, redact_secrets(text))
    return _SHARE_PATH_RE.sub(share_path_for_logs, text)


_exception_formatter = logging.Formatter()


def _redacting_record_factory(previous: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the template only
            message = str(record.msg)
        record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters reuse exc_text, so the traceback (and its __cause__ chain, which can
            # hold upstream text) is rendered here once, redacted.
            record.exc_text = redact(_exception_formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    factory.chat_redacting = True  # type: ignore[attr-defined]
    return factory


def install_log_redaction(secret_values: Iterable[Any] = ()) -> None:
    """Redact `secret_values` (and those added before) and share tokens from every log record.

    A record factory, not a filter: logger filters do not see records propagated from child
    loggers, and handlers (gunicorn's, pytest's) are added by others.
    """
    add_secrets(secret_values)
    current = logging.getLogRecordFactory()
    if not getattr(current, "chat_redacting", False):
        logging.setLogRecordFactory(_redacting_record_factory(current))
