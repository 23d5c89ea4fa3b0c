"""Turn rate, concurrent-turn and budget limits, shared across processes (S14)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from app import limits
from app.limits import Budget, BudgetExceeded, RateLimited, RateLimiter
from tests.security.conftest import wait_until


def _turns(start, data_dir: str, attempts: int, per_minute: int) -> list[bool]:
    limiter = RateLimiter(data_dir)
    wait_until(start)
    out = []
    for _ in range(attempts):
        try:
            limiter.check_and_record_turn("alice", per_minute=per_minute)
            out.append(True)
        except RateLimited:
            out.append(False)
    return out


def _spend(start, data_dir: str, turns: int) -> None:
    budget = Budget(data_dir)
    wait_until(start)
    for _ in range(turns):
        budget.record("alice", cost_usd=0.01, tokens=10)


def test_exactly_n_turns_accepted_across_two_processes(data_dir: Path, run_processes) -> None:
    n = 10
    results = run_processes(_turns, [(str(data_dir), n + 1, n), (str(data_dir), n + 1, n)])
    assert sum(r for part in results for r in part) == n
    with pytest.raises(RateLimited) as info:
        RateLimiter(data_dir).check_and_record_turn("alice", per_minute=n)
    assert 0 < info.value.retry_after <= 60
    assert info.value.reason == "rate"
    # Another user has a window of their own.
    RateLimiter(data_dir).check_and_record_turn("bob", per_minute=n)


def test_window_slides_after_sixty_seconds(data_dir: Path, monkeypatch) -> None:
    clock = [1_800_000_000.0]
    monkeypatch.setattr(limits.time, "time", lambda: clock[0])
    limiter = RateLimiter(data_dir)
    for _ in range(3):
        limiter.check_and_record_turn("alice", per_minute=3)
        clock[0] += 10
    with pytest.raises(RateLimited) as info:
        limiter.check_and_record_turn("alice", per_minute=3)
    assert info.value.retry_after == 30  # the first turn (30 s ago) leaves the window in 30 s
    clock[0] += 30.5
    limiter.check_and_record_turn("alice", per_minute=3)
    with pytest.raises(RateLimited):
        limiter.check_and_record_turn("alice", per_minute=3)


def test_no_rate_limit_when_disabled(data_dir: Path) -> None:
    limiter = RateLimiter(data_dir)
    for _ in range(50):
        limiter.check_and_record_turn("alice", per_minute=None)
        limiter.check_and_record_turn("alice", per_minute=0)


def test_concurrent_turns() -> None:
    assert limits.DEFAULT_CONCURRENT_TURNS == 2
    assert limits.concurrent_ok(0, 2)
    assert limits.concurrent_ok(1, 2)
    assert not limits.concurrent_ok(2, 2)
    assert limits.concurrent_ok(99, None)
    limits.check_concurrent(1, limit=2)
    with pytest.raises(RateLimited) as info:
        limits.check_concurrent(2)
    assert info.value.reason == "concurrent"
    assert info.value.retry_after >= 1


def test_daily_usd_budget_exceeded_with_reset_time(data_dir: Path) -> None:
    now = dt.datetime(2026, 11, 21, 15, 30, tzinfo=dt.UTC).timestamp()
    budget = Budget(data_dir)
    budget.check("alice", limit=None, now=now)
    budget.check("alice", limit=1.0, unit="usd", period="day", now=now)
    budget.record("alice", cost_usd=0.6, tokens=1000, now=now)
    budget.check("alice", limit=1.0, unit="usd", period="day", now=now)
    budget.record("alice", cost_usd=0.5, tokens=1000, now=now)
    with pytest.raises(BudgetExceeded) as info:
        budget.check("alice", limit=1.0, unit="usd", period="day", now=now)
    assert info.value.resets_at == dt.datetime(2026, 11, 22, tzinfo=dt.UTC).timestamp()
    assert (info.value.unit, info.value.period, info.value.limit) == ("usd", "day", 1.0)
    assert info.value.retry_after >= 1
    # The next UTC day starts afresh; the month still counts both turns.
    tomorrow = now + 24 * 3600
    budget.check("alice", limit=1.0, unit="usd", period="day", now=tomorrow)
    with pytest.raises(BudgetExceeded) as info:
        budget.check("alice", limit=2000, unit="tokens", period="month", now=tomorrow)
    assert info.value.resets_at == dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()
    budget.check("bob", limit=1.0, now=now)


def test_unpriced_turns_count_tokens_not_dollars(data_dir: Path) -> None:
    budget = Budget(data_dir)
    budget.record("alice", cost_usd=None, tokens=500)
    spend = budget.spent("alice", period="day")
    assert (spend.usd, spend.tokens, spend.unpriced_turns) == (0.0, 500, 1)
    budget.check("alice", limit=0.01, unit="usd")
    with pytest.raises(BudgetExceeded):
        budget.check("alice", limit=500, unit="tokens")
    with pytest.raises(ValueError):
        budget.check("alice", limit=1, unit="eur")  # type: ignore[arg-type]


def test_month_rolls_over_in_december(data_dir: Path) -> None:
    now = dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC).timestamp()
    assert limits.period_reset("month", now) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp()
    assert limits.period_reset("day", now) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp()


def test_budget_records_from_two_processes_lose_nothing(data_dir: Path, run_processes) -> None:
    run_processes(_spend, [(str(data_dir), 15), (str(data_dir), 15)])
    spend = Budget(data_dir).spent("alice", period="month")
    assert spend.tokens == 300
    assert spend.usd == pytest.approx(0.30)


def test_damaged_counter_files_do_not_lock_users_out(data_dir: Path) -> None:
    RateLimiter(data_dir).check_and_record_turn("alice", per_minute=5)
    Budget(data_dir).record("alice", cost_usd=1.0, tokens=1)
    for path in (data_dir / ".app" / "limits").glob("*.json"):
        path.write_text("{not json")
    RateLimiter(data_dir).check_and_record_turn("alice", per_minute=5)
    Budget(data_dir).check("alice", limit=0.5)
    Budget(data_dir).record("alice", cost_usd=1.0, tokens=1)
    data = json.loads((data_dir / ".app" / "limits" / "usage-alice.json").read_text())
    assert set(data) == {"day", "month"}


def test_damaged_usage_structure_is_reset(data_dir: Path) -> None:
    path = data_dir / ".app" / "limits" / "usage-alice.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"day": [], "month": {"2026-11": 5}}')
    budget = Budget(data_dir)
    budget.check("alice", limit=1.0, period="month")
    budget.record("alice", cost_usd=2.0, tokens=1)
    with pytest.raises(BudgetExceeded):
        budget.check("alice", limit=1.0, period="month")
