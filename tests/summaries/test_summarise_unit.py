"""The pure parts of summarising: which earlier summary a new one grows from, the call's input, how
much of a long prefix one call takes, and the summary writer setting."""

from __future__ import annotations

import pytest

import conversation_manager as cm
import responses_client as rc
from app.context import ContextPlan, TokenCounter, text_summary_tokens
from app.turns import ChatSettings
from app.turns.summarise import (
    SummaryFailed,
    base_summary,
    fitted,
    is_prefix,
    summarise,
    summary_cap,
    summary_input,
    summary_writer,
)
from conversation_manager.models import Summary
from responses_client.adapters.fake import FakeProvider
from responses_client.pricing import Quote


def message(mid: str, role: str, text: str, parent: str | None) -> cm.Message:
    return cm.Message(id=mid, parent_id=parent, role=role, text=text, timestamp=1.0)


def summary(sid: str, covers: list[str], text: str | None = "s") -> Summary:
    items = None if text is not None else [{"type": "compaction"}]
    return Summary(id=sid, covers=covers, text=text, created_at=1.0, provider_items=items)


def conversation(*summaries: Summary) -> cm.Conversation:
    msgs = [
        message("m1", "user", "one", None),
        message("m2", "assistant", "", "m1"),  # failed before any text
        message("m3", "user", "three", "m2"),
        message("m4", "assistant", "four", "m3"),
    ]
    return cm.Conversation(
        id="c_1",
        chat_name="t",
        created_at=1.0,
        last_update=1.0,
        model="m",
        provider="fake",
        messages=msgs,
        summaries=list(summaries),
    )


def test_is_prefix() -> None:
    assert is_prefix(["a"], ["a", "b"]) and is_prefix(["a", "b"], ["a", "b"])
    assert not is_prefix([], ["a"]) and not is_prefix(["b"], ["a", "b"])
    assert not is_prefix(["a", "b", "c"], ["a", "b"])


def test_the_base_is_the_longest_text_summary_of_a_prefix() -> None:
    short, longer = summary("s1", ["m1"]), summary("s2", ["m1", "m2"])
    other = summary("s3", ["m1", "x"])  # another branch
    opaque = summary("s4", ["m1", "m2", "m3"], text=None)  # a compaction: no text to grow
    conv = conversation(short, other, longer, opaque)
    assert base_summary(conv, ["m1", "m2", "m3", "m4"]) is longer
    assert base_summary(conv, ["m1"]) is short
    assert base_summary(conv, ["m9"]) is None


def test_the_input_names_the_speakers_and_leaves_out_empty_replies() -> None:
    conv = conversation()
    assert summary_input(None, conv.messages) == (
        "Conversation:\n\nUser: one\n\nUser: three\n\nAssistant: four"
    )
    base = summary("s1", ["m1", "m2"], text="Earlier.")
    assert summary_input(base, conv.messages[2:]) == (
        "Earlier summary:\n\nEarlier.\n\nConversation:\n\nUser: three\n\nAssistant: four"
    )


def test_one_call_takes_the_oldest_messages_that_fit_and_at_least_one() -> None:
    msgs = [message(f"m{i}", "user", "word " * 100, None) for i in range(10)]
    kept = fitted(None, msgs, budget=400)
    assert 1 <= len(kept) < 10 and kept == msgs[: len(kept)]
    assert fitted(None, msgs, budget=1) == msgs[:1]
    assert fitted(None, msgs, budget=100_000) == msgs


def test_the_summary_writer_setting() -> None:
    own, other = FakeProvider(name="fake"), FakeProvider(name="other")
    registry = rc.ProviderRegistry.of([own, other])
    base = ChatSettings(default_model="m", default_provider="fake", instructions="")
    assert summary_writer(registry, base, own, "m") == (own, "m")
    named = ChatSettings(
        default_model="m", default_provider="fake", instructions="", summary_model="other:small"
    )
    assert summary_writer(registry, named, own, "m") == (other, "small")
    for bad in ("nobody:small", "no-colon"):
        unknown = ChatSettings(
            default_model="m", default_provider="fake", instructions="", summary_model=bad
        )
        with pytest.raises(SummaryFailed) as failed:
            summary_writer(registry, unknown, own, "m")
        assert failed.value.code == "unknown_model"


def test_the_summary_cap_is_the_room_the_plan_left_less_the_summarys_prefix() -> None:
    def plan(room: int) -> ContextPlan:
        return ContextPlan(
            input="x", previous_response_id=None, context_mode="replayed", summary_room=room
        )

    counter = TokenCounter()  # the estimate: the prefix is 39 ASCII characters, 10 tokens
    assert text_summary_tokens(counter, "") == 10
    assert summary_cap(plan(450), counter) == 450 - 10 - 1
    assert summary_cap(plan(100_000), counter) == 1024  # never more than a summary's own cap
    assert summary_cap(plan(5), counter) == 1
    # A text of the cap's length (in the turn's tokens) fits the room with its prefix.
    text = "abcd" * summary_cap(plan(450), counter)
    assert text_summary_tokens(counter, text) <= 450


def test_a_summary_that_no_longer_fits_is_written_again_shorter() -> None:
    big = summary("s1", ["m1", "m2"], text="A long summary. " * 50)
    conv = conversation(big)
    writer = FakeProvider(name="fake")
    writer.enqueue_reply("Short.")
    registry = rc.ProviderRegistry.of([writer])
    settings = ChatSettings(default_model="m", default_provider="fake", instructions="")
    quote = Quote(None, None)
    again = summarise(
        conv,
        ["m1", "m2"],
        (writer, "m"),
        registry,
        settings,
        lambda *a, **k: quote,
        rc.CancelToken(),
        max_tokens=64,
    )
    (request,) = writer.requests
    assert request.input == f"Earlier summary:\n\n{big.text}"
    assert request.max_output_tokens == 64
    assert again.covers == ["m1", "m2"] and again.text == "Short." and again.id != big.id
    assert again.cost_usd is None  # unknown price: no cost, never 0
