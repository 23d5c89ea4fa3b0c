"""Rules 1-3 across providers as pure functions: the hybrid chain, stateless replies, the window, and
the conversation's derived `last_response_id` and set-back model."""

from __future__ import annotations

from typing import Any

import conversation_manager as cm
from app.context import chain_point, context_budget, holds_newest, plan_context
from conversation_manager.models import PREVIOUS_CHOICE, STATELESS_MARK


def user(mid: str, parent: str | None, text: str = "") -> cm.Message:
    return cm.Message(id=mid, parent_id=parent, role="user", text=text or mid, timestamp=1.0)


def answer(
    mid: str, parent: str, provider: str, *, status: Any = "completed", **kw: Any
) -> cm.Message:
    kw.setdefault("response_id", f"resp_{mid}")
    kw.setdefault("usage", cm.Usage(input_tokens=100, output_tokens=20))
    kw.setdefault("text", f"answer {mid}")
    return cm.Message(
        id=mid, parent_id=parent, role="assistant", timestamp=1.0, status=status,
        provider=provider, model="m", **kw,
    )  # fmt: skip


def conv(*messages: cm.Message, provider: str = "openai") -> cm.Conversation:
    return cm.Conversation(
        id="c_1",
        chat_name="t",
        created_at=0.0,
        last_update=0.0,
        model="m",
        provider=provider,
        instructions="Be brief.",
        messages=list(messages),
        current_message_id=messages[-1].id if messages else None,
    )


def switched() -> cm.Conversation:
    # u1 -> a1 (openai) -> u2 -> b2 (anthropic) -> u3 -> g3 (gemini, failed with text)
    return conv(
        user("u1", None),
        answer("a1", "u1", "openai"),
        user("u2", "a1"),
        answer("b2", "u2", "anthropic", metadata={STATELESS_MARK: True}),
        user("u3", "b2"),
        answer("g3", "u3", "gemini", status="failed", response_id=None, text="partial"),
    )


def test_rule_1_the_parent_itself():
    c = conv(user("u1", None), answer("a1", "u1", "openai"))
    plan = plan_context(c, "a1", "next", provider="openai", stateful=True)
    assert (plan.previous_response_id, plan.input, plan.replayed_messages) == ("resp_a1", "next", 0)
    assert plan.chained_message_id == "a1" and plan.chained_tokens == 120


def test_rule_2_chains_from_the_providers_own_reply_and_sends_the_rest_as_text():
    c = switched()
    plan = plan_context(c, "g3", "back to openai", provider="openai", stateful=True)
    assert plan.context_mode == "chained" and plan.previous_response_id == "resp_a1"
    assert plan.input == [
        {"role": "user", "content": "u2"},
        {"role": "assistant", "content": "answer b2"},
        {"role": "user", "content": "u3"},
        {"role": "assistant", "content": "partial"},
        {"role": "user", "content": "back to openai"},
    ]
    assert plan.replayed_messages == 4 and plan.chained_message_id == "a1"
    point = chain_point(c, "g3", "openai", True)
    assert point is not None and point[0].id == "a1"
    assert [m.id for m in point[1]] == ["u2", "b2", "u3", "g3"]


def test_a_reply_with_no_text_is_left_out_of_the_text_turns():
    c = switched()
    c.message("g3").text = ""
    plan = plan_context(c, "g3", "next", provider="openai", stateful=True)
    assert plan.previous_response_id == "resp_a1" and plan.replayed_messages == 3
    assert plan.input[-2:] == [
        {"role": "user", "content": "u3"},
        {"role": "user", "content": "next"},
    ]


def test_rule_2_passes_over_stopped_and_failed_replies_of_the_same_provider():
    c = conv(
        user("u1", None),
        answer("a1", "u1", "openai"),
        user("u2", "a1"),
        answer("a2", "u2", "openai", status="stopped", text="half"),
    )
    plan = plan_context(c, "a2", "again", provider="openai", stateful=True)
    assert plan.previous_response_id == "resp_a1"
    assert plan.input[0] == {"role": "user", "content": "u2"} and plan.replayed_messages == 2


