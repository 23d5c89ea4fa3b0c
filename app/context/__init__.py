"""What the model receives: a chained response id (with later messages as text), or the branch's
history replayed and fitted.

Pure functions over conversation records; imports no Flask and no SDK.
"""

from app.context.plan import (
    CHAINABLE_STATUSES,
    ContextMode,
    ContextPlan,
    chain_point,
    context_budget,
    estimate_tokens,
    fit_history,
    history_turns,
    holds_newest,
    plan_context,
)

__all__ = [
    "CHAINABLE_STATUSES",
    "ContextMode",
    "ContextPlan",
    "chain_point",
    "context_budget",
    "estimate_tokens",
    "fit_history",
    "history_turns",
    "holds_newest",
    "plan_context",
]
