"""Chat turns: check, plan, commit, stream in a worker, save; re-attach, stop, crash repair.

Imports no Flask; SDKs only through the provider adapters.
"""

from .errors import (
    BadTurnRequest,
    EmptyMessage,
    MessageTooLong,
    NoProvider,
    NoTurn,
    TurnError,
    TurnInProgress,
)
from .run import SAFE_MESSAGES, TurnRun
from .service import ChatService, ChatSettings, Limits, StartedTurn, TurnRequest

__all__ = [
    "SAFE_MESSAGES",
    "BadTurnRequest",
    "ChatService",
    "ChatSettings",
    "EmptyMessage",
    "Limits",
    "MessageTooLong",
    "NoProvider",
    "NoTurn",
    "StartedTurn",
    "TurnError",
    "TurnInProgress",
    "TurnRequest",
    "TurnRun",
]
