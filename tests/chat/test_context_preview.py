"""`GET /conversations/ID/context` against the fake upstream: the preview is what the next turn sends
(the same messages, mode, chain and estimate), calibration by the reported input tokens, and another
user's conversation is not found."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from app.context import calibration, estimate_tokens
from conversation_manager import Conversation
from tests.chat.test_context_fitting import PROVIDERS
from tests.conftest import chat, login, stored


@pytest.fixture
def small(make_app: Any, tmp_path: Path, upstream: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = tmp_path / "providers.toml"
    path.write_text(PROVIDERS.format(base_url=upstream.base_url))
    monkeypatch.setenv("PLAIN_KEY", "sk-plain-test")
    # The fake's OpenAI provider (stateful) beside the stateless one.
    return make_app(CHAT_PROVIDERS_FILE=str(path))


@pytest.fixture
def client(small: Any) -> Any:
    return login(small.test_client(), small)


def preview(client: Any, cid: str, **query: Any) -> dict[str, Any]:
    response = client.get(f"/conversations/{cid}/context", query_string=query)
    assert response.status_code == 200, response.data
    return response.get_json()


def by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in doc["messages"]}


def test_the_preview_is_what_the_next_turn_sends(
    client: Any, upstream: Any, data_dir: Path
) -> None:
    # An estimate-counted model, so the new message's count from its length is exact (ASCII).
    model = {"provider": "plain", "model": "local-small"}
    one = chat(client, message="a" * 3000, **model)
    cid = one[0].data["conversation_id"]
    for text in ("b" * 3000, "c" * 3000, "d" * 3000):
        chat(client, message=text, conversation_id=cid)
    message = "e" * 400
    seen = preview(client, cid, message_chars=len(message))
    assert seen["provider"] == "plain" and seen["model"] == "local-small"
    assert seen["context_mode"] == "replayed" and seen["previous_response_id"] is None
    states = [m["state"] for m in seen["messages"]]
    assert "dropped" in states and states[-1] == "sent"  # the window is small: trimmed
    assert seen["input_tokens"] <= seen["budget"]

    chat(client, message=message, conversation_id=cid)
    doc = stored(data_dir, "alice", cid)
    messages = by_id(doc)
    sent = [messages[m["id"]] for m in seen["messages"] if m["state"] == "sent"]
    expected = [{"role": m["role"], "content": m["text"]} for m in sent]
    assert upstream.last().body["input"] == [*expected, {"role": "user", "content": message}]
    reply = doc["messages"][-1]
    assert reply["metadata"]["estimated_input_tokens"] == seen["input_tokens"]
    assert reply["context_mode"] == seen["context_mode"]
    assert reply["metadata"]["trimmed_messages"] == states.count("dropped")


def test_a_chained_preview_names_the_chain_and_counts_its_reported_tokens(
    client: Any, upstream: Any, data_dir: Path
) -> None:
    one = chat(client, message="hello", provider="openai", model="gpt-5.4-mini")
    cid = one[0].data["conversation_id"]
    seen = preview(client, cid)
    assert seen["provider"] == "openai" and seen["context_mode"] == "chained"
    assert seen["previous_response_id"] == one[-1].data["response_id"]
    assert [m["state"] for m in seen["messages"]] == ["in_chain", "in_chain"]
    usage = one[-1].data["usage"]
    assert seen["chained_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert seen["input_tokens"] == (
        seen["instructions_tokens"] + seen["chained_tokens"] + seen["message_tokens"]
    )
    assert seen["estimated_cost_usd"] is not None and seen["estimated_cost_usd"] > 0
    chat(client, message="again", conversation_id=cid)
    assert upstream.last().body["previous_response_id"] == seen["previous_response_id"]
    assert upstream.last().body["input"] == "again"
    # Another provider for the same branch replays it instead (and prices nothing it cannot).
    other = preview(client, cid, provider="plain", model="local-small")
    assert other["context_mode"] == "replayed" and other["previous_response_id"] is None
    assert {m["state"] for m in other["messages"]} == {"sent"}
    assert other["estimated_cost_usd"] is None  # a model without a known price


def test_a_parent_message_previews_that_branch(client: Any) -> None:
    one = chat(client, message="first", provider="plain", model="gpt-5.4-mini")
    cid = one[0].data["conversation_id"]
    two = chat(client, message="second", conversation_id=cid)
    seen = preview(client, cid, parent_message_id=one[0].data["assistant_message_id"])
    assert [m["id"] for m in seen["messages"]] == [
        one[0].data["user_message_id"],
        one[0].data["assistant_message_id"],
    ]
    assert preview(client, cid, parent_message_id="root")["context_mode"] == "first"
    wrong = client.get(
        f"/conversations/{cid}/context?parent_message_id={two[0].data['user_message_id']}"
    )
    assert wrong.status_code == 400
    assert client.get(f"/conversations/{cid}/context?parent_message_id=m_nope").status_code == 404
    for bad in ("-1", "²", "1e3", "x"):  # "²".isdigit() is True, int("²") raises
        assert client.get(f"/conversations/{cid}/context?message_chars={bad}").status_code == 400


def test_calibration_by_the_reported_input_tokens(
    client: Any, upstream: Any, data_dir: Path
) -> None:
    # Cyrillic: the estimate says two characters a token; the fake counts the JSON body, where
    # each such character is a six-character escape: far more, so the next estimate is scaled.
    text = "Привет " * 200
    one = chat(client, message=text, provider="plain", model="local-small")
    cid = one[0].data["conversation_id"]
    doc = stored(data_dir, "alice", cid)
    reply = doc["messages"][-1]
    record = reply["metadata"]["token_count"]
    assert record["method"] == "estimate" and record["raw"] > 0
    reported = reply["usage"]["input_tokens"]
    assert reply["metadata"]["estimated_input_tokens"] == record["raw"]  # no calibration yet
    factor = min(2.0, max(0.5, round(reported / record["raw"], 4)))
    assert factor > 1
    conversation = Conversation.model_validate(doc)
    assert calibration(conversation, "plain", "local-small") == factor
    seen = preview(client, cid, message_chars=2)
    user_tokens = next(m["tokens"] for m in seen["messages"] if m["role"] == "user")
    assert user_tokens == math.ceil((estimate_tokens(text) + 4) * factor)
    assert seen["message_tokens"] == math.ceil((1 + 4) * factor)
    # The next turn estimates with the same factor: what the preview showed.
    chat(client, message="ok", conversation_id=cid)
    after = stored(data_dir, "alice", cid)["messages"][-1]
    assert after["metadata"]["estimated_input_tokens"] == seen["input_tokens"]
    assert after["metadata"]["token_count"]["raw"] < seen["input_tokens"]


def test_another_users_conversation_is_not_found(small: Any) -> None:
    alice = login(small.test_client(), small)
    cid = chat(alice, message="mine", provider="plain", model="gpt-5.4-mini")[0].data[
        "conversation_id"
    ]
    bob = login(small.test_client(), small, "bob")
    response = bob.get(f"/conversations/{cid}/context")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert small.test_client().get(f"/conversations/{cid}/context").status_code == 401


def test_with_summaries_on_the_preview_says_what_the_summary_will_stand_for(
    make_app: Any, tmp_path: Path, upstream: Any, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(PROVIDERS.format(base_url=upstream.base_url))
    monkeypatch.setenv("PLAIN_KEY", "sk-plain-test")
    app = make_app(CHAT_PROVIDERS_FILE=str(path), CHAT_SUMMARIES=True)
    client = login(app.test_client(), app)
    model = {"provider": "plain", "model": "local-small"}
    cid = chat(client, message="a" * 2800, **model)[0].data["conversation_id"]
    for text in ("b" * 2800, "c" * 2800):
        chat(client, message=text, conversation_id=cid)
    message = "d" * 2800
    seen = preview(client, cid, message_chars=len(message))
    assert seen["summaries"] is True and seen["summary_pending"] is True
    assert seen["context_mode"] == "compacted" and seen["summary"] is None
    states = [m["state"] for m in seen["messages"]]
    assert states[0] == "summarised" and "dropped" not in states and states[-1] == "sent"
    summarised = [m["id"] for m in seen["messages"] if m["state"] == "summarised"]
    assert summarised == seen["needs_summary"]

    frames = chat(client, message=message, conversation_id=cid)
    assert frames[0].data["context_mode"] == seen["context_mode"]
    doc = stored(data_dir, "alice", cid)
    assert doc["summaries"][-1]["covers"] == summarised
    messages = by_id(doc)
    sent = [messages[m["id"]] for m in seen["messages"] if m["state"] == "sent"]
    expected = [{"role": m["role"], "content": m["text"]} for m in sent]
    assert upstream.last().body["input"] == [*expected, {"role": "user", "content": message}]
