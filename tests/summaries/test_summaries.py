"""Summaries end to end against the fake upstream (API "Context"): the exact summary call, the turn
that carries the summary in its instructions, reuse on the next turn, incremental growth, an edit
above a summary, a failed summary call, and the setting off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.context import SUMMARY_PREFIX
from app.turns.summarise import SUMMARY_INSTRUCTIONS
from tests.conftest import chat, login, stored

from .helpers import PROVIDERS, REPLY, is_summary_call, summary_reply, words

BIG = 2000  # tokens of each long message: three turns fit the window, a fourth does not
ANOTHER = "Another answer" + " ok" * 48


def make(make_app: Any, tmp_path: Path, upstream: Any, monkeypatch: Any, **overrides: Any) -> Any:
    path = tmp_path / "providers.toml"
    path.write_text(PROVIDERS.format(base_url=upstream.base_url))
    monkeypatch.setenv("PLAIN_KEY", "sk-plain-test")
    upstream.reply = summary_reply
    config = {"CHAT_PROVIDERS_FILE": str(path), "OPENAI_API_KEY": "", "CHAT_SUMMARIES": True}
    config.update(overrides)
    return make_app(**config)


@pytest.fixture
def app(make_app: Any, tmp_path: Path, upstream: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return make(make_app, tmp_path, upstream, monkeypatch)


def summary_calls(upstream: Any) -> list[Any]:
    return [r for r in upstream.responses_requests() if is_summary_call(r.body)]


def three_turns(client: Any) -> str:
    """alpha, beta, gamma: 2,000 tokens each with a 50-token reply; all of it still fits."""
    cid = chat(client, message=words("alpha", BIG))[0].data["conversation_id"]
    for word in ("beta", "gamma"):
        chat(client, message=words(word, BIG), conversation_id=cid)
    return cid


def turns_of(*texts: str) -> list[dict[str, str]]:
    out = []
    for text in texts:
        out += [{"role": "user", "content": text}, {"role": "assistant", "content": REPLY}]
    return out


def test_the_dropped_prefix_is_summarised_before_the_turn(
    client: Any, app: Any, upstream: Any, data_dir: Path
) -> None:
    cid = three_turns(client)
    assert summary_calls(upstream) == []
    four = chat(client, message=words("delta", BIG), conversation_id=cid)
    *_, call, turn = upstream.responses_requests()
    # The summary call: a fixed instruction, the dropped messages as one text, never stored.
    # (The prefix cut leaves room for a summary beside what follows: alpha and beta go.)
    assert call.body == {
        "model": "gpt-5.4-mini",
        "input": (
            f"Conversation:\n\nUser: {words('alpha', BIG)}\n\nAssistant: {REPLY}"
            f"\n\nUser: {words('beta', BIG)}\n\nAssistant: {REPLY}"
        ),
        "instructions": SUMMARY_INSTRUCTIONS,
        "stream": True,
        "store": False,
        "max_output_tokens": 500,
        "stream_options": {"include_obfuscation": False},
    }
    # The turn: the summary rides on the instructions, the messages after it go as text.
    instructions = app.config["CHAT_INSTRUCTIONS"]
    assert (
        turn.body["instructions"] == instructions + SUMMARY_PREFIX + "SUMMARY of 2 user messages."
    )
    assert turn.body["input"] == [
        *turns_of(words("gamma", BIG)),
        {"role": "user", "content": words("delta", BIG)},
    ]
    assert "previous_response_id" not in turn.body
    assert four[0].event == "conversation" and four[0].data["context_mode"] == "compacted"
    assert four[-1].event == "done" and four[-1].data["context_mode"] == "compacted"

    doc = stored(data_dir, "alice", cid)
    (summary,) = doc["summaries"]
    assert summary["covers"] == [m["id"] for m in doc["messages"][:4]]
    assert summary["text"] == "SUMMARY of 2 user messages."
    assert (summary["provider"], summary["model"]) == ("plain", "gpt-5.4-mini")
    assert summary["usage"]["input_tokens"] > 0 and summary["provider_items"] is None
    assert doc["messages"][-1]["context_mode"] == "compacted"
    assert "summary_error" not in doc["messages"][-1]["metadata"]
    # Its tokens count in the totals (API "Context": totals and statistics).
    replies = sum(m["usage"]["input_tokens"] for m in doc["messages"] if m.get("usage"))
    assert doc["totals"]["input_tokens"] == replies + summary["usage"]["input_tokens"]

    page = client.get(f"/chat?conversation_id={cid}").get_json()
    (shown,) = page["summaries"]
    assert shown["covers"] == summary["covers"] and shown["text"] == summary["text"]
    assert "provider_items" not in shown


def test_a_summary_is_reused_then_grows_incrementally(
    client: Any, app: Any, upstream: Any, data_dir: Path
) -> None:
    cid = three_turns(client)
    chat(client, message=words("delta", BIG), conversation_id=cid)
    assert len(summary_calls(upstream)) == 1
    instructions = app.config["CHAT_INSTRUCTIONS"]

    # The next turns still fit beside the summary: no second summary call, the same text sent.
    for text in ("and now?", words("epsilon", BIG)):
        five = chat(client, message=text, conversation_id=cid)
        assert len(summary_calls(upstream)) == 1
        last = upstream.last().body
        assert last["instructions"] == instructions + SUMMARY_PREFIX + "SUMMARY of 2 user messages."
        assert last["input"][0] == {"role": "user", "content": words("gamma", BIG)}
        assert five[-1].data["context_mode"] == "compacted"

    # One more long message pushes more out: one call with the earlier summary and the messages
    # after it.
    chat(client, message=words("zeta", BIG), conversation_id=cid)
    calls = summary_calls(upstream)
    assert len(calls) == 2
    grown = calls[-1].body["input"]
    assert grown.startswith(
        f"Earlier summary:\n\nSUMMARY of 2 user messages.\n\nConversation:\n\n"
        f"User: {words('gamma', BIG)}\n\nAssistant: {REPLY}"
    )
    assert words("alpha", BIG) not in grown  # what the earlier summary holds is not sent again
    doc = stored(data_dir, "alice", cid)
    first, second = doc["summaries"]
    assert second["covers"][: len(first["covers"])] == first["covers"]
    assert len(second["covers"]) > len(first["covers"])
    assert upstream.last().body["instructions"] == (instructions + SUMMARY_PREFIX + second["text"])
    # The page marks the newest summary of the branch (both stand for a prefix of it).
    page = client.get(f"/chat?conversation_id={cid}").get_json()
    assert [s["id"] for s in page["summaries"]] == [first["id"], second["id"]]


def test_an_edit_above_a_summary_invalidates_it_for_the_new_branch(
    client: Any, app: Any, upstream: Any, data_dir: Path
) -> None:
    cid = three_turns(client)
    chat(client, message=words("delta", BIG), conversation_id=cid)
    doc = stored(data_dir, "alice", cid)
    old = doc["summaries"][0]
    alpha = doc["messages"][0]["id"]

    # A new answer to the first message: a branch whose path does not start with the covers.
    upstream.reply = lambda body: ANOTHER
    chat(client, conversation_id=cid, parent_message_id=alpha, regenerate=True)
    upstream.reply = summary_reply
    for word in ("beta", "gamma"):
        chat(client, message=words(word, BIG), conversation_id=cid)
    assert len(summary_calls(upstream)) == 1  # the new branch still fits
    chat(client, message=words("delta", BIG), conversation_id=cid)
    calls = summary_calls(upstream)
    assert len(calls) == 2
    # Summarised afresh: the new answer, no earlier summary.
    assert calls[-1].body["input"] == (
        f"Conversation:\n\nUser: {words('alpha', BIG)}\n\nAssistant: {ANOTHER}"
        f"\n\nUser: {words('beta', BIG)}\n\nAssistant: {REPLY}"
    )
    doc = stored(data_dir, "alice", cid)
    assert doc["summaries"][0]["id"] == old["id"]  # kept for its own branch
    new = doc["summaries"][1]
    assert new["covers"][0] == alpha and new["covers"][1] != old["covers"][1]
    page = client.get(f"/chat?conversation_id={cid}").get_json()
    assert [s["id"] for s in page["summaries"]] == [new["id"]]

    # Back on the first branch, its own summary is used again (no call).
    client.put(f"/conversations/{cid}/current", json={"message_id": old["covers"][1]})
    chat(client, message="back", conversation_id=cid)
    assert len(summary_calls(upstream)) == 2
    assert upstream.last().body["instructions"].endswith(SUMMARY_PREFIX + old["text"])


def test_a_failed_summary_call_leaves_plain_trimming_and_says_so(
    client: Any, app: Any, upstream: Any, data_dir: Path
) -> None:
    cid = three_turns(client)
    upstream.script(["500"])  # the next call, the summary's, fails
    four = chat(client, message=words("delta", BIG), conversation_id=cid)
    *_, failed, turn = upstream.responses_requests()
    assert is_summary_call(failed.body) and failed.status == 500
    assert turn.body["instructions"] == app.config["CHAT_INSTRUCTIONS"]
    assert turn.body["input"] == [
        *turns_of(words("beta", BIG), words("gamma", BIG)),
        {"role": "user", "content": words("delta", BIG)},
    ]
    # Planned compacted (the `conversation` frame), replayed in the end (`done`, the record).
    assert four[0].data["context_mode"] == "compacted"
    assert four[-1].event == "done" and four[-1].data["context_mode"] == "replayed"
    doc = stored(data_dir, "alice", cid)
    reply = doc["messages"][-1]
    assert reply["status"] == "completed" and reply["context_mode"] == "replayed"
    assert reply["metadata"]["summary_error"] == "upstream_unavailable"
    assert reply["metadata"]["trimmed_messages"] == 2
    assert doc["summaries"] == []

    # The next turn tries again, and succeeds.
    chat(client, message="again", conversation_id=cid)
    assert len(summary_calls(upstream)) == 2
    assert stored(data_dir, "alice", cid)["summaries"] != []


def test_summaries_off_by_default_trim_without_a_call(
    make_app: Any, tmp_path: Path, upstream: Any, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    app = make(make_app, tmp_path, upstream, monkeypatch, CHAT_SUMMARIES=False)
    client = login(app.test_client(), app)
    cid = three_turns(client)
    four = chat(client, message=words("delta", BIG), conversation_id=cid)
    assert summary_calls(upstream) == []
    assert four[-1].data["context_mode"] == "replayed"
    reply = stored(data_dir, "alice", cid)["messages"][-1]
    assert "summary_error" not in reply["metadata"]


def test_the_summary_model_setting_names_who_writes_them(
    make_app: Any, tmp_path: Path, upstream: Any, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    app = make(make_app, tmp_path, upstream, monkeypatch, CHAT_SUMMARY_MODEL="plain:gpt-5.4-nano")
    client = login(app.test_client(), app)
    cid = three_turns(client)
    chat(client, message=words("delta", BIG), conversation_id=cid)
    *_, call, turn = upstream.responses_requests()
    assert call.body["model"] == "gpt-5.4-nano" and turn.body["model"] == "gpt-5.4-mini"
    (summary,) = stored(data_dir, "alice", cid)["summaries"]
    assert (summary["provider"], summary["model"]) == ("plain", "gpt-5.4-nano")


def test_an_unknown_summary_provider_is_a_noted_failure(
    make_app: Any, tmp_path: Path, upstream: Any, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    app = make(make_app, tmp_path, upstream, monkeypatch, CHAT_SUMMARY_MODEL="nobody:model")
    client = login(app.test_client(), app)
    cid = three_turns(client)
    four = chat(client, message=words("delta", BIG), conversation_id=cid)
    assert summary_calls(upstream) == [] and four[-1].data["context_mode"] == "replayed"
    reply = stored(data_dir, "alice", cid)["messages"][-1]
    assert reply["metadata"]["summary_error"] == "unknown_model"
