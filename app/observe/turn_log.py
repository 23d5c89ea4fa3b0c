"""The one log line per finished turn (API "Operations"): `turn {json}` on standard error, through the
logger gunicorn's error log shows when there is one.

Never message text, keys or share tokens: the line is built from a fixed set of fields, the user is
an HMAC of the name. Imports nothing of ours but the report; no Flask.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
from typing import Any, TextIO

from .report import TurnReport

__all__ = ["LOGGER_NAME", "TurnLog", "install_handler", "turn_line", "user_digest"]

LOGGER_NAME = "chat.turn"
# Under gunicorn its error logger's handlers write to the error log (`errorlog`, "-" = stderr).
GUNICORN_ERROR_LOGGER = "gunicorn.error"
FIELDS = (
    "event",
    "user",
    "conversation_id",
    "message_id",
    "provider",
    "model",
    "context_mode",
    "status",
    "error_code",
    "input_tokens",
    "cached_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
    "time_to_first_text_ms",
    "total_ms",
    "fallback_from",
)

log = logging.getLogger(__name__)


def user_digest(secret_key: str | bytes, user: str) -> str:
    """16 hex digits of HMAC-SHA256(secret key, user name): the same user, the same digest."""
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(key, user.encode(), hashlib.sha256).hexdigest()[:16]


def turn_line(report: TurnReport, secret_key: str | bytes) -> dict[str, Any]:
    """The fields of a turn's log line, in the contract's order."""
    usage = report.usage or {}
    fallen = [
        {"provider": ref.get("provider"), "model": ref.get("model"), "code": ref.get("code")}
        for ref in report.fallback_from or ()
    ]
    line: dict[str, Any] = {
        "event": "turn",
        "user": user_digest(secret_key, report.user),
        "conversation_id": report.conversation_id,
        "message_id": report.message_id,
        "provider": report.provider,
        "model": report.model,
        "context_mode": report.context_mode,
        "status": report.status,
        "error_code": report.error_code,
        "input_tokens": int(usage.get("input_tokens") or 0),
        "cached_tokens": int(usage.get("cached_tokens") or 0),
        "output_tokens": int(usage.get("output_tokens") or 0),
        "reasoning_tokens": int(usage.get("reasoning_tokens") or 0),
        "cost_usd": report.cost_usd,
        "time_to_first_text_ms": report.latency_ms.get("first_token"),
        "total_ms": report.latency_ms.get("total"),
        "fallback_from": fallen or None,
    }
    return line


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever `sys.stderr` is when the record is emitted."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass  # StreamHandler.__init__ sets it; the property always answers sys.stderr


def install_handler() -> logging.Logger:
    """The turn logger, writing INFO lines where gunicorn's error log goes (else to stderr); once."""
    logger = logging.getLogger(LOGGER_NAME)
    if getattr(logger, "chat_turn_handlers", False):
        return logger
    gunicorn = logging.getLogger(GUNICORN_ERROR_LOGGER)
    if gunicorn.handlers:
        for handler in gunicorn.handlers:
            logger.addHandler(handler)
    else:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # one line, even when the root logger has handlers too
    logger.chat_turn_handlers = True  # type: ignore[attr-defined]
    return logger


class TurnLog:
    """The observer that writes each finished turn's line."""

    def __init__(self, secret_key: str | bytes, logger: logging.Logger | None = None) -> None:
        self._secret_key = secret_key
        self._logger = logger or install_handler()

    def turn_finished(self, report: TurnReport) -> None:
        """Write the turn's line; never raises."""
        try:
            text = json.dumps(turn_line(report, self._secret_key), separators=(",", ":"))
            self._logger.info("turn %s", text)
        except Exception:  # a log line must never fail a turn
            log.warning("turn_line_not_written", exc_info=True)
