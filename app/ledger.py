"""The budget: the spend ledger per user and UTC day and month, and the rule for reservations.

Reached only through `conversation_manager.store.LimitRecords` (no file paths here). The ledger is
the budget's own, apart from the conversations, so it survives their deletes. Raises nothing of its
own: `app.limits` turns a refusal into `BudgetExceeded`. Must not import Flask.
"""

from __future__ import annotations

import calendar
import datetime as dt
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from conversation_manager.store import (
    LimitRecords,
    LimitTransaction,
    LimitView,
    Reservation,
    SpendTotals,
)

Unit = Literal["usd", "tokens"]
Period = Literal["day", "month"]
UNITS: tuple[Unit, ...] = ("usd", "tokens")
PERIODS: tuple[Period, ...] = ("day", "month")
# A reservation outlives any turn (the upstream read timeout is far shorter); past this, a dead
# worker's reservation stops counting.
RESERVATION_SECONDS = 3600.0


@dataclass(frozen=True)
class Spend:
    """What a user has spent in one period."""

    usd: float
    tokens: int
    unpriced_turns: int
    resets_at: float


def period_key(period: Period, now: float) -> str:
    """Return the ledger bucket of `now` in `period` (an ISO date or month, UTC)."""
    d = dt.datetime.fromtimestamp(now, dt.UTC)
    return d.strftime("%Y-%m-%d") if period == "day" else d.strftime("%Y-%m")


def period_reset(period: Period, now: float | None = None) -> float:
    """Return when the current UTC day or month ends (Unix seconds)."""
    d = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC)
    if period == "day":
        start = dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)
        return (start + dt.timedelta(days=1)).timestamp()
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return float(calendar.timegm((year, month, 1, 0, 0, 0)))


def spend_of(cost_usd: float | None, tokens: int) -> SpendTotals:
    """Return one turn's spend: an unknown price counts the tokens and one unpriced turn."""
    if cost_usd is None:
        return SpendTotals(usd=0.0, tokens=max(0, int(tokens)), unpriced=1)
    return SpendTotals(usd=max(0.0, float(cost_usd)), tokens=max(0, int(tokens)))


def read_spend(view: LimitView, period: Period, now: float) -> Spend:
    """Return what the ledger seen through `view` holds for the current `period`."""
    bucket = view.spent(period, period_key(period, now))
    return Spend(bucket.usd, bucket.tokens, bucket.unpriced, period_reset(period, now))


def add_spend(txn: LimitTransaction, spend: SpendTotals, now: float) -> None:
    """Add one turn's spend to the day and the month of `now`."""
    txn.add_spend([(p, period_key(p, now)) for p in PERIODS], spend)


class Ledger:
    """Per-user spend per UTC day and month, in dollars and tokens, shared by every process."""

    def __init__(self, records: LimitRecords) -> None:
        self.records = records

    def spent(self, user: str, *, period: Period, now: float | None = None) -> Spend:
        """Return the user's spend in the current UTC `period`."""
        now = time.time() if now is None else now
        return read_spend(self.records.view(user), period, now)

    def record(
        self, user: str, *, cost_usd: float | None, tokens: int, now: float | None = None
    ) -> None:
        """Add one finished turn's cost (None = price unknown) and tokens to the day and month."""
        now = time.time() if now is None else now
        with self.records.transaction(user) as txn:
            add_spend(txn, spend_of(cost_usd, tokens), now)


@dataclass(frozen=True)
class BudgetRule:
    """A spending limit per user, in one unit, per UTC day or month."""

    limit: float
    unit: Unit = "usd"
    period: Period = "day"

    def __post_init__(self) -> None:
        if self.unit not in UNITS or self.period not in PERIODS:
            raise ValueError("budget unit must be usd or tokens, period day or month")

    def amount(self, usd: float, tokens: int) -> float:
        """Return a spend in this rule's unit."""
        return usd if self.unit == "usd" else float(tokens)

    def exhausted(self, spend: Spend) -> bool:
        """Tell whether the period's spend has reached the limit (every turn is refused)."""
        return self.amount(spend.usd, spend.tokens) >= self.limit

    def admits(self, spend: Spend, reserved: list[Reservation], estimate: SpendTotals) -> bool:
        """Tell whether a turn estimated at `estimate` may start beside the `reserved` ones.

        Turns in flight must fit the limit together with this one. A turn alone may start while
        the limit is not reached even if its estimate (input plus the whole output cap) is more
        than what is left: it can go over by at most its own cost, as the README says.
        """
        if self.exhausted(spend):
            return False
        if not reserved:
            return True
        held = sum(self.amount(r.usd, r.tokens) for r in reserved)
        used = self.amount(spend.usd, spend.tokens)
        return used + held + self.amount(estimate.usd, estimate.tokens) <= self.limit

    def reservation(self, estimate: SpendTotals, now: float) -> Reservation:
        """Return a new reservation of `estimate` that expires on its own after a while."""
        return Reservation(
            id=secrets.token_hex(8),
            usd=estimate.usd,
            tokens=estimate.tokens,
            expires_at=now + RESERVATION_SECONDS,
        )
