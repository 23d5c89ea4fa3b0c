"""A summary written for a turn is used by that turn (API "Context"): its output cap is the room the
plan left beside the messages kept, its prefix counted, so a summary that fills its cap still fits
(a fit just missed would fall back to plain trimming and pay for a summary on every turn, never
used); one longer than its cap (another tokenizer) is cut to the room, not dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.context import SUMMARY_PREFIX, SUMMARY_RESERVE_TOKENS, TokenCounter, text_summary_tokens
from tests.conftest import chat, login, stored

from .helpers import REPLY, is_summary_call, words

# Stateless, and room for a summary call's cap of 1,024 (helpers' model allows only 500).
PROVIDERS = """
default = "plain:gpt-5.4-mini"

[providers.plain]
protocol = "responses"
base_url = "{base_url}"
api_key_env = "PLAIN_KEY"
stateful = false
models = ["gpt-5.4-mini"]

[models."plain:gpt-5.4-mini"]
context_window = 12000
max_output_tokens = 2000
"""
COUNTER = TokenCounter("o200k_base")  # the model's own count: words() are exact
BIG = 2000
BUDGET = 12000 - 2000 - 1024  # the window less the model's output limit and the margin


@pytest.fixture
def client(make_app: Any, tmp_path: Path, upstream: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = tmp_path / "providers.toml"
    path.write_text(PROVIDERS.format(base_url=upstream.base_url))
    monkeypatch.setenv("PLAIN_KEY", "sk-plain-test")
    app = make_app(CHAT_PROVIDERS_FILE=str(path), OPENAI_API_KEY="", CHAT_SUMMARIES=True)
    return login(app.test_client(), app)


def summary_calls(upstream: Any) -> list[Any]:
    return [r for r in upstream.responses_requests() if is_summary_call(r.body)]


def room_left(client: Any, cid: str, n: int) -> int:
    """What the next turn's plan leaves for a summary beside the messages it keeps, for a new
    message of `n` three-letter words (the preview's estimate of its length is then exact)."""
    response = client.get(
        f"/conversations/{cid}/context", query_string={"message_chars": 4 * n - 1}
    )
    seen = response.get_json()
    assert seen["message_tokens"] == n + 4 and seen["summary_pending"] is True
    kept = sum(m["tokens"] for m in seen["messages"] if m["state"] == "sent")
    return int(seen["budget"] - seen["instructions_tokens"] - seen["message_tokens"] - kept)


def just_short(client: Any, upstream: Any) -> tuple[str, int]:
    """Four long turns, and the length of a new message (long: the turn cannot replay them all
    beside it) that leaves the summary its reserve plus two tokens: less than its prefix."""
    upstream.reply = REPLY
    cid = chat(client, message=words("alpha", BIG))[0].data["conversation_id"]
    for word in ("beta", "gamma", "delta"):
        chat(client, message=words(word, BIG), conversation_id=cid)
    assert summary_calls(upstream) == []
    n = 1000
    n += room_left(client, cid, n) - SUMMARY_RESERVE_TOKENS - 2
    assert room_left(client, cid, n) == SUMMARY_RESERVE_TOKENS + 2
    assert text_summary_tokens(COUNTER, "") > 2  # the prefix alone is more than the slack
    return cid, n


def test_a_summary_that_fills_its_cap_is_used_by_its_turn(
    client: Any, upstream: Any, data_dir: Path
) -> None:
    cid, n = just_short(client, upstream)

    def reply(body: dict[str, Any]) -> str:  # a writer that uses all of its output cap
        return words("sum", body["max_output_tokens"]) if is_summary_call(body) else REPLY

    upstream.reply = reply
    five = chat(client, message=words("new", n), conversation_id=cid)
    (call,) = summary_calls(upstream)
    turn = upstream.responses_requests()[-1]
    text = words("sum", call.body["max_output_tokens"])
    assert turn.body["instructions"].endswith(SUMMARY_PREFIX + text)
    assert five[-1].data["context_mode"] == "compacted"
    # The same turn planned again (a regenerate, a preview) reuses it: nothing more to write.
    parent = five[0].data["user_message_id"]
    doc = stored(data_dir, "alice", cid)
    under = next(m["parent_id"] for m in doc["messages"] if m["id"] == parent)
    query = {"parent_message_id": under, "message_chars": 4 * n - 1}
    seen = client.get(f"/conversations/{cid}/context", query_string=query).get_json()
    assert seen["summary_pending"] is False and seen["needs_summary"] == []
    assert seen["context_mode"] == "compacted" and seen["summary"]["text"] == text
    again = chat(client, regenerate=True, parent_message_id=parent, conversation_id=cid)
    assert again[-1].data["context_mode"] == "compacted"
    assert len(summary_calls(upstream)) == 1


def test_a_summary_longer_than_its_cap_is_cut_to_its_room(
    client: Any, upstream: Any, data_dir: Path
) -> None:
    cid, n = just_short(client, upstream)

    def reply(body: dict[str, Any]) -> str:  # a writer whose tokens are not the turn's
        return words("sum", 3000) if is_summary_call(body) else REPLY

    upstream.reply = reply
    five = chat(client, message=words("new", n), conversation_id=cid)
    assert five[-1].data["context_mode"] == "compacted"
    (summary,) = stored(data_dir, "alice", cid)["summaries"]
    assert summary["text"].startswith("sum sum") and summary["text"].endswith(" …")
    assert summary["metadata"]["cut"] is True
    assert text_summary_tokens(COUNTER, summary["text"]) <= SUMMARY_RESERVE_TOKENS + 2
    turn = upstream.responses_requests()[-1]
    assert turn.body["instructions"].endswith(SUMMARY_PREFIX + summary["text"])
    doc = stored(data_dir, "alice", cid)
    assert doc["messages"][-1]["metadata"]["estimated_input_tokens"] <= BUDGET
