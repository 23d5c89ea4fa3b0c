"""Continue over HTTP (API.md `POST /chat`, `continue_message_id`), through the real adapters and
SDKs against the fake upstreams on 127.0.0.1 (Responses and Anthropic Messages): the exact body the
upstream receives (the branch replayed, the partial reply as the assistant's turn, then the request
to go on), the text appended to the same message, summed usage and cost, the event stream's shape,
a failed continuation that keeps the earlier text and status, re-attach, and the refusals.

Imports the app only through `create_app` and the HTTP routes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from responses_client import pricing
from tests.chat.test_in_flight import Browser, assistant, read_until, wait_for
from tests.conftest import Frame, chat, parse_sse, reply_text, stored
from tests.fake_upstream import FakeUpstream, Recorded
from tests.fakes import anthropic as fake_anthropic

INSTRUCTIONS = "Answer briefly."
MODEL = "gpt-5.4-mini"
CLAUDE = "claude-sonnet-5-5"
CONVERSATION_KEYS = {
    "conversation_id",
    "chat_name",
    "user_message_id",
    "assistant_message_id",
    "model",
    "provider",
    "context_mode",
    "continue_message_id",
}
USAGE_KEYS = (
    "input_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
)


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    return make_app(CHAT_INSTRUCTIONS=INSTRUCTIONS)


def cut_off(upstream: FakeUpstream, client: Any, text: str, after: int) -> list[Frame]:
    """A first turn the Responses fake cuts off (`incomplete`, max_output_tokens) after `after`
    deltas of 4 characters."""
    upstream.script([{"kind": "incomplete", "text": text, "after": after}])
    frames = chat(client, message="Count to five in words.")
    assert frames[-1].event == "done" and frames[-1].data["status"] == "incomplete"
    return frames


def continue_turn(client: Any, cid: str, mid: str, **body: Any) -> Any:
    return client.post("/chat", json={"conversation_id": cid, "continue_message_id": mid, **body})


def responses_usage(body: dict[str, Any], output_tokens: int) -> dict[str, int]:
    """The Responses fake's figures for one request (no chain, no cache)."""
    n_in = max(1, len(json.dumps(body["input"])) // 4 + len(body["instructions"]) // 4)
    return {
        "input_tokens": n_in,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "output_tokens": output_tokens,
        "reasoning_tokens": 0,
        "total_tokens": n_in + output_tokens,
    }


def summed(*usages: dict[str, int]) -> dict[str, int]:
    return {key: sum(u[key] for u in usages) for key in USAGE_KEYS}


def go_on_request(rec: Recorded) -> str:
    """The text of the request to go on: the last user turn the upstream received."""
    last = rec.body["input"][-1]
    assert last["role"] == "user"
    content = last["content"]
    return content if isinstance(content, str) else "".join(p["text"] for p in content)


def plain(turns: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(role, text) of each turn, whatever form its content takes."""
    out = []
    for turn in turns:
        content = turn["content"]
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
        out.append((turn["role"], text))
    return out


# -- the Responses API ------------------------------------------------------------------------


def test_continue_an_incomplete_reply_appends_to_it(client, upstream, data_dir):
    first = cut_off(upstream, client, "One, two, three, four, five.", after=3)
    cid = first[0].data["conversation_id"]
    mid = first[0].data["assistant_message_id"]
    assert reply_text(first) == "One, two, th"
    usage1 = first[-1].data["usage"]

    upstream.script([{"kind": "ok", "text": "ree, four, five."}])
    response = continue_turn(client, cid, mid)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    frames = parse_sse(response.data)

    # What the upstream got: the branch replayed, ending with the partial reply, then the request
    # to go on; never chained (the reply's text must end the history).
    rec = upstream.responses_requests()[-1]
    body = rec.body
    assert "previous_response_id" not in body or body["previous_response_id"] is None
    assert body["instructions"] == INSTRUCTIONS and body["stream"] is True
    assert plain(body["input"][:2]) == [
        ("user", "Count to five in words."),
        ("assistant", "One, two, th"),
    ]
    assert len(body["input"]) == 3 and "exactly where it stopped" in go_on_request(rec)

    # A turn of its own: numbered from 1, `conversation` first with the continued message.
    assert [f.id for f in frames] == [f"{mid}:{n}" for n in range(1, len(frames) + 1)]
    head, last = frames[0], frames[-1]
    assert head.event == "conversation" and set(head.data) == CONVERSATION_KEYS
    assert head.data["assistant_message_id"] == mid == head.data["continue_message_id"]
    assert head.data["user_message_id"] is None and head.data["conversation_id"] == cid
    assert (head.data["provider"], head.data["model"]) == ("openai", MODEL)
    assert head.data["context_mode"] == "replayed"
    assert {f.event for f in frames[1:-1]} == {"delta"} and reply_text(frames) == "ree, four, five."

    # `done`: the continued message, usage and cost summed over both calls.
    usage2 = responses_usage(body, output_tokens=4)
    cost1 = first[-1].data["cost_usd"]
    cost2 = pricing.quote("openai", MODEL, usage2).cost_usd
    assert isinstance(cost1, float) and isinstance(cost2, float)
    assert last.event == "done"
    assert last.data["message_id"] == mid and last.data["status"] == "completed"
    assert last.data["response_id"] == rec.response_id and last.data["error"] is None
    assert last.data["usage"] == summed(usage1, usage2)
    assert last.data["cost_usd"] == pytest.approx(cost1 + cost2, abs=1e-12)

    # Stored: one message, its text continued, summed figures, the calls counted.
    saved = stored(data_dir, "alice", cid)
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"]
    reply = saved["messages"][1]
    assert reply["id"] == mid and reply["text"] == "One, two, three, four, five."
    assert reply["status"] == "completed" and reply["error"] is None
    assert reply["usage"] == last.data["usage"] and reply["cost_usd"] == last.data["cost_usd"]
    assert reply["response_id"] == rec.response_id
    assert reply["metadata"]["continuations"] == 1
    assert "continuing" not in reply["metadata"]
    assert reply["metadata"].get("finish_reason") != "max_output_tokens"
    assert saved["totals"]["output_tokens"] == usage1["output_tokens"] + 4
    assert saved["totals"]["cost_usd"] == pytest.approx(cost1 + cost2, abs=1e-12)
    view = client.get(f"/chat?conversation_id={cid}").get_json()
    assert view["current_message_id"] == mid
    assert view["last_response_id"] == rec.response_id  # the next turn chains from the whole reply

    # The next turn chains from the continued reply as from any.
    upstream.script([{"kind": "ok", "text": "Done."}])
    after = chat(client, conversation_id=cid, message="Thanks.")
    assert after[0].data["context_mode"] == "chained"
    assert upstream.responses_requests()[-1].body["previous_response_id"] == rec.response_id


def test_a_reply_cut_off_again_is_continued_again(client, upstream, data_dir):
    first = cut_off(upstream, client, "aaaabbbbcccc", after=1)
    cid, mid = first[0].data["conversation_id"], first[0].data["assistant_message_id"]
    upstream.script([{"kind": "incomplete", "text": "bbbbcccc", "after": 1}])
    second = parse_sse(continue_turn(client, cid, mid).data)
    assert second[-1].data["status"] == "incomplete"
    assert second[-1].data["error"]["code"] == "max_output_tokens"
    upstream.script([{"kind": "ok", "text": "cccc"}])
    third = parse_sse(continue_turn(client, cid, mid).data)
    assert third[-1].data["status"] == "completed"
    # The second continuation replays the reply as it stands: both earlier parts.
    assert plain(upstream.responses_requests()[-1].body["input"])[1] == ("assistant", "aaaabbbb")
    reply = assistant(data_dir, cid, mid)
    assert reply["text"] == "aaaabbbbcccc" and reply["metadata"]["continuations"] == 2
    assert reply["usage"]["output_tokens"] == 3


def test_a_failed_continuation_keeps_the_earlier_text_and_status(client, upstream, data_dir):
    first = cut_off(upstream, client, "One, two, three.", after=2)
    cid, mid = first[0].data["conversation_id"], first[0].data["assistant_message_id"]
    before = assistant(data_dir, cid, mid)

    upstream.script(["500", "500", "500"])  # the first try and both retries
    frames = parse_sse(continue_turn(client, cid, mid).data)
    assert [f.event for f in frames] == ["conversation", "error"]
    error = frames[-1].data
    assert error["code"] == "upstream_unavailable" and error["message_id"] == mid
    assert error["retryable"] is True and error["cause"] == "server_error"
    assert frames[-1].id == f"{mid}:2"

    after = assistant(data_dir, cid, mid)
    assert after["text"] == before["text"] == "One, two"
    assert after["status"] == "incomplete" and after["error"] == before["error"]
    assert after["response_id"] == before["response_id"]
    assert after["usage"] == before["usage"] and after["cost_usd"] == before["cost_usd"]
    assert after["metadata"]["continuations"] == 1
    assert after["metadata"]["continuation_error"]["code"] == "upstream_unavailable"
    assert "continuing" not in after["metadata"]

    # Still continuable; a success clears the failure's note.
    upstream.script([{"kind": "ok", "text": ", three."}])
    done = parse_sse(continue_turn(client, cid, mid).data)[-1]
    assert done.event == "done" and done.data["status"] == "completed"
    final = assistant(data_dir, cid, mid)
    assert final["text"] == "One, two, three." and final["metadata"]["continuations"] == 2
    assert "continuation_error" not in final["metadata"]


def test_reattach_sends_the_continuation_frames(client, upstream):
    first = cut_off(upstream, client, "Alpha beta gamma.", after=2)
    cid, mid = first[0].data["conversation_id"], first[0].data["assistant_message_id"]
    upstream.script([{"kind": "ok", "text": "ta gamma."}])
    frames = parse_sse(continue_turn(client, cid, mid).data)

    replay = parse_sse(client.get(f"/conversations/{cid}/events").data)
    assert [(f.event, f.id, f.data) for f in replay] == [(f.event, f.id, f.data) for f in frames]
    assert replay[0].data["continue_message_id"] == mid
    assert reply_text(replay) == "ta gamma."  # the continuation's text, not the first turn's
    rest = client.get(f"/conversations/{cid}/events", headers={"Last-Event-ID": frames[1].id}).data
    assert [f.id for f in parse_sse(rest)] == [f.id for f in frames[2:]]


@pytest.fixture
def slow(upstream: FakeUpstream) -> Iterator[FakeUpstream]:
    upstream.delta_delay = 0.01
    yield upstream


def stop_midway(browser: Browser, body: dict[str, Any]) -> list[Frame]:
    """Open a turn, stop it after its first delta, and return all its frames."""
    conn, response = browser.open("POST", "/chat", body)
    assert response.status == 200
    head = read_until(response, b"event: delta")
    cid = parse_sse(head.split(b"\n\n")[0] + b"\n\n")[0].data["conversation_id"]
    assert browser.request("POST", f"/conversations/{cid}/stop")[0] == 204
    frames = parse_sse(head + response.read())
    conn.close()
    assert frames[-1].event == "done" and frames[-1].data["status"] == "stopped"
    return frames


def test_stop_during_a_continuation_keeps_what_came(live_server, slow, data_dir):
    browser = Browser(live_server.url, live_server.app)
    slow.script([{"kind": "ok", "text": "word " * 200, "chunk_size": 5}])
    first = stop_midway(browser, {"message": "Tell me a story."})
    cid, mid = first[0].data["conversation_id"], first[0].data["assistant_message_id"]
    stopped = assistant(data_dir, cid, mid)
    assert stopped["status"] == "stopped" and stopped["text"] == reply_text(first)

    # Continue it, and stop the continuation midway: what came is appended, status stopped.
    slow.script([{"kind": "ok", "text": "more " * 200, "chunk_size": 5}])
    frames = stop_midway(browser, {"conversation_id": cid, "continue_message_id": mid})
    assert frames[0].data["continue_message_id"] == mid
    added = reply_text(frames)
    saved = assistant(data_dir, cid, mid)
    assert added.startswith("more") and saved["text"] == stopped["text"] + added
    assert saved["status"] == "stopped" and saved["metadata"]["continuations"] == 1
    assert saved["response_id"] is None  # a stopped reply is replayed, never chained from
    # The model received the stopped reply's text as the end of the history.
    rec = slow.responses_requests()[-1]
    assert plain(rec.body["input"])[-2] == ("assistant", stopped["text"])


def test_the_reply_is_in_progress_while_it_is_continued(live_server, slow, data_dir):
    browser = Browser(live_server.url, live_server.app)
    slow.script([{"kind": "incomplete", "text": "abcdefgh", "after": 1}])
    first = parse_sse(browser.request("POST", "/chat", {"message": "Go."})[2])
    cid, mid = first[0].data["conversation_id"], first[0].data["assistant_message_id"]
    slow.script([{"kind": "ok", "text": "x" * 1000, "chunk_size": 5}])
    body = {"conversation_id": cid, "continue_message_id": mid}
    conn, response = browser.open("POST", "/chat", body)
    head = read_until(response, b"event: delta")
    live = assistant(data_dir, cid, mid)
    assert live["status"] == "in_progress" and live["text"] == "abcd"
    # A re-attach meanwhile follows the continuation, from its own first frame.
    status, _, replay = browser.request("GET", f"/conversations/{cid}/events")
    assert status == 200
    replayed = parse_sse(replay)
    assert replayed[0].data["continue_message_id"] == mid and replayed[-1].event == "done"
    assert reply_text(replayed) == "x" * 1000
    rest = response.read()
    conn.close()
    assert parse_sse(head + rest)[-1].event == "done"
    wait_for(lambda: assistant(data_dir, cid, mid)["status"] == "completed")
    assert assistant(data_dir, cid, mid)["text"] == "abcd" + "x" * 1000


def test_a_second_turn_while_a_continuation_runs_is_refused(live_server, slow, data_dir):
    browser = Browser(live_server.url, live_server.app)
    slow.script([{"kind": "incomplete", "text": "abcdefgh", "after": 1}])
    status, _, body = browser.request("POST", "/chat", {"message": "Go."})
    first = parse_sse(body)
    cid, mid = first[0].data["conversation_id"], first[0].data["assistant_message_id"]
    slow.script([{"kind": "ok", "text": "x" * 1000, "chunk_size": 5}])
    conn, response = browser.open(
        "POST", "/chat", {"conversation_id": cid, "continue_message_id": mid}
    )
    read_until(response, b"event: delta")
    for body in (
        {"conversation_id": cid, "continue_message_id": mid},
        {"conversation_id": cid, "message": "Another."},
    ):
        status, _, answer = browser.request("POST", "/chat", body)
        assert status == 409 and json.loads(answer)["error"]["code"] == "turn_in_progress"
    rest = response.read()
    conn.close()
    assert parse_sse(rest)[-1].event == "done"
    wait_for(lambda: assistant(data_dir, cid, mid)["status"] == "completed")


def test_what_cannot_be_continued_is_refused(client, upstream, data_dir):
    upstream.script([{"kind": "ok", "text": "Complete answer."}])
    done = chat(client, message="Hello.")
    cid = done[0].data["conversation_id"]
    completed, user = done[0].data["assistant_message_id"], done[0].data["user_message_id"]
    first = cut_off(upstream, client, "Partial answer.", after=2)
    other = first[0].data["conversation_id"]
    partial = first[0].data["assistant_message_id"]
    before = stored(data_dir, "alice", cid)
    n_requests = len(upstream.responses_requests())

    def refused(body: dict[str, Any], status: int, code: str) -> None:
        response = client.post("/chat", json=body)
        assert response.status_code == status, (body, response.data)
        assert response.get_json()["error"]["code"] == code, body

    refused({"conversation_id": cid, "continue_message_id": completed}, 400, "bad_request")
    refused({"conversation_id": cid, "continue_message_id": user}, 400, "bad_request")
    refused({"conversation_id": cid, "continue_message_id": "m_nope"}, 404, "not_found")
    refused({"conversation_id": cid, "continue_message_id": partial}, 404, "not_found")  # not here
    refused({"continue_message_id": partial}, 400, "bad_request")  # no conversation_id
    base = {"conversation_id": other, "continue_message_id": partial}
    refused({**base, "message": "and more"}, 400, "bad_request")
    refused({**base, "regenerate": True}, 400, "bad_request")
    refused({**base, "parent_message_id": partial}, 400, "bad_request")
    refused({**base, "attachments": ["att_" + "0" * 24]}, 400, "bad_request")
    refused({**base, "model": "gpt-other"}, 400, "bad_request")  # its own model continues it
    refused({**base, "continue_message_id": ""}, 400, "bad_request")
    refused({**base, "continue_message_id": 7}, 400, "bad_request")
    assert len(upstream.responses_requests()) == n_requests  # nothing was sent
    assert stored(data_dir, "alice", cid)["messages"] == before["messages"]
    # Naming its own model is fine.
    upstream.script([{"kind": "ok", "text": "answer."}])
    frames = parse_sse(continue_turn(client, other, partial, model=MODEL, message="").data)
    assert frames[-1].event == "done"
    assert assistant(data_dir, other, partial)["text"] == "Partial answer."


# -- the Anthropic Messages API ---------------------------------------------------------------


@pytest.fixture
def anthropic_fake() -> Iterator[fake_anthropic.FakeAnthropic]:
    with fake_anthropic.running() as fake:
        yield fake


@pytest.fixture
def claude_client(make_app: Callable[..., Any], anthropic_fake: Any) -> Any:
    from tests.conftest import login

    app = make_app(
        CHAT_INSTRUCTIONS=INSTRUCTIONS,
        ANTHROPIC_API_KEY="sk-ant-test-SENTINEL-0000000000000000",
        ANTHROPIC_BASE_URL=anthropic_fake.base_url,
    )
    return login(app.test_client(), app)


def anthropic_turns(body: dict[str, Any]) -> list[tuple[str, str]]:
    return plain(body["messages"])


def test_continue_over_anthropic(claude_client, anthropic_fake, data_dir):
    anthropic_fake.script([{"kind": "max_tokens", "text": "Roses are red, violets"}])
    first = chat(claude_client, message="A short poem.", provider="anthropic")
    assert first[-1].data["status"] == "incomplete"
    assert first[-1].data["error"]["code"] == "max_output_tokens"
    cid, mid = first[0].data["conversation_id"], first[0].data["assistant_message_id"]
    usage1 = first[-1].data["usage"]

    anthropic_fake.script([{"kind": "ok", "text": " are blue."}])
    frames = parse_sse(continue_turn(claude_client, cid, mid).data)
    rec = anthropic_fake.messages_requests()[-1]
    turns = anthropic_turns(rec.body)
    assert turns[:2] == [("user", "A short poem."), ("assistant", "Roses are red, violets")]
    assert turns[2][0] == "user" and "exactly where it stopped" in turns[2][1]
    assert len(turns) == 3 and rec.body["model"] == CLAUDE

    assert frames[0].data["continue_message_id"] == mid
    assert (frames[0].data["provider"], frames[0].data["model"]) == ("anthropic", CLAUDE)
    assert frames[-1].event == "done" and frames[-1].data["status"] == "completed"
    usage = frames[-1].data["usage"]
    assert usage["output_tokens"] == usage1["output_tokens"] + 3  # " are blue." in 4-char deltas
    assert usage["input_tokens"] > usage1["input_tokens"]
    reply = assistant(data_dir, cid, mid)
    assert reply["text"] == "Roses are red, violets are blue." and reply["status"] == "completed"
    assert reply["usage"] == usage and reply["metadata"]["continuations"] == 1
    assert reply["error"] is None and reply["provider"] == "anthropic"


def test_the_reply_is_continued_by_its_own_provider(claude_client, anthropic_fake, upstream):
    """A conversation that moved on to another provider: the reply's own continues it."""
    anthropic_fake.script([{"kind": "max_tokens", "text": "Half of it"}])
    first = chat(claude_client, message="Say something.", provider="anthropic")
    cid, mid = first[0].data["conversation_id"], first[0].data["assistant_message_id"]
    upstream.script([{"kind": "ok", "text": "From OpenAI."}])
    later = chat(
        claude_client,
        conversation_id=cid,
        message="Other branch.",
        provider="openai",
        parent_message_id="root",
    )
    assert later[-1].data["provider"] == "openai"
    n_openai = len(upstream.responses_requests())
    anthropic_fake.script([{"kind": "ok", "text": ", the rest."}])
    frames = parse_sse(continue_turn(claude_client, cid, mid).data)
    assert frames[0].data["provider"] == "anthropic" and frames[-1].event == "done"
    assert len(upstream.responses_requests()) == n_openai
    view = claude_client.get(f"/chat?conversation_id={cid}").get_json()
    assert view["current_message_id"] == mid  # the continued reply's branch is shown
    assert view["messages"][-1]["text"] == "Half of it, the rest."
    assert view["provider"] == "openai"  # the conversation's own choice is left as it was
