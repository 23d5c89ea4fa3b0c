"""What the model receives, as pure functions: chain or replay, the window budget, fitting."""

from __future__ import annotations

from typing import Any

import conversation_manager as cm
from app.context import (
    TokenCounter,
    chain_point,
    context_budget,
    history_turns,
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


def _chain(*texts: str) -> cm.Conversation:
    """A conversation whose messages alternate user/assistant with these texts (no response ids)."""
    pairs = list(zip(texts[::2], texts[1::2], strict=True))
    return conversation(*pairs, rid=None)


def test_fitting_drops_the_oldest_turns_and_keeps_the_newest_message():
    conv = _chain("a" * 400, "b" * 400, "c" * 40, "d" * 40)
    counter = TokenCounter()
    base = counter.text("new") + counter.text(conv.instructions)
    budget = base + 2 * counter.text("c" * 40)
    plan = plan_context(conv, "m_a1", "new", provider="fake", stateful=False, counter=counter,
                        window=budget + 1024, output_limits=())  # fmt: skip
    assert plan.budget == budget
    assert plan.history == history_turns(conv.messages[2:]) and plan.trimmed_messages == 2
    assert [m.state for m in plan.messages] == ["dropped", "dropped", "sent", "sent"]
    assert plan.estimated_input_tokens == budget
    # Nothing fits: the history goes, the new message alone is sent.
    tiny = plan_context(conv, "m_a1", "new", provider="fake", stateful=False, counter=counter,
                        window=base + 1024 - 1)  # fmt: skip
    assert tiny.history == [] and tiny.trimmed_messages == 4


def test_fitting_never_starts_with_an_orphaned_answer():
    conv = _chain("a" * 400, "b" * 40, "c" * 40, "d" * 40)
    counter = TokenCounter()
    budget = counter.text("new") + counter.text(conv.instructions) + 3 * counter.text("b" * 40)
    plan = plan_context(conv, "m_a1", "new", provider="fake", stateful=False, counter=counter,
                        window=budget + 1024)  # fmt: skip
    assert plan.history[0]["role"] == "user" and plan.history == history_turns(conv.messages[2:])


def test_a_small_window_replays_only_what_fits():
    conv = conversation(*[("q" * 2000, "a" * 2000)] * 5)
    plan = plan_context(
        conv, "m_a4", "newest", provider="fake", stateful=False, window=3000, output_limits=(500,)
    )
    assert plan.input[-1] == {"role": "user", "content": "newest"}
    assert plan.trimmed_messages > 0 and plan.input[0]["role"] == "user"
    assert plan.input_tokens("Be brief.") <= context_budget(3000, output_limits=(500,))
