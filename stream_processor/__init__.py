"""Neutral provider events -> accumulated reply -> coalesced SSE frames; the turn worker and coordination.

Imports `responses_client.events` only: no Flask objects, no SDK types, nothing of `app`.
"""

from .coordination import (
    Coordination,
    FileCoordination,
    FrameLog,
    FrameWriter,
    HeldLock,
    StopSignal,
    TurnBusy,
    TurnLock,
)
from .frames import (
    KEEP_ALIVE,
    dumps,
    error_data,
    frame_id,
    journal_line,
    parse_journal_line,
    sse_frame,
    sse_raw,
)
from .journal import (
    FINISHED_TURN_TTL_SECONDS,
    TERMINAL_EVENTS,
    Journal,
    conditions_in_use,
)
from .stages import Reply, TextCap, accumulate, coalesce, relay
from .worker import (
    STOP_POLL_SECONDS,
    Cancellable,
    Turn,
    TurnAborted,
    TurnBody,
    TurnControl,
    TurnRegistry,
    TurnsClosing,
)

__all__ = [
    "FINISHED_TURN_TTL_SECONDS",
    "KEEP_ALIVE",
    "STOP_POLL_SECONDS",
    "TERMINAL_EVENTS",
    "Cancellable",
    "Coordination",
    "FileCoordination",
    "FrameLog",
    "FrameWriter",
    "HeldLock",
    "Journal",
    "Reply",
    "StopSignal",
    "TextCap",
    "Turn",
    "TurnAborted",
    "TurnBody",
    "TurnBusy",
    "TurnControl",
    "TurnLock",
    "TurnRegistry",
    "TurnsClosing",
    "accumulate",
    "coalesce",
    "conditions_in_use",
    "dumps",
    "error_data",
    "frame_id",
    "journal_line",
    "parse_journal_line",
    "relay",
    "sse_frame",
    "sse_raw",
]
