"""What a turn with a summary or compaction call settles in the budget's ledger: the reply's spend
plus the call's; a turn any part of which has no known price counts as unpriced (its cost is
unknown overall), with the known costs beside the mark, never as a priced turn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import conversation_manager as cm
import responses_client as rc
from app import ledger
from app.turns import ChatSettings
from app.turns.compaction import ContextUpkeep, SpendingAdmission
from responses_client.adapters.fake import FakeProvider
from responses_client.pricing import Quote


class Inner:
    """An admission that records what it settles (idempotent, as the limits' own)."""

    def __init__(self) -> None:
        self.settled: list[tuple[float | None, int]] = []

    def settle(self, *, cost_usd: float | None, tokens: int) -> None:
        if not self.settled:
            self.settled.append((cost_usd, tokens))

    def release(self) -> None:
        pass


def upkeep(tmp_path: Path, *spent: tuple[float | None, int]) -> ContextUpkeep:
    settings = ChatSettings(default_model="m", default_provider="fake", instructions="")
    keeper = ContextUpkeep(
        cm.JsonConversationStore(tmp_path / "data", lock_timeout=1.0),
        rc.ProviderRegistry.of([FakeProvider(name="fake")]),
        settings,
        lambda *a, **k: Quote(None, None),
    )
    keeper.spent.extend(spent)
    return keeper


def ledger_of(inner: Inner, extra: list[dict[str, Any]]) -> ledger.SpendTotals:
    """What the ledger would hold: the turn's settle and the spend of no turn beside it."""
    rows = [ledger.spend_of(c, t) for c, t in inner.settled if c is not None or t]
    rows += [ledger.spend_of(e["cost_usd"], e["tokens"]) for e in extra]
    return ledger.SpendTotals(
        usd=sum(r.usd for r in rows),
        tokens=sum(r.tokens for r in rows),
        unpriced=sum(r.unpriced for r in rows),
    )


def test_an_unpriced_reply_with_a_priced_summary_is_an_unpriced_turn(tmp_path: Path) -> None:
    inner, extra = Inner(), []
    admission = SpendingAdmission(
        inner, upkeep(tmp_path, (0.002, 42)), spend=lambda **kw: extra.append(kw)
    )
    admission.settle(cost_usd=None, tokens=11)
    admission.settle(cost_usd=None, tokens=11)  # idempotent: the known cost is not added twice
    assert inner.settled == [(None, 11)]  # the unpriced mark, with the reply's tokens
    assert extra == [{"cost_usd": 0.002, "tokens": 42}]  # the known cost beside it
    total = ledger_of(inner, extra)
    assert (total.usd, total.tokens, total.unpriced) == (0.002, 53, 1)


def test_a_priced_reply_with_an_unpriced_summary_is_an_unpriced_turn(tmp_path: Path) -> None:
    inner, extra = Inner(), []
    admission = SpendingAdmission(
        inner, upkeep(tmp_path, (None, 42)), spend=lambda **kw: extra.append(kw)
    )
    admission.settle(cost_usd=0.01, tokens=11)
    total = ledger_of(inner, extra)
    assert (total.usd, total.tokens, total.unpriced) == (0.01, 53, 1)


def test_without_the_ledgers_spend_the_turn_is_still_unpriced(tmp_path: Path) -> None:
    inner = Inner()
    SpendingAdmission(inner, upkeep(tmp_path, (0.002, 42))).settle(cost_usd=None, tokens=11)
    assert inner.settled == [(None, 53)]  # never a priced turn


def test_priced_parts_sum_and_a_reply_that_spent_nothing_is_no_unpriced_part(
    tmp_path: Path,
) -> None:
    inner, extra = Inner(), []
    admission = SpendingAdmission(
        inner, upkeep(tmp_path, (0.002, 42)), spend=lambda **kw: extra.append(kw)
    )
    admission.settle(cost_usd=0.01, tokens=11)
    assert inner.settled == [(0.012, 53)] and extra == []
    # A reply failed before any answer (no tokens, no price) beside a priced summary.
    inner, extra = Inner(), []
    admission = SpendingAdmission(
        inner, upkeep(tmp_path, (0.002, 42)), spend=lambda **kw: extra.append(kw)
    )
    admission.settle(cost_usd=None, tokens=0)
    assert inner.settled == [(0.002, 42)] and extra == []
    # Nothing spent at all: the reservation goes, nothing is recorded.
    inner = Inner()
    SpendingAdmission(inner, upkeep(tmp_path)).settle(cost_usd=None, tokens=0)
    assert inner.settled == [(None, 0)]
