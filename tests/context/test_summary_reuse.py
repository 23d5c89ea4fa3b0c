"""The planner's rule for summaries and compactions (the interface between context fitting and the
summary writer): when a summary is reused, when the plan asks for one, and a compacted chain."""

from __future__ import annotations

from typing import Any

import conversation_manager as cm
from app.context import SUMMARY_PREFIX, TokenCounter, plan_context
from conversation_manager.models import Summary

COUNTER = TokenCounter()  # the estimate: four characters a token plus four a message


def conversation(n_pairs: int, *, chars: int = 400, stateful_ids: bool = False) -> cm.Conversation:
    messages: list[cm.Message] = []
    parent = None
    for n in range(n_pairs):
        u = cm.Message(id=f"u{n}", parent_id=parent, role="user", text=f"{n}" * chars, timestamp=n)
        a = cm.Message(
            id=f"a{n}", parent_id=u.id, role="assistant", text=f"{n}" * chars, timestamp=n + 0.5,
            status="completed", provider="p", model="m",
            response_id=f"resp_{n}" if stateful_ids else None,
            usage=cm.Usage(input_tokens=5000, output_tokens=100),
        )  # fmt: skip
        messages += [u, a]
        parent = a.id
    return cm.Conversation(
        id="c_1", chat_name="t", created_at=0, last_update=0, model="m", provider="p",
        instructions="Be brief.", messages=messages, current_message_id=parent,
    )  # fmt: skip


def summary(
    covers: list[str], text: str | None = "They talked about numbers.", **kw: Any
) -> Summary:
    return Summary(id="s_" + covers[-1], covers=covers, text=text, created_at=1.0, **kw)


def plan(conv: cm.Conversation, *, window: int = 1024 + 500, **kw: Any) -> Any:
    # Each message is 100 + 4 tokens; the budget (window - 1024) holds about four of them.
    kw.setdefault("stateful", False)
    return plan_context(
        conv, conv.current_message_id, "next", provider="p", window=window, counter=COUNTER, **kw
    )


def test_a_dropped_prefix_without_a_summary_asks_for_one_and_trims() -> None:
    conv = conversation(4)
    p = plan(conv, summaries=True)
    assert p.context_mode == "replayed" and p.trimmed_messages > 0
    dropped = [m.id for m in p.messages if m.state == "dropped"]
    assert dropped == ["u0", "a0", "u1", "a1"]
    # The prefix to summarise leaves room for a summary beside the rest (a quarter of it here).
    assert list(p.needs_summary) == [*dropped, "u2", "a2"]
    assert p.summary is None and p.instructions_suffix == ""


def test_a_summary_of_exactly_the_first_messages_is_reused() -> None:
    conv = conversation(4)
    first = plan(conv, summaries=True)
    conv.summaries = [summary(list(first.needs_summary))]
    p = plan(conv, summaries=True)
    assert p.context_mode == "compacted" and p.summary is conv.summaries[0]
    k = len(first.needs_summary)
    assert [m.state for m in p.messages[:k]] == ["summarised"] * k
    assert all(m.state == "sent" for m in p.messages[k:])
    assert p.instructions_suffix == SUMMARY_PREFIX + "They talked about numbers."
    assert p.input == [
        *({"role": m.role, "content": m.text} for m in conv.messages[k:]),
        {"role": "user", "content": "next"},
    ]
    assert p.needs_summary == () and p.summary_tokens > 0
    assert p.estimated_input_tokens <= p.budget


def test_summaries_off_or_nothing_dropped_leave_a_summary_unused() -> None:
    conv = conversation(4)
    conv.summaries = [summary(["u0", "a0"])]
    assert plan(conv, summaries=False).context_mode == "replayed"
    assert plan(conv, summaries=True, window=100_000).context_mode == "replayed"


def test_an_edit_above_the_summary_invalidates_it() -> None:
    conv = conversation(4)
    conv.summaries = [summary(["u0", "a0", "u1", "a1"])]
    # A new branch from the root: the summary's first message is no longer on the path.
    edited = cm.Message(id="u0b", parent_id=None, role="user", text="9" * 400, timestamp=9)
    rest = [m.model_copy(update={"id": m.id + "b"}) for m in conv.messages[1:]]
    for prev, m in zip([edited, *rest], rest, strict=False):
        m.parent_id = prev.id
    conv.messages += [edited, *rest]
    conv.current_message_id = rest[-1].id
    p = plan(conv, summaries=True)
    assert p.context_mode == "replayed" and p.summary is None and p.needs_summary


