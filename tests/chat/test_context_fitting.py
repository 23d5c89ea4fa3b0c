"""Fitting a replay to the window, end to end against the fake upstream: the exact request bodies at the
edges (just fits, one token over, the newest message alone too long), with the app's own counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.context import TokenCounter, context_budget
from tests.conftest import chat, login, stored

# A stateless provider on the fake (every turn replays), its models with a small window.
PROVIDERS = """
default = "plain:gpt-5.4-mini"

[providers.plain]
protocol = "responses"
base_url = "{base_url}"
api_key_env = "PLAIN_KEY"
stateful = false
models = ["gpt-5.4-mini", "local-small"]

[models."plain:gpt-5.4-mini"]
context_window = 4000
max_output_tokens = 500

[models."plain:local-small"]
context_window = 4000
max_output_tokens = 500
"""
WINDOW, OUTPUT = 4000, 500
O200K = TokenCounter("o200k_base")


def words(word: str, n: int) -> str:
    """A text of exactly `n` o200k tokens (each ` word` is one token)."""
    return word + f" {word}" * (n - 1)


@pytest.fixture
def small(make_app: Any, tmp_path: Path, upstream: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = tmp_path / "providers.toml"
    path.write_text(PROVIDERS.format(base_url=upstream.base_url))
    monkeypatch.setenv("PLAIN_KEY", "sk-plain-test")
    return make_app(CHAT_PROVIDERS_FILE=str(path), OPENAI_API_KEY="")


@pytest.fixture
def client(small: Any) -> Any:
    return login(small.test_client(), small)


def two_turns(client: Any) -> tuple[str, str]:
    """A conversation of two turns of about 600 tokens each; (conversation id, last reply id)."""
    one = chat(client, message=words("alpha", 600))
    cid = one[0].data["conversation_id"]
    two = chat(client, message=words("beta", 600), conversation_id=cid)
    return cid, two[0].data["assistant_message_id"]


def test_budget_is_the_window_less_the_output_and_the_margin(client: Any) -> None:
    cid, _ = two_turns(client)
    body = client.get(f"/conversations/{cid}/context").get_json()
    assert body["context_window"] == WINDOW
    assert body["budget"] == context_budget(WINDOW, output_limits=(OUTPUT, 16_000))
    assert body["budget"] == WINDOW - OUTPUT - 1024
    assert body["token_method"] == "o200k_base"
    # The conversation's own max_output_tokens option, when smaller, leaves more room.
    path = Path(client.application.config["CHAT_DATA_DIR"]) / "alice" / f"{cid}.json"
    doc = json.loads(path.read_text())
    doc["options"] = {"max_output_tokens": 200}
    path.write_text(json.dumps(doc))
    assert client.get(f"/conversations/{cid}/context").get_json()["budget"] == WINDOW - 200 - 1024


def test_just_fits_then_one_token_over_drops_the_oldest_turn(
    client: Any, upstream: Any, data_dir: Path
) -> None:
    cid, parent = two_turns(client)
    history = upstream.last().body["input"]  # the second turn's: its question with the first turn
    preview = client.get(f"/conversations/{cid}/context").get_json()
    assert [m["state"] for m in preview["messages"]] == ["sent"] * 4
    room = preview["budget"] - preview["input_tokens"]  # what the new message may use
    # `room` tokens with its framing: exactly the budget, everything is sent.
    fits = words("gamma", room - 4)
    assert O200K.text(fits) == room
    chat(client, message=fits, conversation_id=cid, parent_message_id=parent)
    sent = upstream.last().body["input"]
    texts = [words("alpha", 600), "Hello! How can I help?", words("beta", 600)]
    assert [t["content"] for t in sent] == [*texts, "Hello! How can I help?", fits]
    assert sent[:-1] == [*history, {"role": "assistant", "content": "Hello! How can I help?"}]
    doc = stored(data_dir, "alice", cid)
    reply = doc["messages"][-1]
    assert reply["metadata"]["estimated_input_tokens"] == preview["budget"]
    assert "trimmed_messages" not in reply["metadata"]

    # One token more: the oldest turn (its question and answer) goes, the rest is sent as is.
    over = words("delta", room - 4 + 1)
    chat(client, message=over, conversation_id=cid, parent_message_id=parent)
    sent = upstream.last().body["input"]
    assert [t["content"] for t in sent] == [words("beta", 600), "Hello! How can I help?", over]
    assert sent[0]["role"] == "user"
    doc = stored(data_dir, "alice", cid)
    assert doc["messages"][-1]["metadata"]["trimmed_messages"] == 2


def test_a_newest_message_that_alone_overflows_is_refused_and_nothing_is_sent(
    client: Any, upstream: Any
) -> None:
    cid, _ = two_turns(client)
    preview = client.get(f"/conversations/{cid}/context").get_json()
    before = len(upstream.responses_requests())
    alone = preview["budget"] - preview["instructions_tokens"]  # the message's own share
    response = client.post(
        "/chat", json={"message": words("omega", alone - 4 + 1), "conversation_id": cid}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "context_too_long"
    assert len(upstream.responses_requests()) == before  # the fake saw no request
    # Exactly the message's share still goes (with no history beside it).
    frames = chat(client, message=words("omega", alone - 4), conversation_id=cid)
    assert frames[-1].event == "done"
    assert upstream.last().body["input"] == [{"role": "user", "content": words("omega", alone - 4)}]
    # The preview says the same of a message that long (counted as Latin text, 4 characters a token).
    chars = 4 * (alone - 4 + 1)
    refused = client.get(f"/conversations/{cid}/context?message_chars={chars}")
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "context_too_long"
