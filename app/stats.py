"""Usage statistics (API "Statistics"): read the query, sum the usage rows into groups and totals.

Pure: the rows come from `ConversationStore.usage_rows`; no Flask, no I/O. A reply counts as one
turn whatever its status; `cost_usd` sums the known costs and `unpriced` counts the finished
replies whose price is unknown (never priced at 0). Summary and title calls belong to no reply:
their tokens and cost count under the model that made them, but they are not turns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from conversation_manager.usage import UsageRow

GroupBy = Literal["day", "provider", "model"]
GROUP_BYS: tuple[str, ...] = get_args(GroupBy)
DEFAULT_DAYS = 30
DAY_SECONDS = 86_400.0
COST_DECIMALS = 10  # float sums of many small costs: round away the binary noise
TOKEN_FIELDS = (
    "input_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)

__all__ = [
    "DEFAULT_DAYS",
    "GROUP_BYS",
    "BadStatsQuery",
    "GroupBy",
    "StatsQuery",
    "parse_query",
    "statistics",
]


class BadStatsQuery(ValueError):
    """A `/stats` parameter that cannot be read (the web layer answers 400 `bad_request`)."""


@dataclass(frozen=True)
class StatsQuery:
    """The half-open time range [start, end) in Unix seconds, and how rows are grouped."""

    start: float
    end: float
    group_by: GroupBy = "day"


def _seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise BadStatsQuery(f"{name} must be Unix seconds") from None
    if not math.isfinite(value) or value < 0:
        raise BadStatsQuery(f"{name} must be Unix seconds")
    return value


def parse_query(args: Mapping[str, str], now: float) -> StatsQuery:
    """Read `from`, `to` and `group_by` (defaults: the last 30 days up to `now`, by day)."""
    group_by = args.get("group_by") or "day"
    if group_by not in GROUP_BYS:
        raise BadStatsQuery("group_by is one of day, provider, model")
    raw_from, raw_to = args.get("from"), args.get("to")
    end = _seconds("to", raw_to) if raw_to not in (None, "") else now
    start = (
        _seconds("from", raw_from)
        if raw_from not in (None, "")
        else max(0.0, end - DEFAULT_DAYS * DAY_SECONDS)
    )
    if start > end:
        raise BadStatsQuery("from is after to")
    return StatsQuery(start=start, end=end, group_by=group_by)  # type: ignore[arg-type]


def day_of(timestamp: float) -> str:
    """The UTC day of `timestamp` as `YYYY-MM-DD`."""
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")


@dataclass
class _Sums:
    turns: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    unpriced: int = 0

    def add(self, row: UsageRow) -> None:
        for name in TOKEN_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(row, name))
        if row.cost_usd is not None:
            self.cost += row.cost_usd
        if row.kind != "reply":
            return
        self.turns += 1
        # A reply still running has no price yet: unpriced only once it has finished.
        if row.cost_usd is None and row.status != "in_progress":
            self.unpriced += 1

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"turns": self.turns}
        out.update({name: getattr(self, name) for name in TOKEN_FIELDS})
        out["cost_usd"] = round(self.cost, COST_DECIMALS)
        out["unpriced"] = self.unpriced
        return out


def _key_of(group_by: GroupBy) -> Callable[[UsageRow], tuple[str, ...]]:
    if group_by == "day":
        return lambda row: (day_of(row.timestamp),)
    if group_by == "provider":
        return lambda row: (row.provider,)
    # A model name can be served by several providers: each pair is its own group.
    return lambda row: (row.model, row.provider)


def statistics(rows: Iterable[UsageRow], query: StatsQuery) -> dict[str, Any]:
    """The `/stats` answer: the rows within the query's range summed per group and in total.

    Groups by day come in date order; by provider or model, the most used first. A model group
    also names its `provider`.
    """
    key_of = _key_of(query.group_by)
    groups: dict[tuple[str, ...], _Sums] = {}
    totals = _Sums()
    for row in rows:
        if not query.start <= row.timestamp < query.end:
            continue
        groups.setdefault(key_of(row), _Sums()).add(row)
        totals.add(row)
    if query.group_by == "day":
        order = sorted(groups)
    else:
        order = sorted(groups, key=lambda k: (-groups[k].turns, -groups[k].cost, k))
    answered = []
    for key in order:
        entry: dict[str, Any] = {"key": key[0]}
        if query.group_by == "model":
            entry["provider"] = key[1]
        entry.update(groups[key].as_json())
        answered.append(entry)
    return {
        "from": query.start,
        "to": query.end,
        "group_by": query.group_by,
        "groups": answered,
        "totals": totals.as_json(),
    }
