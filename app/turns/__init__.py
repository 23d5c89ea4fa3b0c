"""Chat turns: plan (pure) -> run (stream, replan once, reply cap) -> finish (save, ledger, last frame);
re-attach, stop, delete while running and crash repair in the service.

Imports no Flask; SDKs only through the provider adapters.
"""

from .candidates import Candidate
from .config import ChatSettings, TurnRequest
from .errors import (
    BadOptionRequest,
    BadTurnRequest,
    ContextTooLongRequest,
    EmptyMessage,
    MessageTooLong,
    NoProvider,
    NoTurn,
    TurnError,
    TurnInProgress,
    UnknownModelRequest,
    UnsupportedInputRequest,
)
from .finish import Admission, Finisher, Outcome, decide, error_data
from .following import StartedTurn
from .model_choice import choose_model
from .plan import TurnPlan, plan_turn, replay_candidate
from .run import TurnRun
from .service import ChatService, TurnLimits

__all__ = [
    "Admission",
    "BadOptionRequest",
    "BadTurnRequest",
    "Candidate",
    "ChatService",
    "ChatSettings",
    "ContextTooLongRequest",
    "EmptyMessage",
    "Finisher",
    "MessageTooLong",
    "NoProvider",
    "NoTurn",
    "Outcome",
    "StartedTurn",
    "TurnError",
    "TurnInProgress",
    "TurnLimits",
    "TurnPlan",
    "TurnRequest",
    "TurnRun",
    "UnknownModelRequest",
    "UnsupportedInputRequest",
    "choose_model",
    "decide",
    "error_data",
    "plan_turn",
    "replay_candidate",
]
