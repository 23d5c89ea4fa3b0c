"""Compaction of a long stateful chain (API "Context", CHAT_COMPACT_INPUT_TOKENS) against the fake
upstream: below the threshold the turn chains; above it the Responses API's compaction is called and
a new chain starts from its items; a failed compaction keeps the chain and says so; the items never
reach the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.context import SUMMARY_PREFIX
from tests.conftest import chat, login, stored

from .helpers import is_summary_call, summary_reply

THRESHOLD = 1000  # tokens of the chained reply's reported input + output


@pytest.fixture
def app(make_app: Any) -> Any:
    return make_app(CHAT_COMPACT_INPUT_TOKENS=THRESHOLD)


def usage_of(doc: dict[str, Any], message_id: str) -> int:
    message = next(m for m in doc["messages"] if m["id"] == message_id)
    return int(message["usage"]["input_tokens"] + message["usage"]["output_tokens"])


def long_chain(client: Any, upstream: Any, data_dir: Path) -> tuple[str, list[Any]]:
    """Two chained turns; the second reports more than THRESHOLD tokens (a long answer: the fake
    counts a token per four characters of output)."""
    one = chat(client, message="one")
    cid = one[0].data["conversation_id"]
    upstream.reply = "b" * (4 * THRESHOLD)
    two = chat(client, message="two", conversation_id=cid)
    upstream.reply = "A short answer."
    assert two[-1].data["context_mode"] == "chained"
    doc = stored(data_dir, "alice", cid)
    assert usage_of(doc, one[0].data["assistant_message_id"]) < THRESHOLD
    assert usage_of(doc, two[0].data["assistant_message_id"]) > THRESHOLD
    return cid, [one, two]


def long_chain_of(client: Any, upstream: Any, data_dir: Path, reply: Any) -> tuple[str, list[Any]]:
    """`long_chain` with the fake answering through `reply` outside the long answer."""
    upstream.reply = reply
    one = chat(client, message="one")
    cid = one[0].data["conversation_id"]
    upstream.reply = lambda body: reply(body) if is_summary_call(body) else "b" * (4 * THRESHOLD)
    two = chat(client, message="two", conversation_id=cid)
    upstream.reply = reply
    doc = stored(data_dir, "alice", cid)
    assert usage_of(doc, two[0].data["assistant_message_id"]) > THRESHOLD
    return cid, [one, two]


def test_below_the_threshold_the_turn_chains(client: Any, upstream: Any, data_dir: Path) -> None:
    one = chat(client, message="one")
    cid = one[0].data["conversation_id"]
    chat(client, message="two", conversation_id=cid)
    assert upstream.compact_requests() == []
    assert upstream.last().body["previous_response_id"] == one[-1].data["response_id"]
    assert stored(data_dir, "alice", cid)["summaries"] == []


def test_above_the_threshold_the_chain_is_compacted_and_a_new_chain_starts(
    client: Any, app: Any, upstream: Any, data_dir: Path
) -> None:
    cid, (_, two) = long_chain(client, upstream, data_dir)
    three = chat(client, message="three", conversation_id=cid)
    (compact,) = upstream.compact_requests()
    assert compact.body == {
        "model": "gpt-5.4-mini",
        "instructions": app.config["CHAT_INSTRUCTIONS"],
        "previous_response_id": two[-1].data["response_id"],
    }
    turn = upstream.last()
    assert turn.path == "/v1/responses" and "previous_response_id" not in turn.body
    # The new chain: the compacted items as given, then the new message.
    doc = stored(data_dir, "alice", cid)
    (summary,) = doc["summaries"]
    items = summary["provider_items"]
    assert [i["type"] for i in items] == ["message", "message", "compaction"]
    assert turn.body["input"] == [*items, {"role": "user", "content": "three"}]
    assert turn.body["instructions"] == app.config["CHAT_INSTRUCTIONS"]  # no summary text
    assert summary["text"] is None and (summary["provider"], summary["model"]) == (
        "openai",
        "gpt-5.4-mini",
    )
    assert summary["covers"] == [m["id"] for m in doc["messages"][:4]]
    assert summary["usage"]["output_tokens"] == 40
    assert three[-1].data["context_mode"] == "compacted"
    assert doc["messages"][-1]["context_mode"] == "compacted"

    # The next turn chains from the new chain (small again): no second compaction.
    four = chat(client, message="four", conversation_id=cid)
    assert len(upstream.compact_requests()) == 1
    assert upstream.last().body["previous_response_id"] == three[-1].data["response_id"]
    assert upstream.last().body["input"] == "four"
    assert four[-1].data["context_mode"] == "chained"

    # The page says where the summary stands, never what the provider keeps.
    page = client.get(f"/chat?conversation_id={cid}").get_json()
    (shown,) = page["summaries"]
    assert shown["text"] is None and shown["provider"] == "openai"
    assert "provider_items" not in shown
    assert "encrypted_content" not in str(page)


def test_a_chain_just_started_from_a_compaction_is_not_compacted_again(
    client: Any, upstream: Any, data_dir: Path
) -> None:
    # A long user message: the compaction keeps it, so the new chain is past the threshold too.
    one = chat(client, message="a" * (4 * THRESHOLD))
    cid = one[0].data["conversation_id"]
    two = chat(client, message="two", conversation_id=cid)
    assert len(upstream.compact_requests()) == 1 and two[-1].data["context_mode"] == "compacted"
    doc = stored(data_dir, "alice", cid)
    assert usage_of(doc, two[0].data["assistant_message_id"]) > THRESHOLD
    three = chat(client, message="three", conversation_id=cid)
    assert len(upstream.compact_requests()) == 1  # chained once more, not compacted again
    assert upstream.last().body["previous_response_id"] == two[-1].data["response_id"]
    assert three[-1].data["context_mode"] == "chained"


def test_a_failed_compaction_keeps_the_chain_and_says_so(
    client: Any, upstream: Any, data_dir: Path
) -> None:
    cid, (_, two) = long_chain(client, upstream, data_dir)
    upstream.compact_error = "500"
    three = chat(client, message="three", conversation_id=cid)
    assert len(upstream.compact_requests()) == 1
    assert upstream.last().body["previous_response_id"] == two[-1].data["response_id"]
    assert upstream.last().body["input"] == "three"
    assert three[-1].data["context_mode"] == "chained"
    doc = stored(data_dir, "alice", cid)
    assert doc["summaries"] == []
    assert doc["messages"][-1]["metadata"]["summary_error"] == "upstream_unavailable"


@pytest.mark.parametrize("refusal", ["404", "405"])
def test_a_server_without_compaction_gets_text_summaries_from_then_on(
    client: Any, app: Any, upstream: Any, data_dir: Path, refusal: str
) -> None:
    # A Responses server behind OPENAI_BASE_URL without POST /responses/compact.
    upstream.compact_error = refusal
    cid, (_, two) = long_chain_of(client, upstream, data_dir, summary_reply)
    three = chat(client, message="three", conversation_id=cid)
    (compact,) = upstream.compact_requests()  # asked once...
    assert compact.body["previous_response_id"] == two[-1].data["response_id"]
    *_, call, turn = upstream.responses_requests()
    # ...and this very turn gets the text summary of the chain instead, then a replay.
    assert is_summary_call(call.body) and call.body["store"] is False
    assert "previous_response_id" not in turn.body
    assert turn.body["instructions"].endswith(SUMMARY_PREFIX + "SUMMARY of 2 user messages.")
    assert turn.body["input"] == [{"role": "user", "content": "three"}]
    assert three[-1].data["context_mode"] == "compacted"
    doc = stored(data_dir, "alice", cid)
    assert "summary_error" not in doc["messages"][-1]["metadata"]
    (summary,) = doc["summaries"]
    assert summary["text"] == "SUMMARY of 2 user messages." and summary["provider_items"] is None
    assert summary["covers"] == [m["id"] for m in doc["messages"][:4]]

    # The new chain grows past the threshold again: no compaction is asked any more.
    upstream.reply = lambda body: (
        summary_reply(body) if is_summary_call(body) else "b" * (4 * THRESHOLD)
    )
    four = chat(client, message="four", conversation_id=cid)
    assert four[-1].data["context_mode"] == "chained"  # the chain a summary just started
    upstream.reply = summary_reply
    five = chat(client, message="five", conversation_id=cid)
    assert len(upstream.compact_requests()) == 1
    assert is_summary_call(upstream.responses_requests()[-2].body)
    assert five[-1].data["context_mode"] == "compacted"
    last = stored(data_dir, "alice", cid)["messages"][-1]
    assert "summary_error" not in last["metadata"]


def test_compaction_is_off_by_default(make_app: Any, upstream: Any, data_dir: Path) -> None:
    app = make_app()
    client = login(app.test_client(), app)
    cid, (_, two) = long_chain(client, upstream, data_dir)
    chat(client, message="three", conversation_id=cid)
    assert upstream.compact_requests() == []
    assert upstream.last().body["previous_response_id"] == two[-1].data["response_id"]


def test_right_after_a_compaction_the_preview_is_the_turns_request(
    client: Any, upstream: Any, data_dir: Path
) -> None:
    # The new chain starts past the threshold (the compaction keeps the long user message): the
    # turn chains once more (no compaction just after one), and the preview must say just that.
    one = chat(client, message="a" * (4 * THRESHOLD))
    cid = one[0].data["conversation_id"]
    two = chat(client, message="two", conversation_id=cid)
    assert two[-1].data["context_mode"] == "compacted"
    doc = stored(data_dir, "alice", cid)
    assert usage_of(doc, two[0].data["assistant_message_id"]) > THRESHOLD
    response = client.get(f"/conversations/{cid}/context", query_string={"message_chars": 5})
    assert response.status_code == 200
    seen = response.get_json()
    assert seen["summary_pending"] is False
    assert seen["context_mode"] == "chained"
    assert seen["previous_response_id"] == two[-1].data["response_id"]
    assert {m["state"] for m in seen["messages"]} == {"in_chain"}

    three = chat(client, message="three", conversation_id=cid)
    assert len(upstream.compact_requests()) == 1
    assert upstream.last().body["previous_response_id"] == seen["previous_response_id"]
    assert three[0].data["context_mode"] == seen["context_mode"]
    assert three[-1].data["context_mode"] == seen["context_mode"]
