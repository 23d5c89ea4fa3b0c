"""The store Protocols every backend implements (the JSON files today, PostgreSQL later).

One section per kind of state. Each backend passes the same contract suite
(tests/store/test_contract.py and its siblings). Imports neither Flask nor an SDK, and no backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

# --- conversations and their message tree ---------------------------------------------------

# --- accounts, sessions and shares ----------------------------------------------------------

# --- limits: turn rate, concurrency slots, budget reservations ------------------------------

SlotKind = Literal["turn", "stream"]


@dataclass(frozen=True)
class SpendTotals:
    """Spend added up in one ledger bucket (one UTC day or month of one user)."""

    usd: float = 0.0
    tokens: int = 0
    unpriced: int = 0  # turns whose price was unknown: their tokens count, their dollars do not


@dataclass(frozen=True)
class Reservation:
    """Spend held for a turn in flight until it settles, or until `expires_at` (a dead worker's)."""

    id: str
    usd: float
    tokens: int
    expires_at: float


class HeldSlot(Protocol):
    """One of a user's concurrency slots, held until released or until its process dies."""

    def release(self) -> None:
        """Free the slot; idempotent, never raises."""


class LimitView(Protocol):
    """One user's limit records, read."""

    def turn_times(self, since: float) -> list[float]:
        """Return the start times of the accepted turns after `since`."""
        ...

    def spent(self, period: str, key: str) -> SpendTotals:
        """Return the ledger bucket `period`/`key` (all zero when there is none)."""
        ...

    def reservations(self, now: float) -> list[Reservation]:
        """Return the reservations not yet expired at `now`."""
        ...


class LimitTransaction(LimitView, Protocol):
    """One user's limit records, locked against every other transaction of that user.

    The changes take effect together when the transaction's block ends normally, and not at all
    when it raises.
    """

    def add_turn(self, at: float, *, forget_before: float) -> None:
        """Record a turn accepted at `at`; turns before `forget_before` may be forgotten."""

    def reserve(self, reservation: Reservation, *, now: float) -> None:
        """Add a reservation; those expired at `now` may be forgotten."""

    def drop_reservation(self, reservation_id: str) -> None:
        """Remove a reservation (nothing when it is gone already)."""

    def add_spend(self, buckets: Sequence[tuple[str, str]], spend: SpendTotals) -> None:
        """Add `spend` to each (period, key) ledger bucket; the ledger survives conversation deletes."""


class LimitRecords(Protocol):
    """The per-user records behind the turn, stream and budget limits, shared by every process."""

    def view(self, user: str) -> LimitView:
        """Return the user's records for reading only, without a lock (checks that record nothing)."""
        ...

    def transaction(self, user: str) -> AbstractContextManager[LimitTransaction]:
        """Lock the user's records for one atomic change (`StorageBusy` when not had in time)."""
        ...

    def take_slot(self, kind: SlotKind, user: str, limit: int) -> HeldSlot | None:
        """Hold one of the user's `limit` slots of `kind`, or return None when all are held.

        Taking is atomic across threads and processes; a slot is freed by `release` or when the
        process holding it dies, so a crashed worker never keeps one.
        """
        ...
