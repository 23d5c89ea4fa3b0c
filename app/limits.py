"""Per-user limits that hold across threads and worker processes: turns per minute, turns in flight,
the budget (reserved before the call, settled after) and open event streams.

The rules live here and in `app.ledger`; the records behind them are reached only through
`conversation_manager.store.LimitRecords`. Must not import Flask.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from typing import Literal, Protocol

import conversation_manager as cm
from app import ledger
from app.ledger import BudgetRule, Period, Spend, Unit, period_reset
from conversation_manager.store import HeldSlot, LimitRecords, Reservation

log = logging.getLogger(__name__)

RATE_WINDOW_SECONDS = 60.0

StorageBusy = cm.StorageBusy  # the one StorageBusy (HTTP 503 `storage_busy` with `Retry-After`)

__all__ = [
    "BudgetExceeded",
    "BudgetRule",
    "LimitError",
    "Period",
    "RateLimited",
    "Spend",
    "StorageBusy",
    "StreamGauge",
    "StreamLimits",
    "StreamSlot",
    "TurnAdmission",
    "TurnLimits",
    "Unit",
    "period_reset",
]


class LimitError(Exception):
    """Root of this module's errors."""


class RateLimited(LimitError):
    """Too many turns or streams (HTTP 429 `rate_limited` with `Retry-After`)."""

    def __init__(
        self,
        retry_after: int,
        *,
        reason: Literal["rate", "concurrent", "streams"] = "rate",
    ) -> None:
        super().__init__(f"too many ({reason}); retry after {retry_after} s")
        self.retry_after = retry_after
        self.reason = reason


class BudgetExceeded(LimitError):
    """The user's budget for the period is spent (HTTP 429 `budget_exceeded`)."""

    def __init__(self, resets_at: float, *, unit: Unit, period: Period, limit: float) -> None:
        super().__init__(f"{period} budget of {limit} {unit} spent")
        self.resets_at = resets_at
        self.unit = unit
        self.period = period
        self.limit = limit

    @property
    def retry_after(self) -> int:
        """Seconds until the budget resets (for `Retry-After`)."""
        return max(1, math.ceil(self.resets_at - time.time()))


def _on(limit: int | float | None) -> bool:
    return limit is not None and limit > 0  # None and 0 mean no limit


class TurnAdmission:
    """An accepted turn: its concurrency slot and budget reservation until it settles and ends."""

    def __init__(
        self,
        limits: TurnLimits,
        user: str,
        slot: HeldSlot | None,
        reservation: Reservation | None,
    ) -> None:
        self._limits = limits
        self._user = user
        self._slot = slot
        self._reservation = reservation
        self._settled = False
        self._guard = threading.Lock()

    def settle(self, *, cost_usd: float | None, tokens: int) -> None:
        """Replace the reservation by the real spend; idempotent; never raises (logs)."""
        with self._guard:
            if self._settled:
                return
            self._settled = True
            reservation, self._reservation = self._reservation, None
        budget = self._limits.budget
        if budget is None:
            return  # no budget: nothing reads the spend, so no write on every turn
        # A turn that used nothing (failed before the model answered) spends nothing.
        spent = bool(tokens) or bool(cost_usd)
        if reservation is None and not spent:
            return
        try:
            with self._limits.records.transaction(self._user) as txn:
                if spent:
                    ledger.add_spend(txn, ledger.spend_of(cost_usd, tokens), time.time())
                if reservation is not None:
                    txn.drop_reservation(reservation.id)
        except Exception:  # the turn is over; a lost record must not fail it
            log.warning("spend_not_recorded", exc_info=True)

    def release(self) -> None:
        """Free the concurrency slot and drop an unsettled reservation; idempotent; never raises."""
        with self._guard:
            slot, self._slot = self._slot, None
            reservation, self._reservation = self._reservation, None
        if slot is not None:
            slot.release()
        if reservation is None:
            return
        try:
            with self._limits.records.transaction(self._user) as txn:
                txn.drop_reservation(reservation.id)
        except Exception:  # it expires on its own
            log.warning("reservation_not_dropped", exc_info=True)