def test_a_finished_reply_of_the_provider_that_cannot_be_chained_ends_the_search():
    # a2 is the provider's own completed reply but has no response id (a migrated file): the
    # older a1 must not be chained from past it.
    c = conv(
        user("u1", None),
        answer("a1", "u1", "openai"),
        user("u2", "a1"),
        answer("a2", "u2", "openai", response_id=None),
    )
    plan = plan_context(c, "a2", "next", provider="openai", stateful=True)
    assert plan.context_mode == "replayed" and plan.previous_response_id is None


def test_stateless_replies_are_never_chained_from():
    c = conv(user("u1", None), answer("a1", "u1", "deepseek", metadata={STATELESS_MARK: True}))
    # Even if the provider were (re)configured stateful, the reply's mark decides.
    plan = plan_context(c, "a1", "next", provider="deepseek", stateful=True)
    assert plan.context_mode == "replayed" and plan.previous_response_id is None
    assert (
        plan_context(c, "a1", "n", provider="deepseek", stateful=False).context_mode == "replayed"
    )


def test_another_providers_stateful_reply_is_not_ours_to_chain():
    c = switched()
    plan = plan_context(c, "g3", "to gemini", provider="gemini", stateful=True)
    assert plan.context_mode == "replayed" and plan.previous_response_id is None
    assert plan.input[0] == {"role": "user", "content": "u1"}


def test_rule_2_falls_back_to_a_replay_when_the_later_messages_do_not_fit():
    c = switched()
    c.message("b2").text = "b" * 4000  # about 1000 tokens
    window = 3000  # budget = 3000 - 500 - 1024 = 1476; the chain holds 120: 1356 left
    plan = plan_context(
        c, "g3", "next", provider="openai", stateful=True, window=window, output_limits=(500,)
    )
    assert plan.context_mode == "chained"  # 1000 + a little fits in what the chain leaves
    c.message("a1").usage = cm.Usage(input_tokens=900, output_tokens=100)  # the chain is big
    plan = plan_context(
        c, "g3", "next", provider="openai", stateful=True, window=window, output_limits=(500,)
    )
    assert plan.context_mode == "replayed" and plan.previous_response_id is None
    assert plan.input[0] == {"role": "user", "content": "u1"}  # the whole branch fits as text


def test_holds_newest_only_judges_a_known_window():
    budget = context_budget(2000, output_limits=(500,))
    assert holds_newest("i", "x" * 4 * (budget - 9), window=2000, output_limits=(500,))
    assert not holds_newest("i", "x" * 4 * (budget + 5), window=2000, output_limits=(500,))
    assert holds_newest("i", "x" * 10**6, window=None, output_limits=(500,))


def test_last_response_id_is_for_the_conversations_current_provider():
    c = switched()
    c.refresh_derived()
    assert c.last_response_id == "resp_a1"  # openai's chain, under rules 1-2
    c.provider = "anthropic"  # its reply is stateless: nothing to chain from
    c.refresh_derived()
    assert c.last_response_id is None
    c.provider = "gemini"
    c.refresh_derived()
    assert c.last_response_id is None


def test_a_failed_unknown_model_sets_the_conversations_model_back():
    c = conv(
        user("u1", None),
        answer("a1", "u1", "openai"),
        user("u2", "a1"),
        answer(
            "a2",
            "u2",
            "openai",
            status="failed",
            response_id=None,
            text="",
            error=cm.MessageError(code="unknown_model", message="x"),
            metadata={PREVIOUS_CHOICE: {"provider": "openai", "model": "gpt-old"}},
        ),
    )
    c.model = "m"  # what the turn's commit made the conversation's
    c.refresh_derived()
    assert (c.provider, c.model) == ("openai", "gpt-old")
    c.refresh_derived()  # idempotent
    assert c.model == "gpt-old"
    # Another error code, or no record of the previous choice: nothing is set back.
    c.model = "m"
    c.message("a2").error = cm.MessageError(code="upstream_error", message="x")
    c.refresh_derived()
    assert c.model == "m"
