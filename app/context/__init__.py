"""What the model receives: a chained response id (with later messages as text), or the branch's
history replayed and fitted to the window (a reusable summary standing for its oldest part), and the
offline token counts it is fitted with.

Pure functions over conversation records; imports no Flask and no SDK.
"""

from app.context.plan import (
    CHAINABLE_STATUSES,
    SUMMARY_PREFIX,
    SUMMARY_RESERVE_TOKENS,
    ContextMode,
    ContextPlan,
    MessageState,
    PlannedMessage,
    chain_point,
    context_budget,
    history_turns,
    holds_newest,
    plan_context,
)
from app.context.summaries import (
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