class TurnLimits:
    """Turns per minute, turns in flight and the budget of each user; None or 0 = no limit."""

    def __init__(
        self,
        records: LimitRecords,
        *,
        turns_per_minute: int | None,
        concurrent_turns: int | None,
        budget_limit: float | None,
        budget_unit: Unit,
        budget_period: Period,
    ) -> None:
        self.records = records
        self.turns_per_minute = turns_per_minute if _on(turns_per_minute) else None
        self.concurrent_turns = concurrent_turns if _on(concurrent_turns) else None
        self.budget = (
            BudgetRule(float(budget_limit), budget_unit, budget_period)
            if budget_limit is not None
            else None
        )

    def _refuse_budget(self, spend: Spend) -> BudgetExceeded:
        assert self.budget is not None
        log.info("%s budget (%s) reached", self.budget.period, self.budget.unit)
        return BudgetExceeded(
            spend.resets_at,
            unit=self.budget.unit,
            period=self.budget.period,
            limit=self.budget.limit,
        )

    def _rate_refusal(self, stamps: list[float], now: float) -> RateLimited | None:
        limit = self.turns_per_minute
        if limit is None or len(stamps) < limit:
            return None
        oldest = sorted(stamps)[len(stamps) - limit]
        log.info("turn rate limit reached")
        return RateLimited(max(1, math.ceil(oldest + RATE_WINDOW_SECONDS - now)), reason="rate")

    def precheck(self, user: str) -> None:
        """Raise `RateLimited` or `BudgetExceeded` when a turn would surely be refused; record nothing.

        The concurrency slots are not probed: a probe could make a simultaneous `admit` fail.
        """
        if self.turns_per_minute is None and self.budget is None:
            return
        now = time.time()
        view = self.records.view(user)
        if self.budget is not None:
            spend = ledger.read_spend(view, self.budget.period, now)
            if self.budget.exhausted(spend):
                raise self._refuse_budget(spend)
        if self.turns_per_minute is not None:
            refusal = self._rate_refusal(view.turn_times(now - RATE_WINDOW_SECONDS), now)
            if refusal is not None:
                raise refusal

    def admit(
        self, user: str, *, estimated_tokens: int, estimated_cost_usd: float | None
    ) -> TurnAdmission:
        """Accept a turn in one atomic step across threads and processes, or refuse it.

        Accepting takes a concurrency slot (held until `release`), records the turn in the
        per-minute window and reserves its estimate against the budget. A refusal
        (`BudgetExceeded`, `RateLimited` with reason "concurrent" or "rate") records and holds
        nothing.
        """
        if self.turns_per_minute is None and self.budget is None:
            return TurnAdmission(self, user, self._take_slot(user), None)
        slot: HeldSlot | None = None
        try:
            # One lock per user around the slot, the window and the reservations, so that
            # simultaneous admits see each other's turns.
            with self.records.transaction(user) as txn:
                now = time.time()
                reservation = None
                if self.budget is not None:
                    spend = ledger.read_spend(txn, self.budget.period, now)
                    estimate = ledger.spend_of(estimated_cost_usd, estimated_tokens)
                    if not self.budget.admits(spend, txn.reservations(now), estimate):
                        raise self._refuse_budget(spend)
                    reservation = self.budget.reservation(estimate, now)
                slot = self._take_slot(user)
                refusal = self._rate_refusal(txn.turn_times(now - RATE_WINDOW_SECONDS), now)
                if refusal is not None:
                    raise refusal
                if self.turns_per_minute is not None:
                    txn.add_turn(now, forget_before=now - RATE_WINDOW_SECONDS)
                if reservation is not None:
                    txn.reserve(reservation, now=now)
        except BaseException:
            if slot is not None:
                slot.release()
            raise
        return TurnAdmission(self, user, slot, reservation)

    def _take_slot(self, user: str) -> HeldSlot | None:
        if self.concurrent_turns is None:
            return None
        slot = self.records.take_slot("turn", user, self.concurrent_turns)
        if slot is None:
            log.info("concurrent turn limit reached")
            raise RateLimited(1, reason="concurrent")
        return slot

    def add_spend(self, user: str, *, cost_usd: float | None, tokens: int) -> None:
        """Record spend that belongs to no admitted turn (a model-written title); never raises."""
        if self.budget is None or not (tokens or cost_usd):
            return  # no budget: nothing reads the spend
        try:
            with self.records.transaction(user) as txn:
                ledger.add_spend(txn, ledger.spend_of(cost_usd, tokens), time.time())
        except Exception:  # the call is over; a lost record must not fail anything
            log.warning("spend_not_recorded", exc_info=True)

    def spent(self, user: str, *, period: Period) -> Spend:
        """Return the user's spend in the current UTC `period` (from the ledger)."""
        return ledger.Ledger(self.records).spent(user, period=period)


class StreamGauge(Protocol):
    """Told when a stream opens and closes (the `chat_streams_open` metric, app.observe)."""

    def stream_opened(self) -> None: ...

    def stream_closed(self) -> None: ...


class StreamSlot:
    """One open event stream of a user, counted until released."""

    def __init__(self, limits: StreamLimits, held: HeldSlot | None, counted: bool) -> None:
        self._limits = limits
        self._held = held
        self._counted = counted
        self._guard = threading.Lock()

    def release(self) -> None:
        """Stop counting this stream; idempotent, never raises."""
        with self._guard:
            held, self._held = self._held, None
            counted, self._counted = self._counted, False
        if held is not None:
            held.release()
        if counted:
            self._limits._uncount()


class StreamLimits:
    """Caps on open event streams: per user across processes, and per process.

    The per-process cap keeps threads free for short requests (/healthz, logins) when one user
    opens many streams; None or 0 = no limit.
    """

    def __init__(
        self,
        records: LimitRecords,
        *,
        per_user: int | None,
        per_process: int | None,
        gauge: StreamGauge | None = None,
    ) -> None:
        self.records = records
        self.gauge = gauge
        self.per_user = per_user if _on(per_user) else None
        self.per_process = per_process if _on(per_process) else None
        self._open = 0
        self._guard = threading.Lock()
        self._pid = os.getpid()

    @property
    def open_streams(self) -> int:
        """Return how many streams this process has open now."""
        with self._guard:
            return self._open

    def open(self, user: str) -> StreamSlot:
        """Count one more open stream, or raise `RateLimited(retry_after=1, reason="streams")`."""
        with self._guard:
            if self._pid != os.getpid():  # forked after use: the parent's streams are not ours
                self._pid, self._open = os.getpid(), 0
            if self.per_process is not None and self._open >= self.per_process:
                log.info("per-process stream limit reached")
                raise RateLimited(1, reason="streams")
            self._open += 1
            if self.gauge is not None:
                self.gauge.stream_opened()
        try:
            held = None
            if self.per_user is not None:
                held = self.records.take_slot("stream", user, self.per_user)
                if held is None:
                    log.info("per-user stream limit reached")
                    raise RateLimited(1, reason="streams")
        except BaseException:
            self._uncount()
            raise
        return StreamSlot(self, held, counted=True)

    def _uncount(self) -> None:
        with self._guard:
            if self._open > 0 and self.gauge is not None:
                self.gauge.stream_closed()
            self._open = max(0, self._open - 1)