def test_a_summary_whose_rest_no_longer_fits_is_not_reused() -> None:
    conv = conversation(4)
    conv.summaries = [summary(["u0", "a0"])]  # too short a prefix for six more messages
    p = plan(conv, summaries=True)
    assert p.context_mode == "replayed" and p.needs_summary


def test_a_provider_compaction_is_used_by_its_own_provider_only() -> None:
    conv = conversation(4)
    items = [{"type": "compaction", "encrypted_content": "opaque"}]
    first = plan(conv, summaries=True)
    conv.summaries = [summary(list(first.needs_summary), text=None, provider="p", model="m",
                              provider_items=items, usage=cm.Usage(output_tokens=50))]  # fmt: skip
    p = plan(conv, summaries=True)
    assert p.context_mode == "compacted" and p.compacted_items == items
    assert p.input[0] == items[0] and p.instructions_suffix == "" and p.previous_response_id is None
    assert p.summary_tokens == 50
    other = plan_context(conv, conv.current_message_id, "next", provider="q", stateful=False,
                         window=1524, counter=COUNTER, summaries=True)  # fmt: skip
    assert other.context_mode == "replayed" and other.compacted_items == []


def test_a_provider_compaction_is_not_sent_to_another_model_of_its_provider() -> None:
    # API "Storage": provider items go back only to the same provider and model (family).
    conv = conversation(4)
    items = [{"type": "compaction", "encrypted_content": "opaque"}]
    first = plan(conv, summaries=True)
    conv.summaries = [summary(list(first.needs_summary), text=None, provider="p", model="m",
                              provider_items=items, usage=cm.Usage(output_tokens=50))]  # fmt: skip
    other = plan(conv, summaries=True, model="m-other")
    assert other.context_mode == "replayed" and other.compacted_items == []
    assert other.summary is None and other.needs_summary
    assert all("encrypted_content" not in str(turn) for turn in other.input)
    assert plan(conv, summaries=True, model="m").compacted_items == items
    # A text summary is plain text: any model may read it.
    conv.summaries = [summary(list(first.needs_summary), provider="p", model="m")]
    assert plan(conv, summaries=True, model="m-other").context_mode == "compacted"


def test_a_long_chain_asks_for_compaction_and_a_compaction_replaces_the_chain() -> None:
    conv = conversation(2, stateful_ids=True)
    chained = plan(conv, stateful=True, window=100_000, compact_after=6000)
    assert chained.context_mode == "chained" and not chained.needs_compaction
    assert [m.state for m in chained.messages] == ["in_chain"] * 4
    over = plan(conv, stateful=True, window=100_000, compact_after=5000)
    assert over.needs_compaction and over.previous_response_id == "resp_1"
    items = [{"type": "compaction", "encrypted_content": "opaque"}]
    conv.summaries = [
        summary(["u0", "a0", "u1", "a1"], text=None, provider="p", model="m", provider_items=items)
    ]
    p = plan(conv, stateful=True, window=100_000, compact_after=5000)
    assert p.context_mode == "compacted" and p.previous_response_id is None
    assert p.input == [*items, {"role": "user", "content": "next"}]
    assert not p.needs_compaction and p.chained_tokens == 0


def test_a_summary_that_ends_past_the_chained_reply_leaves_the_chain() -> None:
    # u0 a0 u1 a1 (p, chained from) u2 a2 (another provider): rule 2 chains from a1.
    conv = conversation(3, stateful_ids=True)
    conv.messages[5].provider = "q"
    conv.summaries = [summary([m.id for m in conv.messages])]  # written for a replay elsewhere
    p = plan(conv, stateful=True, window=100_000, summaries=True)
    assert p.context_mode == "chained" and p.previous_response_id == "resp_1"
    assert [m.state for m in p.messages] == ["in_chain"] * 4 + ["sent"] * 2
