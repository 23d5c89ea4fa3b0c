"""The pure tree operations, totals, last_response_id and the on-disk field names."""

from __future__ import annotations

import json

import pytest

from conversation_manager import ROOT, Conversation, Message, NotFound, Usage


def msg(mid: str, parent: str | None, role: str = "user", **kw: object) -> Message:
    return Message.model_validate(
        {"id": mid, "parent_id": parent, "role": role, "text": mid, "timestamp": 1.0, **kw}
    )


def reply(mid: str, parent: str, status: str = "completed", **kw: object) -> Message:
    return msg(mid, parent, "assistant", status=status, response_id=f"resp_{mid}", **kw)


def tree() -> Conversation:
    # u1 -> a1 -> u2 -> a2
    #    \-> a1b (regenerated)        u1b (edited root) -> a3 (failed)
    messages = [
        msg("u1", None),
        reply("a1", "u1"),
        msg("u2", "a1"),
        reply("a2", "u2"),
        reply("a1b", "u1"),
        msg("u1b", None),
        reply("a3", "u1b", status="failed"),
    ]
    return Conversation(
        id="c_1",
        chat_name="t",
        created_at=1.0,
        last_update=2.0,
        model="m",
        provider="openai",
        messages=messages,
        current_message_id="a2",
    )


def test_branch_and_path() -> None:
    conv = tree()
    assert [m.id for m in conv.branch()] == ["u1", "a1", "u2", "a2"]
    assert [m.id for m in conv.path_to("a1b")] == ["u1", "a1b"]
    with pytest.raises(NotFound):
        conv.path_to("nope")
    with pytest.raises(NotFound):
        conv.message("nope")


def test_siblings_oldest_first_including_itself() -> None:
    conv = tree()
    assert conv.sibling_ids("a1b") == ["a1", "a1b"]
    assert conv.sibling_ids("u1") == ["u1", "u1b"]
    assert conv.sibling_ids("a2") == ["a2"]


def test_newest_leaf_under() -> None:
    conv = tree()
    assert conv.newest_leaf_under("u1") == "a1b"
    assert conv.newest_leaf_under("a1") == "a2"
    assert conv.newest_leaf_under("a2") == "a2"
    assert conv.newest_leaf_under(ROOT) == "a3"


def test_chain_reply_takes_completed_or_incomplete_replies_and_passes_failed_ones() -> None:
    conv = tree()

    def chained(mid: str | None) -> str | None:
        found = conv.chain_reply(mid, "openai")
        return found.response_id if found else None

    assert chained("a2") == "resp_a2"
    assert chained("u2") == "resp_a1"  # rule 2: the nearest reply up the branch
    assert chained("a3") is None  # failed, and nothing of this provider above it
    assert chained(None) is None and chained("missing") is None
    conv.message("a2").status = "incomplete"
    assert chained("a2") == "resp_a2"
    conv.message("a2").status = "stopped"
    assert chained("a2") == "resp_a1"  # a stopped reply is passed over
    assert conv.chain_reply("a2", "anthropic") is None  # another provider's chain


def test_totals_over_whole_tree() -> None:
    conv = tree()
    conv.message("a1").usage = Usage(input_tokens=10, output_tokens=5)
    conv.message("a1").cost_usd = 0.5
    conv.message("a2").cost_usd = 0.25
    totals = conv.compute_totals()
    assert totals.input_tokens == 10 and totals.output_tokens == 5
    assert totals.cost_usd == 0.75
    # a1b completed and a3 failed have no cost: both unpriced; in-progress replies do not count
    assert totals.unpriced_messages == 2
    conv.message("a3").status = "in_progress"
    assert conv.compute_totals().unpriced_messages == 1


def test_refresh_derived_sets_last_response_id() -> None:
    conv = tree()
    conv.refresh_derived()
    assert conv.last_response_id == "resp_a2"
    conv.current_message_id = "a3"
    conv.refresh_derived()
    assert conv.last_response_id is None


def test_serialised_field_names_match_the_contract() -> None:
    conv = tree()
    conv.refresh_derived()
    data = json.loads(conv.model_dump_json())
    required = {
        "id",
        "object",
        "chat_name",
        "created_at",
        "last_update",
        "model",
        "provider",
        "instructions",
        "last_response_id",
        "current_message_id",
        "metadata",
        "legacy",
        "totals",
        "messages",
    }
    assert required <= set(data)
    assert data["object"] == "conversation"
    assert set(data["totals"]) == {
        "input_tokens",
        "cached_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
        "cost_usd",
        "unpriced_messages",
    }
    user, assistant = data["messages"][0], data["messages"][1]
    assert set(user) == {"id", "parent_id", "role", "text", "timestamp", "response_id"}
    assert set(assistant) >= {
        "id",
        "parent_id",
        "role",
        "text",
        "timestamp",
        "response_id",
        "status",
        "model",
        "provider",
        "context_mode",
        "usage",
        "cost_usd",
        "reasoning_summary",
        "error",
        "request_id",
        "latency_ms",
        "metadata",
    }
    assert Conversation.model_validate(data) == conv


def test_check_tree_finds_inconsistencies() -> None:
    conv = tree()
    assert conv.check_tree() is None
    conv.messages.append(msg("u1", None))
    assert conv.check_tree() == "duplicate message id"
    conv = tree()
    conv.messages.insert(0, msg("x", "later"))
    assert conv.check_tree() is not None


def test_a_file_written_before_cache_writes_and_prices_still_loads() -> None:
    conv = tree()
    data = json.loads(conv.model_dump_json())
    for message in data["messages"]:
        message.pop("price", None)
        message.pop("fallback_from", None)
        if message.get("usage"):
            message["usage"].pop("cache_write_tokens", None)
    data["totals"].pop("cache_write_tokens", None)
    loaded = Conversation.model_validate(data)
    reply = next(m for m in loaded.messages if m.role == "assistant")
    assert reply.price is None and reply.fallback_from is None
    assert loaded.compute_totals().cache_write_tokens == 0
