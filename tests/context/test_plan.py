"""What the model receives, as pure functions: chain or replay, the window budget, fitting."""

from __future__ import annotations

from typing import Any

import conversation_manager as cm
from app.context import (
    chain_point,
    context_budget,
    estimate_tokens,
    fit_history,
    plan_context,
)


def conversation(*pairs: tuple[str, str], status: Any = "completed", rid: str | None = "resp_1"):
    """A conversation of (question, answer) pairs; each answer has a response id."""
    messages: list[cm.Message] = []
    parent = None
    for n, (question, answer) in enumerate(pairs):
        user = cm.Message(id=f"m_u{n}", parent_id=parent, role="user", text=question, timestamp=n)
        reply = cm.Message(
            id=f"m_a{n}",
            parent_id=user.id,
            role="assistant",
            text=answer,
            timestamp=n + 0.5,
            status=status,
            provider="fake",
            response_id=None if rid is None else f"{rid}_{n}",
            usage=cm.Usage(input_tokens=10, output_tokens=5),
        )
        messages += [user, reply]
        parent = reply.id
    return cm.Conversation(
        id="c_1",
        chat_name="t",
        created_at=0.0,
        last_update=0.0,
        model="m",
        provider="fake",
        instructions="Be brief.",
        messages=messages,
        current_message_id=parent,
    )


def test_first_turn_sends_only_the_message():
    plan = plan_context(conversation(), None, "hello", provider="fake", stateful=True)
    assert (plan.input, plan.previous_response_id, plan.context_mode) == ("hello", None, "first")


def test_a_completed_parent_of_the_same_stateful_provider_is_chained():
    conv = conversation(("q", "a"))
    plan = plan_context(conv, "m_a0", "next", provider="fake", stateful=True)
    assert plan.context_mode == "chained" and plan.previous_response_id == "resp_1_0"
    assert plan.input == "next"
    assert plan.chained_tokens == 15  # the chained reply's input + output, for the estimate


def test_no_chain_for_another_provider_a_stateless_one_a_stopped_reply_or_a_missing_id():
    assert chain_point(conversation(("q", "a")), "m_a0", "other", True) is None
    assert chain_point(conversation(("q", "a")), "m_a0", "fake", False) is None
    assert chain_point(conversation(("q", "a"), status="stopped"), "m_a0", "fake", True) is None
    # Older files could hold the string 'None' for a missing id: never sent as previous_response_id.
    broken = conversation(("q", "a"))
    broken.messages[1].response_id = "None"
    assert chain_point(broken, "m_a0", "fake", True) is None
    plan = plan_context(broken, "m_a0", "next", provider="fake", stateful=True)
    assert plan.context_mode == "replayed" and plan.previous_response_id is None


def test_replay_sends_the_branch_as_text_turns():
    conv = conversation(("q1", "a1"), ("q2", "a2"))
    plan = plan_context(conv, "m_a1", "q3", provider="fake", stateful=True, force_replay=True)
    assert plan.context_mode == "replayed" and plan.previous_response_id is None
    assert plan.input == [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2"},
        {"role": "user", "content": "q3"},
    ]


def test_budget_is_the_window_less_the_output_reserved_and_a_margin():
    # window - min(known output limits) - max(1024, 2% of the window)
    assert context_budget(200_000, output_limits=(32_000, 16_000)) == 200_000 - 16_000 - 4_000
    assert context_budget(None, context_tokens=128_000, output_limits=(None,)) == 128_000 - 2_560
    assert context_budget(10_000, output_limits=(1_000,)) == 10_000 - 1_000 - 1_024


def test_fitting_drops_the_oldest_turns_and_keeps_the_newest_message():
    turns = [
        {"role": "user", "content": "a" * 400},
        {"role": "assistant", "content": "b" * 400},
        {"role": "user", "content": "c" * 40},
        {"role": "assistant", "content": "d" * 40},
    ]
    budget = estimate_tokens("new") + estimate_tokens("i") + 2 * estimate_tokens("c" * 40)
    kept, dropped = fit_history(turns, "new", "i", budget)
    assert kept == turns[2:] and dropped == 2
    # Nothing fits: the history goes, the new message alone is sent.
    kept, dropped = fit_history(turns, "new", "i", 0)
    assert kept == [] and dropped == 4


def test_fitting_never_starts_with_an_orphaned_answer():
    turns = [
        {"role": "user", "content": "a" * 400},
        {"role": "assistant", "content": "b" * 40},
        {"role": "user", "content": "c" * 40},
        {"role": "assistant", "content": "d" * 40},
    ]
    budget = estimate_tokens("new") + estimate_tokens("i") + 3 * estimate_tokens("b" * 40)
    kept, _ = fit_history(turns, "new", "i", budget)
    assert kept[0]["role"] == "user" and kept == turns[2:]


def test_a_small_window_replays_only_what_fits():
    conv = conversation(*[("q" * 2000, "a" * 2000)] * 5)
    plan = plan_context(
        conv, "m_a4", "newest", provider="fake", stateful=False, window=3000, output_limits=(500,)
    )
    assert plan.input[-1] == {"role": "user", "content": "newest"}
    assert plan.trimmed_messages > 0 and plan.input[0]["role"] == "user"
    assert plan.input_tokens("Be brief.") <= context_budget(3000, output_limits=(500,))
