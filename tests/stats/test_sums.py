"""app.stats on plain usage rows: what counts as a turn and as unpriced, UTC days, rounding."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.stats import BadStatsQuery, StatsQuery, parse_query, statistics
from conversation_manager.usage import UsageRow

MIDNIGHT = datetime(2026, 11, 21, tzinfo=UTC).timestamp()


def row(
    kind: str = "reply", at: float = MIDNIGHT, cost: float | None = 0.1, **kw: object
) -> UsageRow:
    fields: dict[str, object] = {
        "kind": kind,
        "conversation_id": "c_1",
        "message_id": "m_1",
        "timestamp": at,
        "provider": "openai",
        "model": "m",
        "status": "completed" if kind == "reply" else None,
        "input_tokens": 10,
        "output_tokens": 2,
        "cost_usd": cost,
    }
    fields.update(kw)
    return UsageRow(**fields)  # type: ignore[arg-type]


def query(group_by: str = "day") -> StatsQuery:
    return StatsQuery(start=0.0, end=MIDNIGHT * 2, group_by=group_by)  # type: ignore[arg-type]


def test_a_running_reply_is_a_turn_but_not_yet_unpriced() -> None:
    out = statistics(
        [row(cost=None, status="in_progress"), row(cost=None, status="failed")], query()
    )
    assert out["totals"]["turns"] == 2 and out["totals"]["unpriced"] == 1


def test_side_calls_count_tokens_and_cost_but_are_no_turns_nor_unpriced() -> None:
    rows = [row("summary", cost=0.5), row("title", cost=None), row(cost=0.25)]
    totals = statistics(rows, query())["totals"]
    assert totals["turns"] == 1 and totals["unpriced"] == 0
    assert totals["input_tokens"] == 30 and totals["output_tokens"] == 6
    assert totals["cost_usd"] == 0.75


def test_days_are_utc_and_sums_are_rounded() -> None:
    rows = [
        row(at=MIDNIGHT - 1, cost=0.1),
        row(at=MIDNIGHT, cost=0.1),
        row(at=MIDNIGHT + 1, cost=0.2),
    ]
    out = statistics(rows, query())
    assert [(g["key"], g["turns"]) for g in out["groups"]] == [("2026-11-20", 1), ("2026-11-21", 2)]
    assert out["groups"][1]["cost_usd"] == 0.3  # not 0.30000000000000004
    assert out["totals"]["cost_usd"] == 0.4


def test_a_model_served_by_two_providers_is_two_groups() -> None:
    rows = [row(provider="openai"), row(provider="openrouter"), row(provider="openrouter")]
    groups = statistics(rows, query("model"))["groups"]
    assert [(g["key"], g["provider"], g["turns"]) for g in groups] == [
        ("m", "openrouter", 2),
        ("m", "openai", 1),
    ]


def test_rows_outside_the_range_are_left_out() -> None:
    q = StatsQuery(start=MIDNIGHT, end=MIDNIGHT + 10)
    out = statistics([row(at=MIDNIGHT - 1), row(at=MIDNIGHT), row(at=MIDNIGHT + 10)], q)
    assert out["totals"]["turns"] == 1


def test_parse_query_defaults_and_refusals() -> None:
    q = parse_query({}, 1_000_000_000.0)
    assert (q.start, q.end, q.group_by) == (1_000_000_000.0 - 30 * 86_400, 1_000_000_000.0, "day")
    assert parse_query({"to": "100"}, 5e9).start == 0.0  # never before the epoch
    assert parse_query({"from": "5", "to": "5"}, 9.0).end == 5.0
    for bad in ({"group_by": "week"}, {"from": "x"}, {"to": "nan"}, {"from": "2", "to": "1"}):
        with pytest.raises(BadStatsQuery):
            parse_query(bad, 9.0)
