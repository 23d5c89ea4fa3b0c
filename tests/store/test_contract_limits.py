"""Contract of `LimitRecords` (conversation_manager.store, section "limits"), for every backend.

Each backend passes the same tests: reads of a new user, a transaction's all-or-nothing changes,
forgetting old turns and expired reservations, the ledger buckets, slots and their release, the
user lock (no lost update, `StorageBusy` when not had in time) and refused names.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import conversation_manager as cm
from conversation_manager.store import LimitRecords, Reservation, SpendTotals

NOW = 1_800_000_000.0

MakeRecords = Callable[..., LimitRecords]


@pytest.fixture(params=["json"])
def make_records(request: pytest.FixtureRequest, data_dir: Path) -> MakeRecords:
    """Return a factory of records over one shared backing store (`lock_timeout` may be given)."""
    if request.param == "json":
        from conversation_manager.json.limits import JsonLimitRecords

        def make(lock_timeout: float = 5.0) -> LimitRecords:
            return JsonLimitRecords(data_dir, lock_timeout=lock_timeout)

        return make
    raise AssertionError(request.param)


@pytest.fixture
def records(make_records: MakeRecords) -> LimitRecords:
    return make_records()


def _reservation(rid: str, *, usd: float = 0.5, tokens: int = 50, ttl: float = 60) -> Reservation:
    return Reservation(id=rid, usd=usd, tokens=tokens, expires_at=NOW + ttl)


def test_a_new_user_has_no_records(records: LimitRecords) -> None:
    view = records.view("alice")
    assert view.turn_times(0) == []
    assert view.spent("day", "2027-01-15") == SpendTotals(0.0, 0, 0)
    assert view.reservations(NOW) == []


def test_a_transaction_commits_all_its_changes(records: LimitRecords) -> None:
    with records.transaction("alice") as txn:
        txn.add_turn(NOW, forget_before=NOW - 60)
        txn.reserve(_reservation("r1"), now=NOW)
        txn.add_spend([("day", "2027-01-15"), ("month", "2027-01")], SpendTotals(0.25, 30, 1))
        # Its own changes are visible inside the transaction.
        assert txn.turn_times(NOW - 60) == [NOW]
        assert [r.id for r in txn.reservations(NOW)] == ["r1"]
        assert txn.spent("day", "2027-01-15") == SpendTotals(0.25, 30, 1)
    view = records.view("alice")
    assert view.turn_times(NOW - 60) == [NOW]
    assert view.reservations(NOW) == [_reservation("r1")]
    assert view.spent("day", "2027-01-15") == SpendTotals(0.25, 30, 1)
    assert view.spent("month", "2027-01") == SpendTotals(0.25, 30, 1)
    assert view.spent("day", "2027-01-16") == SpendTotals()
    # Each user has records of their own.
    other = records.view("bob")
    assert other.turn_times(0) == [] and other.reservations(NOW) == []
    assert other.spent("day", "2027-01-15") == SpendTotals()


def test_a_transaction_that_raises_changes_nothing(records: LimitRecords) -> None:
    with records.transaction("alice") as txn:
        txn.add_turn(NOW - 1, forget_before=NOW - 60)
        txn.add_spend([("day", "2027-01-15")], SpendTotals(1.0, 10, 0))
    with pytest.raises(RuntimeError), records.transaction("alice") as txn:
        txn.add_turn(NOW, forget_before=NOW - 60)
        txn.reserve(_reservation("r1"), now=NOW)
        txn.add_spend([("day", "2027-01-15")], SpendTotals(5.0, 500, 0))
        raise RuntimeError("refused")
    view = records.view("alice")
    assert view.turn_times(0) == [NOW - 1]
    assert view.reservations(NOW) == []
    assert view.spent("day", "2027-01-15") == SpendTotals(1.0, 10, 0)


def test_turns_since_and_forgetting_old_ones(records: LimitRecords) -> None:
    with records.transaction("alice") as txn:
        for t in (NOW - 100, NOW - 50, NOW - 10):
            txn.add_turn(t, forget_before=NOW - 1000)
    assert records.view("alice").turn_times(NOW - 60) == [NOW - 50, NOW - 10]
    assert records.view("alice").turn_times(0) == [NOW - 100, NOW - 50, NOW - 10]
    with records.transaction("alice") as txn:
        txn.add_turn(NOW, forget_before=NOW - 60)
    # What is older than `forget_before` may be gone; what is newer must stay.
    assert records.view("alice").turn_times(NOW - 60) == [NOW - 50, NOW - 10, NOW]


def test_reservations_expire_and_drop(records: LimitRecords) -> None:
    with records.transaction("alice") as txn:
        txn.reserve(_reservation("short", ttl=10), now=NOW)
        txn.reserve(_reservation("long", ttl=3600), now=NOW)
    assert {r.id for r in records.view("alice").reservations(NOW)} == {"short", "long"}
    assert [r.id for r in records.view("alice").reservations(NOW + 10)] == ["long"]
    with records.transaction("alice") as txn:
        txn.drop_reservation("long")
        txn.drop_reservation("never-made")  # gone already: nothing happens
    assert [r.id for r in records.view("alice").reservations(NOW)] == ["short"]


def test_spend_adds_up_per_bucket(records: LimitRecords) -> None:
    for _ in range(3):
        with records.transaction("alice") as txn:
            txn.add_spend([("day", "2027-01-15"), ("month", "2027-01")], SpendTotals(0.1, 7, 0))
    with records.transaction("alice") as txn:
        txn.add_spend([("day", "2027-01-16"), ("month", "2027-01")], SpendTotals(0.0, 5, 1))
    view = records.view("alice")
    assert view.spent("day", "2027-01-15").tokens == 21
    assert view.spent("day", "2027-01-15").usd == pytest.approx(0.3)
    assert view.spent("day", "2027-01-16") == SpendTotals(0.0, 5, 1)
    month = view.spent("month", "2027-01")
    assert (month.tokens, month.unpriced) == (26, 1) and month.usd == pytest.approx(0.3)


def test_slots_are_counted_per_user_and_kind(records: LimitRecords) -> None:
    first = records.take_slot("turn", "alice", 2)
    second = records.take_slot("turn", "alice", 2)
    assert first is not None and second is not None
    assert records.take_slot("turn", "alice", 2) is None
    assert records.take_slot("turn", "alice", 0) is None
    # Another user and another kind have slots of their own.
    bob = records.take_slot("turn", "bob", 2)
    stream = records.take_slot("stream", "alice", 2)
    assert bob is not None and stream is not None
    first.release()
    first.release()  # idempotent
    again = records.take_slot("turn", "alice", 2)
    assert again is not None
    assert records.take_slot("turn", "alice", 2) is None
    for slot in (second, bob, stream, again):
        slot.release()
    # A higher limit gives more slots, a lower one fewer, over the same records.
    held = [records.take_slot("turn", "alice", 3) for _ in range(3)]
    assert all(h is not None for h in held) and records.take_slot("turn", "alice", 1) is None


def test_slots_are_exclusive_across_threads(records: LimitRecords) -> None:
    got: list[object] = []
    guard = threading.Lock()
    start = threading.Barrier(16)

    def take() -> None:
        start.wait(10)
        slot = records.take_slot("turn", "alice", 3)
        if slot is not None:
            with guard:
                got.append(slot)

    threads = [threading.Thread(target=take) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(got) == 3


def test_transactions_of_one_user_lose_no_update(make_records: MakeRecords) -> None:
    start = threading.Barrier(8)

    def spend() -> None:
        records = make_records()  # its own instance, as another process would have
        start.wait(10)
        for _ in range(10):
            with records.transaction("alice") as txn:
                txn.add_spend([("day", "d")], SpendTotals(0.0, 1, 0))
                txn.add_turn(NOW, forget_before=0)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    view = make_records().view("alice")
    assert view.spent("day", "d").tokens == 80
    assert len(view.turn_times(0)) == 80


def test_a_lock_not_had_in_time_is_storage_busy(make_records: MakeRecords) -> None:
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with make_records().transaction("alice"):
            holding.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        impatient = make_records(lock_timeout=0.2)
        with pytest.raises(cm.StorageBusy), impatient.transaction("alice"):
            pass
        # Another user's records are not locked.
        with impatient.transaction("bob") as txn:
            txn.add_turn(NOW, forget_before=0)
    finally:
        done.set()
        holder.join(10)


@pytest.mark.parametrize("name", ["", "ab", "../alice", "Alice", "a/b", "x" * 33, None])
def test_invalid_user_names_are_refused(records: LimitRecords, name: object) -> None:
    with pytest.raises(cm.InvalidId):
        records.view(name)  # type: ignore[arg-type]
    with pytest.raises(cm.InvalidId), records.transaction(name):  # type: ignore[arg-type]
        pass
    with pytest.raises(cm.InvalidId):
        records.take_slot("turn", name, 2)  # type: ignore[arg-type]
