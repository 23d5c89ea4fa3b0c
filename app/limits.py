"""Per-user turn rate, concurrent-turn and spending limits that hold across worker processes.

State is small JSON files under `CHAT_DATA_DIR/.app/limits/`, changed under a file lock. Must not
import Flask.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from app.accounts import validate_username
from conversation_manager.json.state_files import app_dir, locked, read_json, write_json_atomic

log = logging.getLogger(__name__)

DEFAULT_TURNS_PER_MINUTE = 20
DEFAULT_CONCURRENT_TURNS = 2
DEFAULT_LOCK_TIMEOUT = 10.0
RATE_WINDOW_SECONDS = 60.0
# Day buckets older than this many days and month buckets older than this many months are dropped.
_KEEP_DAYS = 40
_KEEP_MONTHS = 13

Unit = Literal["usd", "tokens"]
Period = Literal["day", "month"]


class LimitError(Exception):
    """Root of this module's errors."""


class RateLimited(LimitError):
    """Too many turns (HTTP 429 `rate_limited` with `Retry-After`)."""

    def __init__(self, retry_after: int, *, reason: Literal["rate", "concurrent"] = "rate") -> None:
        super().__init__(f"too many turns ({reason}); retry after {retry_after} s")
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


class StorageBusy(LimitError):
    """A lock was not had in time (HTTP 503 `storage_busy` with `Retry-After`)."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("storage busy")
        self.retry_after = retry_after


def concurrent_ok(count: int, limit: int | None) -> bool:
    """Tell whether one more turn may start when `count` turns of the user already run."""
    return limit is None or limit <= 0 or count < limit


def check_concurrent(count: int, *, limit: int | None = DEFAULT_CONCURRENT_TURNS) -> None:
    """Raise `RateLimited(reason="concurrent")` when `count` live turns already reach `limit`."""
    if not concurrent_ok(count, limit):
        raise RateLimited(1, reason="concurrent")


class RateLimiter:
    """Sliding 60-second window of accepted turns per user, shared by all processes on disk."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> None:
        self.dir = app_dir(data_dir, "limits")
        self.lock_timeout = lock_timeout

    def check_and_record_turn(
        self, user: str, *, per_minute: int | None = DEFAULT_TURNS_PER_MINUTE
    ) -> None:
        """Accept one turn (recording it) or raise `RateLimited(retry_after)`; None/0 = no limit.

        Exactly `per_minute` turns are accepted in any 60 s window, whichever processes ask.
        """
        validate_username(user)
        if per_minute is None or per_minute <= 0:
            return
        path = self.dir / f"turns-{user}.json"
        with locked(path, self.lock_timeout, StorageBusy):
            now = time.time()
            try:
                data = read_json(path)
            except ValueError:
                data = None  # a damaged counter file is reset, not fatal
            stamps = [
                t
                for t in (data if isinstance(data, list) else [])
                if isinstance(t, int | float) and now - RATE_WINDOW_SECONDS < t <= now
            ]
            if len(stamps) >= per_minute:
                oldest = sorted(stamps)[len(stamps) - per_minute]
                retry_after = max(1, math.ceil(oldest + RATE_WINDOW_SECONDS - now))
                log.info("turn rate limit reached for %s", user)
                raise RateLimited(retry_after)
            stamps.append(now)
            # A lost counter after a power cut costs nothing worth an fsync per turn.
            write_json_atomic(path, stamps, durable=False)


@dataclass(frozen=True)
class Spend:
    """What a user has spent in one period."""

    usd: float
    tokens: int
    unpriced_turns: int
    resets_at: float


def _period_key(period: Period, now: float) -> str:
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


class Budget:
    """Per-user spending per UTC day and month (dollars and tokens), checked before each turn."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> None:
        self.dir = app_dir(data_dir, "limits")
        self.lock_timeout = lock_timeout

    def _path(self, user: str) -> Path:
        return self.dir / f"usage-{validate_username(user)}.json"

    def _load(self, path: Path) -> dict[str, Any]:
        try:
            data = read_json(path)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {}
        for period in ("day", "month"):
            buckets = data.get(period)
            data[period] = {
                k: v
                for k, v in (buckets.items() if isinstance(buckets, dict) else ())
                if isinstance(v, dict)
            }
        return data

    def spent(self, user: str, *, period: Period, now: float | None = None) -> Spend:
        """Return the user's spend in the current UTC `period`."""
        now = time.time() if now is None else now
        bucket = self._load(self._path(user))[period].get(_period_key(period, now), {})
        return Spend(
            usd=float(bucket.get("usd", 0.0)),
            tokens=int(bucket.get("tokens", 0)),
            unpriced_turns=int(bucket.get("unpriced", 0)),
            resets_at=period_reset(period, now),
        )

    def check(
        self,
        user: str,
        *,
        limit: float | None,
        unit: Unit = "usd",
        period: Period = "day",
        now: float | None = None,
    ) -> None:
        """Raise `BudgetExceeded(resets_at)` once the spend reaches `limit` (None = no budget).

        Turns whose price is unknown count their tokens but no dollars.
        """
        if unit not in ("usd", "tokens") or period not in ("day", "month"):
            raise ValueError("unit must be usd or tokens, period day or month")
        validate_username(user)
        if limit is None:
            return
        spend = self.spent(user, period=period, now=now)
        used = spend.usd if unit == "usd" else spend.tokens
        if used >= limit:
            log.info("%s budget (%s) reached for %s", period, unit, user)
            raise BudgetExceeded(spend.resets_at, unit=unit, period=period, limit=limit)

    def record(
        self, user: str, *, cost_usd: float | None, tokens: int, now: float | None = None
    ) -> None:
        """Add one finished turn's cost (None = price unknown) and tokens to the day and month."""
        path = self._path(user)
        now = time.time() if now is None else now
        with locked(path, self.lock_timeout, StorageBusy):
            data = self._load(path)
            for period in ("day", "month"):
                key = _period_key(period, now)  # type: ignore[arg-type]
                bucket = data[period].setdefault(key, {"usd": 0.0, "tokens": 0, "unpriced": 0})
                if cost_usd is None:
                    bucket["unpriced"] = int(bucket.get("unpriced", 0)) + 1
                else:
                    bucket["usd"] = float(bucket.get("usd", 0.0)) + max(0.0, float(cost_usd))
                bucket["tokens"] = int(bucket.get("tokens", 0)) + max(0, int(tokens))
            # ISO keys sort by date, so the newest buckets are the last ones.
            data["day"] = dict(sorted(data["day"].items())[-_KEEP_DAYS:])
            data["month"] = dict(sorted(data["month"].items())[-_KEEP_MONTHS:])
            write_json_atomic(path, data)
