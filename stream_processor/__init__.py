"""Neutral provider events -> accumulated reply -> coalesced SSE frames; the turn worker and its journal.

Knows neither Flask objects nor SDK types: it sees duck-typed neutral events and plain callables.
"""

from .journal import (
    FINISHED_TURN_TTL_SECONDS,
    TERMINAL_EVENTS,
    Journal,
    TurnPaths,
    finished_turn_available,
    follow,
    journal_text,
    last_frame,
    read_header,
)
from .stages import (
    INTERNAL_MESSAGE,
    INTERRUPTED_MESSAGE,
    KEEP_ALIVE,
    Reply,
    accumulate,
    coalesce,
    relay,
    sse_frame,
)
from .worker import (
    STOP_POLL_SECONDS,
    Turn,
    TurnAborted,
    TurnBody,
    TurnBusy,
    TurnControl,
    TurnRegistry,
    acquire_turn_lock,
    turn_is_live,
)

__all__ = [
    "FINISHED_TURN_TTL_SECONDS",
    "INTERNAL_MESSAGE",
    "INTERRUPTED_MESSAGE",
    "KEEP_ALIVE",
    "STOP_POLL_SECONDS",
    "TERMINAL_EVENTS",
    "Journal",
    "Reply",
    "Turn",
    "TurnAborted",
    "TurnBody",
    "TurnBusy",
    "TurnControl",
    "TurnPaths",
    "TurnRegistry",
    "accumulate",
    "acquire_turn_lock",
    "coalesce",
    "finished_turn_available",
    "follow",
    "journal_text",
    "last_frame",
    "read_header",
    "relay",
    "sse_frame",
    "turn_is_live",
]
