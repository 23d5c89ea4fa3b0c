"""What the model receives: a chained response id (with later messages as text), or the branch's
history replayed and fitted to the window (a reusable summary standing for its oldest part), and the
offline token counts it is fitted with.

Pure functions over conversation records; imports no Flask and no SDK.
"""

from app.context.fitting import context_budget, holds_newest
from app.context.plan import chain_point, plan_context
from app.context.records import ContextMode, ContextPlan, MessageState, PlannedMessage
from app.context.replay import history_turns
from app.context.summaries import (
    SUMMARY_PREFIX,
    SUMMARY_RESERVE_TOKENS,
    reusable_summaries,
    summary_text_cap,
    summary_tokens,
    text_summary_tokens,
    trim_summary,
)
from app.context.tokens import (
    TokenCounter,
    calibration,
    counter_for,
    encoding_for_model,
    estimate_tokens,
    token_record,
)
from conversation_manager.models import CHAINABLE_STATUSES

__all__ = [
    "CHAINABLE_STATUSES",
    "SUMMARY_PREFIX",
    "SUMMARY_RESERVE_TOKENS",
    "ContextMode",
    "ContextPlan",
    "MessageState",
    "PlannedMessage",
    "TokenCounter",
    "calibration",
    "chain_point",
    "context_budget",
    "counter_for",
    "encoding_for_model",
    "estimate_tokens",
    "history_turns",
    "holds_newest",
    "plan_context",
    "reusable_summaries",
    "summary_text_cap",
    "summary_tokens",
    "text_summary_tokens",
    "token_record",
    "trim_summary",
]
