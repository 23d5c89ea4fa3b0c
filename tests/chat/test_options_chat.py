"""Per-model options through `POST /chat` (API.md "Providers", **Options**): the up-front 400
`bad_option` with nothing sent, the exact upstream body of accepted options, the conversation
keeping them, `metadata.options` / `options_dropped` after a switch, and a fallback candidate
getting only what it takes. Real adapters and SDKs against the fakes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Frame, login, parse_sse, stored
from tests.fake_upstream import FakeUpstream
from tests.fakes import anthropic as fake_anthropic

ANTHROPIC_KEY = "sk-ant-test-SENTINEL-options-51c2"
MAX_OUTPUT = 4096
FILE = """
[providers.openai]
models = ["gpt-5.4-mini"]
fallback = ["anthropic:claude-sonnet-5-5"]
"""


@pytest.fixture
def anthropic_fake() -> Iterator[fake_anthropic.FakeAnthropic]:
    with fake_anthropic.running() as fake:
        fake.reply = "Claude here."
        yield fake


@pytest.fixture
def app(
    make_app: Callable[..., Any],
    upstream: FakeUpstream,
    anthropic_fake: fake_anthropic.FakeAnthropic,
    tmp_path: Path,
) -> Any:
    path = tmp_path / "providers.toml"
    path.write_text(FILE)
    upstream.reply = "OpenAI here."
    return make_app(
        CHAT_PROVIDERS_FILE=str(path),
        CHAT_MAX_OUTPUT_TOKENS=MAX_OUTPUT,
        ANTHROPIC_API_KEY=ANTHROPIC_KEY,
        ANTHROPIC_BASE_URL=anthropic_fake.base_url,
    )


@pytest.fixture
def client(app: Any) -> Any:
    return login(app.test_client(), app)


def turn(client: Any, **body: Any) -> list[Frame]:
    response = client.post("/chat", json={"message": "Hello?", **body})
    assert response.status_code == 200, response.data
    return parse_sse(response.data)


def refused(client: Any, **body: Any) -> dict[str, Any]:
    response = client.post("/chat", json={"message": "Hello?", **body})
    assert response.status_code == 400, response.data
    error: dict[str, Any] = response.get_json()["error"]
    assert error["code"] == "bad_option"
    return error


def reply_metadata(data_dir: Path, frames: list[Frame]) -> dict[str, Any]:
    first = frames[0].data
    record = stored(data_dir, "alice", first["conversation_id"])
    (reply,) = [m for m in record["messages"] if m["id"] == first["assistant_message_id"]]
    metadata: dict[str, Any] = reply["metadata"]
    return metadata


def test_a_refused_option_is_400_naming_it_and_nothing_is_sent(
    client: Any, upstream: FakeUpstream, anthropic_fake: fake_anthropic.FakeAnthropic
) -> None:
    error = refused(client, provider="anthropic", options={"temperature": 0.2})
    assert error["option"] == "temperature" and "temperature" in error["message"]
    error = refused(client, options={"seed": 1})
    assert error["option"] == "seed"
    error = refused(client, options={"temperature": 3})
    assert error["option"] == "temperature" and "between 0 and 2" in error["message"]
    error = refused(client, options={"max_output_tokens": MAX_OUTPUT + 1})
    assert error["option"] == "max_output_tokens"
    error = refused(client, provider="anthropic", model="claude-opus-5-5",
                    options={"thinking": "off"})  # fmt: skip
    assert error["option"] == "thinking"
    assert upstream.responses_requests() == [] and anthropic_fake.messages_requests() == []
    assert client.get("/get-all-conversations").get_json()["conversations"] == []


def test_a_refused_option_on_an_existing_conversation_changes_nothing(
    client: Any, anthropic_fake: fake_anthropic.FakeAnthropic
) -> None:
    frames = turn(client, options={"temperature": 0.5})
    cid = frames[0].data["conversation_id"]
    refused(client, conversation_id=cid, provider="anthropic", options={"top_p": 0.5})
    doc = client.get(f"/chat?conversation_id={cid}").get_json()
    assert doc["options"] == {"temperature": 0.5} and doc["provider"] == "openai"
    assert len(doc["messages"]) == 2 and anthropic_fake.messages_requests() == []


def test_accepted_options_reach_the_upstream_exactly_and_stay_on_the_conversation(
    client: Any, upstream: FakeUpstream, data_dir: Path
) -> None:
    options = {
        "reasoning_effort": "high",
        "reasoning_summary": "detailed",
        "verbosity": "low",
        "temperature": 0.5,
        "top_p": 0.9,
        "max_output_tokens": 300,
    }
    frames = turn(client, options=options)
    assert frames[-1].event == "done", frames[-1]
    body = upstream.last().body
    assert body["reasoning"] == {"effort": "high", "summary": "detailed"}
    assert body["text"] == {"verbosity": "low"}
    assert (body["temperature"], body["top_p"], body["max_output_tokens"]) == (0.5, 0.9, 300)
    cid = frames[0].data["conversation_id"]
    assert client.get(f"/chat?conversation_id={cid}").get_json()["options"] == options
    assert reply_metadata(data_dir, frames)["options"] == options
    # The next turn without options uses the conversation's.
    frames = turn(client, conversation_id=cid)
    assert upstream.last().body["temperature"] == 0.5
    assert reply_metadata(data_dir, frames)["options"] == options
    # A turn with options replaces them; an empty object clears them.
    turn(client, conversation_id=cid, options={"top_p": 0.2})
    body = upstream.last().body
    assert body["top_p"] == 0.2 and "temperature" not in body and "reasoning" not in body
    assert client.get(f"/chat?conversation_id={cid}").get_json()["options"] == {"top_p": 0.2}
    frames = turn(client, conversation_id=cid, options={})
    assert "top_p" not in upstream.last().body
    assert client.get(f"/chat?conversation_id={cid}").get_json()["options"] == {}
    assert "options" not in reply_metadata(data_dir, frames)


def test_a_switch_drops_what_the_new_model_refuses_and_says_which(
    client: Any,
    upstream: FakeUpstream,
    anthropic_fake: fake_anthropic.FakeAnthropic,
    data_dir: Path,
) -> None:
    options = {"reasoning_effort": "high", "temperature": 0.5, "max_output_tokens": 300}
    frames = turn(client, options=options)
    cid = frames[0].data["conversation_id"]
    assert "options_dropped" not in reply_metadata(data_dir, frames)
    frames = turn(client, conversation_id=cid, provider="anthropic")
    assert frames[-1].event == "done", frames[-1]
    body = anthropic_fake.last().body
    assert "temperature" not in body
    assert body["output_config"] == {"effort": "high"} and body["max_tokens"] == 300
    metadata = reply_metadata(data_dir, frames)
    assert metadata["options"] == {"reasoning_effort": "high", "max_output_tokens": 300}
    assert metadata["options_dropped"] == ["temperature"]
    # The conversation keeps them all: back on OpenAI, temperature is sent again.
    doc = client.get(f"/chat?conversation_id={cid}").get_json()
    assert doc["options"] == options
    frames = turn(client, conversation_id=cid, provider="openai")
    assert upstream.last().body["temperature"] == 0.5
    assert "options_dropped" not in reply_metadata(data_dir, frames)


def test_a_fallback_candidate_gets_only_what_it_takes(
    client: Any,
    upstream: FakeUpstream,
    anthropic_fake: fake_anthropic.FakeAnthropic,
    data_dir: Path,
) -> None:
    upstream.script(["429"])
    frames = turn(
        client, options={"temperature": 0.5, "verbosity": "high", "max_output_tokens": 200}
    )
    assert [f.event for f in frames][:2] == ["conversation", "fallback"]
    assert frames[-1].event == "done" and frames[-1].data["provider"] == "anthropic"
    assert upstream.last().body["temperature"] == 0.5  # the chosen model was sent them all
    body = anthropic_fake.last().body
    assert not {"temperature", "verbosity", "text"} & set(body) and body["max_tokens"] == 200
    metadata = reply_metadata(data_dir, frames)
    assert metadata["options"] == {"max_output_tokens": 200}
    assert metadata["options_dropped"] == ["verbosity", "temperature"]


def test_a_template_s_options_go_through_the_same_check(
    client: Any, anthropic_fake: fake_anthropic.FakeAnthropic
) -> None:
    template = {"name": "T", "instructions": "Be kind.", "options": {"temperature": 0.4}}
    response = client.post("/templates", json={**template, "options": {"temperature": 9}})
    assert response.status_code == 400 and "temperature" in response.get_json()["error"]["message"]
    response = client.post("/templates", json={**template, "provider": "anthropic"})
    assert response.status_code == 201, response.data
    tid = response.get_json()["id"]
    error = refused(client, template_id=tid)
    assert error["option"] == "temperature" and anthropic_fake.messages_requests() == []
