"""Model-written titles (`CHAT_AUTO_TITLES`): off by default; on, the conversation's own model is
asked after `done`, the user's name always wins, and the call counts in totals and `/stats`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from app.turns.titles import (
    TITLE_INSTRUCTIONS,
    TITLE_MAX_CHARS,
    TITLE_MAX_OUTPUT_TOKENS,
    clean_title,
    light_reasoning,
)
from conversation_manager.models import TITLE_CALL
from tests.conftest import chat, login
from tests.fake_upstream import DEFAULT_REPLY

TITLE = "Greeting the assistant"


def within(check: Callable[[], Any], seconds: float = 5.0) -> Any:
    """Poll `check` until it returns something true (a generous bound, never a fixed sleep)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def titled_reply(body: dict[str, Any]) -> str:
    """The fake's reply: a title for the title call, the usual greeting otherwise."""
    if body.get("instructions") == TITLE_INSTRUCTIONS:
        return f'"**{TITLE}.**"\nA second line the title never keeps.'
    return DEFAULT_REPLY


def title_requests(upstream: Any) -> list[Any]:
    return [
        r for r in upstream.responses_requests() if r.body.get("instructions") == TITLE_INSTRUCTIONS
    ]


@pytest.fixture
def titled(make_app: Callable[..., Any], upstream: Any) -> tuple[Any, Any]:
    app = make_app(CHAT_AUTO_TITLES=True)
    upstream.reply = titled_reply
    return app, login(app.test_client(), app)


def stored_conversation(app: Any, cid: str, user: str = "alice") -> Any:
    return app.extensions["services"].store.get(user, cid)


def test_off_by_default_no_extra_upstream_call(app, client, upstream):
    upstream.reply = titled_reply
    assert app.extensions["services"].chat.settings.auto_titles is False
    frames = chat(client, message="hello there")
    cid = frames[0].data["conversation_id"]
    assert frames[-1].event == "done"
    assert within(lambda: stored_conversation(app, cid).messages[-1].status != "in_progress")
    assert len(upstream.responses_requests()) == 1
    conversation = stored_conversation(app, cid)
    assert conversation.chat_name == "hello there" and TITLE_CALL not in conversation.metadata


def test_on_the_title_is_asked_after_done_and_saved(titled, upstream):
    app, client = titled
    seen_when_asked: list[tuple[str | None, str | None]] = []

    def reply(body: dict[str, Any]) -> str:
        if body.get("instructions") == TITLE_INSTRUCTIONS:
            # What had happened when the title request arrived: the turn's last frame, the reply.
            services = app.extensions["services"]
            cid = services.store.list("alice")[0].id
            last = services.chat.coordination_for("alice").last_frame(cid)
            status = services.store.get("alice", cid).messages[-1].status
            seen_when_asked.append((last[1] if last else None, status))
        return titled_reply(body)

    upstream.reply = reply
    frames = chat(client, message="hello there, how are you today?")
    cid = frames[0].data["conversation_id"]
    assert frames[-1].event == "done"
    assert frames[0].data["chat_name"] == "hello there, how are you today?"
    assert within(lambda: title_requests(upstream))
    assert seen_when_asked == [("done", "completed")]  # asked only after `done` was sent
    reply_request, title_request = upstream.responses_requests()
    assert title_request.time >= reply_request.time
    body = title_request.body
    assert body["model"] == reply_request.body["model"]  # the conversation's own model
    assert body["store"] is False and body["max_output_tokens"] == TITLE_MAX_OUTPUT_TOKENS
    assert "previous_response_id" not in body or body["previous_response_id"] is None
    sent = str(body["input"])
    assert "hello there, how are you today?" in sent and DEFAULT_REPLY in sent
    entry = within(
        lambda: next(
            (
                c
                for c in client.get("/get-all-conversations").get_json()["conversations"]
                if c["chat_name"] == TITLE
            ),
            None,
        )
    )
    assert entry is not None and entry["id"] == cid
    conversation = stored_conversation(app, cid)
    assert conversation.chat_name_source == "model"
    call = conversation.metadata[TITLE_CALL]
    assert call["provider"] == "openai" and call["model"] == body["model"]
    assert call["usage"]["input_tokens"] > 0 and call["created_at"] > 0
    # a second turn asks for no further title
    chat(client, message="and again", conversation_id=cid)
    time.sleep(0.2)  # give a wrongly started title thread a chance to show itself
    assert len(title_requests(upstream)) == 1


def test_the_title_call_counts_in_totals_and_stats(titled, upstream):
    app, client = titled
    cid = chat(client, message="hello there")[0].data["conversation_id"]
    assert within(lambda: TITLE_CALL in stored_conversation(app, cid).metadata)
    conversation = stored_conversation(app, cid)
    call = conversation.metadata[TITLE_CALL]
    reply = conversation.messages[-1]
    assert reply.usage is not None
    totals = conversation.totals
    assert totals.input_tokens == reply.usage.input_tokens + call["usage"]["input_tokens"]
    assert totals.output_tokens == reply.usage.output_tokens + call["usage"]["output_tokens"]
    if call["cost_usd"] is not None:
        assert totals.cost_usd == pytest.approx((reply.cost_usd or 0) + call["cost_usd"])
    stats = client.get("/stats?group_by=model").get_json()
    assert stats["totals"]["turns"] == 1  # the title call is no turn
    assert stats["totals"]["input_tokens"] == totals.input_tokens
    assert stats["totals"]["output_tokens"] == totals.output_tokens
    assert stats["totals"]["cost_usd"] == pytest.approx(totals.cost_usd)
    listed = client.get("/get-all-conversations").get_json()["conversations"][0]
    assert listed["totals"]["input_tokens"] == totals.input_tokens


