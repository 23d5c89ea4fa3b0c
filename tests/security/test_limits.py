"""Per-user turn rate, turns in flight, budget and open streams, across threads and processes (S14).

Over the JSON records: admission is one atomic step (20 threads or 2 processes with a limit of 2
get exactly 2), a dead process frees its slot, the budget reserves before and settles after, a
refused or prechecked turn records nothing, and the stream caps hold per user and per process.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app import limits
from app.ledger import Ledger, period_reset
from app.limits import BudgetExceeded, RateLimited, StreamLimits, TurnAdmission, TurnLimits
from conversation_manager.json.limits import JsonLimitRecords
from tests.security.conftest import wait_until

USER = "alice"


def make_limits(
    data_dir: str | Path,
    *,
    per_minute: int | None = None,
    concurrent: int | None = None,
    budget: float | None = None,
    unit: str = "tokens",
    period: str = "day",
) -> TurnLimits:
    return TurnLimits(
        JsonLimitRecords(data_dir),
        turns_per_minute=per_minute,
        concurrent_turns=concurrent,
        budget_limit=budget,
        budget_unit=unit,  # type: ignore[arg-type]
        budget_period=period,  # type: ignore[arg-type]
    )


def admit(turns: TurnLimits, tokens: int = 10, cost: float | None = 0.0) -> TurnAdmission:
    return turns.admit(USER, estimated_tokens=tokens, estimated_cost_usd=cost)


def race(n: int, fn: Callable[[], Any]) -> list[Any]:
    """Call `fn` from `n` threads released together; return the results (exceptions included)."""
    start = threading.Barrier(n)
    out: list[Any] = []
    guard = threading.Lock()

    def run() -> None:
        start.wait(30)
        try:
            result: Any = fn()
        except Exception as exc:  # the refusals are results here
            result = exc
        with guard:
            out.append(result)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(out) == n
    return out


def accepted(results: list[Any]) -> list[TurnAdmission]:
    return [r for r in results if isinstance(r, TurnAdmission)]


# --- turns per minute ------------------------------------------------------------------------


def _rate_worker(start: Any, data_dir: str, attempts: int, per_minute: int) -> list[bool]:
    turns = make_limits(data_dir, per_minute=per_minute)
    wait_until(start)
    out = []
    for _ in range(attempts):
        try:
            admit(turns).release()
            out.append(True)
        except RateLimited:
            out.append(False)
    return out


def test_exactly_n_turns_accepted_across_two_processes(data_dir: Path, run_processes) -> None:
    n = 10
    results = run_processes(_rate_worker, [(str(data_dir), n + 1, n), (str(data_dir), n + 1, n)])
    assert sum(r for part in results for r in part) == n
    turns = make_limits(data_dir, per_minute=n)
    with pytest.raises(RateLimited) as info:
        admit(turns)
    assert 0 < info.value.retry_after <= 60 and info.value.reason == "rate"
    with pytest.raises(RateLimited):
        turns.precheck(USER)
    # Another user has a window of their own.
    turns.admit("bob", estimated_tokens=1, estimated_cost_usd=None).release()


def test_window_slides_after_sixty_seconds(data_dir: Path, monkeypatch) -> None:
    clock = [1_800_000_000.0]
    monkeypatch.setattr(limits.time, "time", lambda: clock[0])
    turns = make_limits(data_dir, per_minute=3)
    for _ in range(3):
        admit(turns).release()
        clock[0] += 10
    with pytest.raises(RateLimited) as info:
        admit(turns)
    assert info.value.retry_after == 30  # the first turn (30 s ago) leaves the window in 30 s
    clock[0] += 30.5
    admit(turns).release()
    with pytest.raises(RateLimited):
        admit(turns)


def test_no_limit_when_disabled(data_dir: Path) -> None:
    for off in (None, 0):
        turns = make_limits(data_dir, per_minute=off, concurrent=off, budget=None)
        held = [admit(turns) for _ in range(50)]
        turns.precheck(USER)
        for a in held:
            a.settle(cost_usd=1.0, tokens=100)
            a.release()
    # With no limit at all nothing is written per turn.
    assert not list((data_dir / ".app" / "limits").glob("*.json"))


def test_precheck_records_nothing(data_dir: Path) -> None:
    turns = make_limits(data_dir, per_minute=2, budget=1000)
    for _ in range(20):
        turns.precheck(USER)
    assert Ledger(turns.records).spent(USER, period="day").tokens == 0
    admit(turns).release()
    admit(turns).release()
    with pytest.raises(RateLimited):
        turns.precheck(USER)


def test_a_refused_turn_uses_up_no_turn_of_the_minute(data_dir: Path) -> None:
    turns = make_limits(data_dir, per_minute=2, concurrent=1)
    running = admit(turns)
    for _ in range(5):  # refused while the first turn runs
        with pytest.raises(RateLimited) as info:
            admit(turns)
        assert info.value.reason == "concurrent"
    running.release()
    admit(turns).release()  # the second of the minute: the refusals counted nothing
    with pytest.raises(RateLimited) as info:
        admit(turns)
    assert info.value.reason == "rate"


# --- turns in flight -------------------------------------------------------------------------


def test_twenty_threads_with_a_limit_of_two_get_exactly_two(data_dir: Path) -> None:
    turns = make_limits(data_dir, per_minute=100, concurrent=2, budget=10**9)
    results = race(20, lambda: admit(turns))
    held = accepted(results)
    assert len(held) == 2
    refused = [r for r in results if not isinstance(r, TurnAdmission)]
    assert all(isinstance(r, RateLimited) and r.reason == "concurrent" for r in refused)
    assert all(r.retry_after >= 1 for r in refused)
    # Only the two accepted turns were recorded in the window.
    assert len(turns.records.view(USER).turn_times(0)) == 2
    held[0].release()
    held[0].release()  # idempotent
    again = admit(turns)  # the released slot is taken again
    with pytest.raises(RateLimited):
        admit(turns)
    again.release()
    held[1].release()


def _hold_worker(start: Any, data_dir: str, done: Any, attempts: int, concurrent: int) -> int:
    """Admit `attempts` turns at once from threads; hold them until every process has tried."""
    turns = make_limits(data_dir, per_minute=1000, concurrent=concurrent)
    wait_until(start)
    held = accepted(race(attempts, lambda: admit(turns)))
    done.wait(60)
    for a in held:
        a.release()
    return len(held)


def test_two_processes_with_a_limit_of_two_get_exactly_two(data_dir: Path, run_processes) -> None:
    done = multiprocessing.get_context("spawn").Barrier(3)
    args = [(str(data_dir), done, 10, 2) for _ in range(3)]
    assert sum(run_processes(_hold_worker, args)) == 2
    # Once released in every process, both slots are free again.
    turns = make_limits(data_dir, concurrent=2)
    both = [admit(turns), admit(turns)]
    for a in both:
        a.release()


def _hold_until_killed(data_dir: str, ready: Any) -> None:
    turns = make_limits(data_dir, concurrent=1)
    held = turns.admit(USER, estimated_tokens=1, estimated_cost_usd=0.0)
    ready.set()
    threading.Event().wait(120)
    held.release()


def test_a_killed_process_frees_its_slot(data_dir: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_until_killed, args=(str(data_dir), ready))
    proc.start()
    try:
        assert ready.wait(60)
        turns = make_limits(data_dir, concurrent=1)
        with pytest.raises(RateLimited):
            admit(turns)
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        admit(turns).release()  # the kernel dropped the dead worker's flock
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(10)


# --- the budget ------------------------------------------------------------------------------


def test_parallel_turns_cannot_overspend_the_budget(data_dir: Path) -> None:
    turns = make_limits(data_dir, budget=100, unit="tokens")
    results = race(20, lambda: admit(turns, tokens=50))
    held = accepted(results)
    assert len(held) == 2
    assert all(isinstance(r, BudgetExceeded) for r in results if r not in held)
    for a in held:
        a.settle(cost_usd=None, tokens=50)
        a.release()
    assert Ledger(turns.records).spent(USER, period="day").tokens == 100
    with pytest.raises(BudgetExceeded):
        turns.precheck(USER)


def _budget_worker(start: Any, data_dir: str, done: Any, attempts: int) -> int:
    turns = make_limits(data_dir, budget=100, unit="tokens")
    wait_until(start)
    held = accepted(race(attempts, lambda: admit(turns, tokens=50)))
    done.wait(60)
    for a in held:
        a.release()
    return len(held)


def test_parallel_turns_from_two_processes_cannot_overspend(data_dir: Path, run_processes) -> None:
    done = multiprocessing.get_context("spawn").Barrier(2)
    assert sum(run_processes(_budget_worker, [(str(data_dir), done, 10)] * 2)) == 2


def test_settle_replaces_the_reservation_by_the_real_spend(data_dir: Path) -> None:
    turns = make_limits(data_dir, budget=100, unit="tokens")
    first = admit(turns, tokens=50)
    assert [r.tokens for r in turns.records.view(USER).reservations(2e9)] == []  # expires
    assert [r.tokens for r in turns.records.view(USER).reservations(0)] == [50]
    with pytest.raises(BudgetExceeded):
        admit(turns, tokens=60)  # 50 held + 60 > 100
    first.settle(cost_usd=0.01, tokens=10)
    first.settle(cost_usd=0.01, tokens=10)  # idempotent
    first.release()
    assert turns.records.view(USER).reservations(0) == []
    spend = Ledger(turns.records).spent(USER, period="day")
    assert (spend.tokens, spend.unpriced_turns) == (10, 0) and spend.usd == pytest.approx(0.01)
    second = admit(turns, tokens=60)
    third = admit(turns, tokens=30)  # 10 spent + 60 held + 30 = 100: fits
    with pytest.raises(BudgetExceeded):
        admit(turns, tokens=1)
    second.release()  # never settled: its reservation is dropped, nothing is spent
    third.release()
    assert turns.records.view(USER).reservations(0) == []
    assert Ledger(turns.records).spent(USER, period="day").tokens == 10


def test_a_lone_turn_may_start_under_the_limit(data_dir: Path) -> None:
    # The estimate (input + the whole output cap) is far above what is left; the turn starts and
    # may go over by its own cost, as before. Once reached, every turn is refused.
    turns = make_limits(data_dir, budget=100, unit="tokens")
    lone = admit(turns, tokens=16_000)
    with pytest.raises(BudgetExceeded):
        admit(turns, tokens=16_000)
    lone.settle(cost_usd=None, tokens=120)
    lone.release()
    with pytest.raises(BudgetExceeded) as info:
        turns.precheck(USER)
    assert (info.value.unit, info.value.period, info.value.limit) == ("tokens", "day", 100)
    with pytest.raises(BudgetExceeded):
        admit(turns, tokens=1)


def test_a_dead_workers_reservation_expires(data_dir: Path, monkeypatch) -> None:
    clock = [1_800_000_000.0]
    monkeypatch.setattr(limits.time, "time", lambda: clock[0])
    turns = make_limits(data_dir, budget=100, unit="tokens")
    admit(turns, tokens=90)  # never settled nor released: its worker died
    with pytest.raises(BudgetExceeded):
        admit(turns, tokens=20)
    clock[0] += 2 * 3600
    admit(turns, tokens=20).release()


def test_usd_budget_with_unknown_prices(data_dir: Path) -> None:
    turns = make_limits(data_dir, budget=0.10, unit="usd")
    held = [admit(turns, tokens=10_000, cost=None) for _ in range(5)]  # unknown price: 0 usd
    priced = admit(turns, tokens=10, cost=0.10)  # 0 + 0 + 0.10 <= 0.10
    with pytest.raises(BudgetExceeded):
        admit(turns, tokens=10, cost=0.01)
    for a in held:
        a.settle(cost_usd=None, tokens=500)
        a.release()
    priced.settle(cost_usd=0.04, tokens=10)
    priced.release()
    spend = Ledger(turns.records).spent(USER, period="day")
    assert (spend.tokens, spend.unpriced_turns) == (2510, 5) and spend.usd == pytest.approx(0.04)
    turns.precheck(USER)


def test_daily_budget_resets_at_midnight_utc_and_the_month_counts_on(
    data_dir: Path, monkeypatch
) -> None:
    now = dt.datetime(2026, 11, 21, 15, 30, tzinfo=dt.UTC).timestamp()
    clock = [now]
    monkeypatch.setattr(limits.time, "time", lambda: clock[0])
    day = make_limits(data_dir, budget=1.0, unit="usd", period="day")
    for cost in (0.6, 0.5):
        a = admit(day, cost=0.01)
        a.settle(cost_usd=cost, tokens=1000)
        a.release()
    with pytest.raises(BudgetExceeded) as info:
        day.precheck(USER)
    assert info.value.resets_at == dt.datetime(2026, 11, 22, tzinfo=dt.UTC).timestamp()
    assert info.value.retry_after >= 1
    clock[0] = now + 24 * 3600  # the next UTC day starts afresh
    day.precheck(USER)
    month = make_limits(data_dir, budget=2000, unit="tokens", period="month")
    with pytest.raises(BudgetExceeded) as info:
        month.precheck(USER)
    assert info.value.resets_at == dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()
    month.admit("bob", estimated_tokens=10, estimated_cost_usd=None).release()


def test_month_rolls_over_in_december() -> None:
    now = dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC).timestamp()
    assert period_reset("month", now) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp()
    assert period_reset("day", now) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp()


def test_bad_budget_settings_are_refused(data_dir: Path) -> None:
    with pytest.raises(ValueError):
        make_limits(data_dir, budget=1, unit="eur")
    with pytest.raises(ValueError):
        make_limits(data_dir, budget=1, period="week")


def _spend_worker(start: Any, data_dir: str, turns: int) -> None:
    ledger = Ledger(JsonLimitRecords(data_dir))
    wait_until(start)
    for _ in range(turns):
        ledger.record(USER, cost_usd=0.01, tokens=10)


def test_spend_from_two_processes_loses_nothing(data_dir: Path, run_processes) -> None:
    run_processes(_spend_worker, [(str(data_dir), 15), (str(data_dir), 15)])
    spend = Ledger(JsonLimitRecords(data_dir)).spent(USER, period="month")
    assert spend.tokens == 300
    assert spend.usd == pytest.approx(0.30)


def test_a_turn_that_used_nothing_spends_nothing(data_dir: Path) -> None:
    turns = make_limits(data_dir, budget=100, unit="tokens")
    a = admit(turns, tokens=50)
    a.settle(cost_usd=None, tokens=0)  # failed before the model answered
    assert turns.records.view(USER).reservations(0) == []
    spend = Ledger(turns.records).spent(USER, period="day")
    assert (spend.tokens, spend.unpriced_turns, spend.usd) == (0, 0, 0.0)
    a.release()


def test_settle_never_raises(data_dir: Path, monkeypatch) -> None:
    turns = make_limits(data_dir, budget=100, unit="tokens")
    a = admit(turns, tokens=10)

    def broken(user: str) -> Any:
        raise OSError("disk gone")

    monkeypatch.setattr(turns.records, "transaction", broken)
    a.settle(cost_usd=None, tokens=5)
    a.release()


# --- the JSON files --------------------------------------------------------------------------


def test_damaged_limit_files_do_not_lock_users_out(data_dir: Path) -> None:
    turns = make_limits(data_dir, per_minute=5, budget=0.5, unit="usd")
    a = admit(turns, cost=0.01)
    a.settle(cost_usd=1.0, tokens=1)
    a.release()
    with pytest.raises(BudgetExceeded):
        turns.precheck(USER)
    for path in (data_dir / ".app" / "limits").glob("*.json"):
        path.write_text("{not json")
    turns.precheck(USER)
    a = admit(turns, cost=0.01)
    a.settle(cost_usd=1.0, tokens=1)
    a.release()
    data = json.loads((data_dir / ".app" / "limits" / "usage-alice.json").read_text())
    assert set(data) == {"day", "month"}
    path = data_dir / ".app" / "limits" / "usage-alice.json"
    path.write_text('{"day": [], "month": {"2026-11": 5}}')
    turns.precheck(USER)


def test_the_window_of_an_older_version_still_counts(data_dir: Path) -> None:
    path = data_dir / ".app" / "limits" / "turns-alice.json"
    path.parent.mkdir(parents=True)
    now = dt.datetime.now(dt.UTC).timestamp()
    path.write_text(json.dumps([now - 5, now - 4]))  # the file format before reservations
    turns = make_limits(data_dir, per_minute=3)
    admit(turns).release()
    with pytest.raises(RateLimited):
        admit(turns)


# --- open event streams ----------------------------------------------------------------------


def _stream_worker(start: Any, data_dir: str, done: Any, attempts: int, per_user: int) -> int:
    streams = StreamLimits(JsonLimitRecords(data_dir), per_user=per_user, per_process=None)
    wait_until(start)
    opened = [
        r for r in race(attempts, lambda: streams.open(USER)) if isinstance(r, limits.StreamSlot)
    ]
    done.wait(60)
    for slot in opened:
        slot.release()
    return len(opened)


def test_streams_per_user_hold_across_two_processes(data_dir: Path, run_processes) -> None:
    done = multiprocessing.get_context("spawn").Barrier(2)
    assert sum(run_processes(_stream_worker, [(str(data_dir), done, 8, 5)] * 2)) == 5
    streams = StreamLimits(JsonLimitRecords(data_dir), per_user=5, per_process=None)
    opened = [streams.open(USER) for _ in range(5)]  # all released again
    with pytest.raises(RateLimited) as info:
        streams.open(USER)
    assert (info.value.reason, info.value.retry_after) == ("streams", 1)
    other = streams.open("bob")  # another user has streams of their own
    for slot in [*opened, other]:
        slot.release()


def test_streams_per_process(data_dir: Path) -> None:
    streams = StreamLimits(JsonLimitRecords(data_dir), per_user=None, per_process=3)
    opened = [streams.open(user) for user in ("alice", "bob", "carol")]
    assert streams.open_streams == 3
    with pytest.raises(RateLimited) as info:
        streams.open("dave")
    assert info.value.reason == "streams"
    opened[0].release()
    opened[0].release()  # idempotent: counted once
    assert streams.open_streams == 2
    opened.append(streams.open("dave"))
    with pytest.raises(RateLimited):
        streams.open("erin")
    for slot in opened:
        slot.release()
    assert streams.open_streams == 0


def test_a_stream_refused_per_user_frees_its_process_count(data_dir: Path) -> None:
    streams = StreamLimits(JsonLimitRecords(data_dir), per_user=1, per_process=2)
    first = streams.open(USER)
    for _ in range(5):
        with pytest.raises(RateLimited):
            streams.open(USER)
    second = streams.open("bob")  # the refusals above hold nothing of the process's two
    assert streams.open_streams == 2
    first.release()
    second.release()


def test_no_stream_limit_when_disabled(data_dir: Path) -> None:
    for off in (None, 0):
        streams = StreamLimits(JsonLimitRecords(data_dir), per_user=off, per_process=off)
        opened = [streams.open(USER) for _ in range(100)]
        for slot in opened:
            slot.release()