def test_a_name_given_at_creation_is_never_replaced(titled, upstream):
    app, client = titled
    cid = chat(client, message="hello there", chat_name="My own name")[0].data["conversation_id"]
    chat(client, message="more", conversation_id=cid)
    time.sleep(0.2)
    assert title_requests(upstream) == []
    assert stored_conversation(app, cid).chat_name == "My own name"


def test_a_rename_during_the_title_call_wins(titled, upstream):
    app, client = titled
    upstream.script(["ok", {"kind": "silent", "seconds": 1.5}])  # the title call hangs a while
    cid = chat(client, message="hello there")[0].data["conversation_id"]
    assert within(lambda: title_requests(upstream))
    renamed = client.patch(f"/conversations/{cid}", json={"chat_name": "Renamed by me"})
    assert renamed.status_code == 200
    # the turn's lock is free while the title call runs: the next turn is not refused
    again = chat(client, message="next", conversation_id=cid)
    assert again[-1].event == "done"
    assert within(lambda: TITLE_CALL in stored_conversation(app, cid).metadata)
    conversation = stored_conversation(app, cid)
    assert conversation.chat_name == "Renamed by me" and conversation.chat_name_source == "user"
    # the call happened, so it still counts
    assert conversation.totals.input_tokens > sum(
        m.usage.input_tokens for m in conversation.messages if m.usage is not None
    )


def test_a_failed_title_call_is_ignored(titled, upstream):
    app, client = titled
    upstream.script(["ok", "400"])
    frames = chat(client, message="hello there")
    cid = frames[0].data["conversation_id"]
    assert frames[-1].event == "done"
    assert within(lambda: title_requests(upstream) and title_requests(upstream)[0].status)
    time.sleep(0.2)
    conversation = stored_conversation(app, cid)
    assert conversation.chat_name == "hello there" and TITLE_CALL not in conversation.metadata


def test_a_failed_first_reply_waits_for_the_first_completed_one(titled, upstream):
    app, client = titled
    upstream.script(["500", "500", "500"])  # the reply fails (with its retries)
    frames = chat(client, message="hello there")
    cid = frames[0].data["conversation_id"]
    assert frames[-1].event == "error"
    time.sleep(0.2)
    assert title_requests(upstream) == []
    chat(client, message="try again", conversation_id=cid)
    assert within(lambda: stored_conversation(app, cid).chat_name == TITLE)


def test_another_users_conversation_is_never_touched(titled, upstream):
    app, client = titled
    bob = login(app.test_client(), app, "bob")
    cid = chat(bob, message="bob says hi")[0].data["conversation_id"]
    assert within(lambda: stored_conversation(app, cid, "bob").chat_name == TITLE)
    assert client.get("/get-all-conversations").get_json()["conversations"] == []


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ('"Planning a trip to Japan"', "Planning a trip to Japan"),
        ("**Title:** Rust lifetimes", "Rust lifetimes"),
        ("# Sourdough starter tips.\n\nMore text", "Sourdough starter tips"),
        ("\n\n  `Regex` help  \n", "Regex help"),
        ("«Le café»", "Le café"),
        ("", None),
        ('""', None),
    ],
)
def test_clean_title(raw, clean):
    assert clean_title(raw) == clean


def test_clean_title_caps_the_length_at_a_word():
    long = "word " * 40
    cleaned = clean_title(long)
    assert cleaned is not None and len(cleaned) <= TITLE_MAX_CHARS
    assert cleaned.endswith("word")
    assert len(clean_title("x" * 200) or "") == TITLE_MAX_CHARS


def test_the_lightest_known_reasoning_effort_is_asked_for():
    assert light_reasoning(("minimal", "low", "medium")) == {"effort": "minimal"}
    assert light_reasoning(("low", "medium", "high")) == {"effort": "low"}
    assert light_reasoning(("medium", "high")) is None
    assert light_reasoning(None) is None and light_reasoning(()) is None


def test_the_title_call_counts_in_the_budget(make_app, upstream):
    app = make_app(CHAT_AUTO_TITLES=True, CHAT_BUDGET_LIMIT=10**9, CHAT_BUDGET_UNIT="tokens")
    upstream.reply = titled_reply
    client = login(app.test_client(), app)
    cid = chat(client, message="hello there")[0].data["conversation_id"]
    assert within(lambda: TITLE_CALL in stored_conversation(app, cid).metadata)
    conversation = stored_conversation(app, cid)
    reply_tokens = conversation.messages[-1].usage.total_tokens
    title_tokens = conversation.metadata[TITLE_CALL]["usage"]["total_tokens"]
    limits = app.extensions["services"].chat.limits
    # The reply settles first; the title call's spend follows it into the same ledger.
    assert within(lambda: limits.spent("alice", period="day").tokens == reply_tokens + title_tokens)
