"""`GET /stats` (API "Statistics"): equal to the sum of the messages, grouped by day, provider and
model, within from/to, and never another user's."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from conversation_manager.models import IMPORTED_MARK, SEEDED_MARK, TITLE_CALL
from tests.conftest import chat, login

DAY = 86_400.0
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC).timestamp()
FIELDS = (
    "input_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def usage(n: int) -> dict[str, int]:
    return {
        "input_tokens": 10 * n,
        "cached_tokens": n,
        "cache_write_tokens": 2 * n,
        "output_tokens": 3 * n,
        "reasoning_tokens": n // 2,
    }


def user_msg(mid: str, parent: str | None, at: float, **kw: Any) -> dict[str, Any]:
    return {"id": mid, "parent_id": parent, "role": "user", "text": "q", "timestamp": at, **kw}


def reply(
    mid: str,
    parent: str,
    at: float,
    provider: str,
    model: str,
    n: int,
    cost: float | None,
    status: str = "completed",
    **kw: Any,
) -> dict[str, Any]:
    return {
        "id": mid,
        "parent_id": parent,
        "role": "assistant",
        "text": "a",
        "timestamp": at,
        "status": status,
        "provider": provider,
        "model": model,
        "usage": usage(n),
        "cost_usd": cost,
        **kw,
    }


def seed(app: Any, user: str = "alice") -> dict[str, str]:
    """Conversations over three days, two providers, three models, with every kind of row."""
    store = app.extensions["services"].store
    a = store.create(
        user,
        chat_name="A",
        model="gpt-5.4-mini",
        provider="openai",
        instructions="",
        messages=[
            user_msg("m_1", None, T0),
            reply("m_2", "m_1", T0 + 1, "openai", "gpt-5.4-mini", 1, 0.0011),
            user_msg("m_3", "m_2", T0 + DAY),
            reply("m_4", "m_3", T0 + DAY + 1, "anthropic", "claude-x", 2, 0.0203),
            # a second reply to the same question (a regenerate): the whole tree counts
            reply("m_5", "m_3", T0 + DAY + 2, "anthropic", "claude-x", 3, None),
            reply("m_6", "m_3", T0 + DAY + 3, "openai", "gpt-5.4", 4, None, status="failed"),
        ],
    )
    b = store.create(
        user,
        chat_name="B",
        model="gpt-5.4",
        provider="openai",
        instructions="",
        messages=[
            # a template's seeded exchange and a migrated reply: made by no model here
            user_msg("m_1", None, T0, metadata={SEEDED_MARK: True}),
            reply("m_2", "m_1", T0, "openai", "gpt-5.4", 50, 5.0, metadata={SEEDED_MARK: True}),
            user_msg("m_3", "m_2", T0 + 2 * DAY),
            reply("m_4", "m_3", T0 + 2 * DAY + 1, "openai", "gpt-5.4", 5, 0.3, status="stopped"),
            reply(
                "m_5",
                "m_3",
                T0 + 2 * DAY + 2,
                "openai",
                "gpt-5.4",
                70,
                7.0,
                metadata={IMPORTED_MARK: True},
            ),
        ],
        metadata={
            TITLE_CALL: {
                "provider": "openai",
                "model": "gpt-5.4",
                "usage": usage(6),
                "cost_usd": 0.0007,
                "created_at": T0 + 2 * DAY + 5,
            }
        },
    )
    gone = store.create(
        user,
        chat_name="deleted",
        model="gpt-5.4",
        provider="openai",
        instructions="",
        messages=[
            user_msg("m_1", None, T0),
            reply("m_2", "m_1", T0 + 1, "openai", "gpt-5.4", 90, 9.0),
        ],
    )
    store.delete(user, gone.id)
    return {"a": a.id, "b": b.id}


def expected_from_files(app: Any, user: str, start: float, end: float, key: str) -> dict[str, Any]:
    """The sums computed straight from the stored conversations, independently of app.stats."""
    store = app.extensions["services"].store
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"turns": 0, **dict.fromkeys(FIELDS, 0), "cost_usd": 0.0, "unpriced": 0}
    )

    def add(at: float, provider: str, model: str, used: Any, cost: Any, is_reply: bool) -> None:
        if not start <= at < end:
            return
        name = {
            "day": datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d"),
            "provider": provider,
            "model": model,
        }[key]
        for g in (groups[name], groups["__total__"]):
            for f in FIELDS:
                g[f] += (used or {}).get(f, 0)
            g["cost_usd"] += cost or 0.0
            if is_reply:
                g["turns"] += 1
                g["unpriced"] += cost is None

    for entry in store.list(user):
        conv = store.get(user, entry.id).model_dump(mode="json")
        for m in conv["messages"]:
            made_here = not (m.get("metadata") or {}).get(SEEDED_MARK) and not (
                m.get("metadata") or {}
            ).get(IMPORTED_MARK)
            if m["role"] == "assistant" and made_here:
                add(m["timestamp"], m["provider"], m["model"], m["usage"], m["cost_usd"], True)
        call = conv["metadata"].get(TITLE_CALL)
        if call:
            add(
                call["created_at"],
                call["provider"],
                call["model"],
                call["usage"],
                call["cost_usd"],
                False,
            )
        for s in conv.get("summaries", []):
            add(s["created_at"], s["provider"], s["model"], s["usage"], s["cost_usd"], False)
    return dict(groups)


def _same(answer: dict[str, Any], expected: dict[str, Any]) -> None:
    for name in ("turns", *FIELDS, "unpriced"):
        assert answer[name] == expected[name], name
    assert math.isclose(answer["cost_usd"], expected["cost_usd"], abs_tol=1e-9)


@pytest.mark.parametrize("group_by", ["day", "provider", "model"])
def test_stats_equal_the_sum_of_the_messages(app, client, group_by):
    seed(app)
    start, end = T0 - DAY, T0 + 10 * DAY
    answer = client.get(f"/stats?from={start}&to={end}&group_by={group_by}").get_json()
    assert answer["from"] == start and answer["to"] == end and answer["group_by"] == group_by
    expected = expected_from_files(app, "alice", start, end, group_by)
    totals = expected.pop("__total__")
    _same(answer["totals"], totals)
    assert {g["key"] for g in answer["groups"]} == set(expected)
    for g in answer["groups"]:
        _same(g, expected[g["key"]])
    # The seeded, migrated and deleted replies are in neither: only these five replies count.
    assert answer["totals"]["turns"] == 5
    assert answer["totals"]["unpriced"] == 2  # m_5 (unknown price) and the failed m_6
    assert math.isclose(answer["totals"]["cost_usd"], 0.0011 + 0.0203 + 0.3 + 0.0007)


def test_groups_by_day_provider_and_model_in_detail(app, client):
    seed(app)
    q = f"from={T0 - DAY}&to={T0 + 10 * DAY}"
    days = client.get(f"/stats?{q}").get_json()
    assert days["group_by"] == "day"
    assert [g["key"] for g in days["groups"]] == ["2026-11-20", "2026-11-21", "2026-11-22"]
    assert [g["turns"] for g in days["groups"]] == [1, 3, 1]
    # the title call counts its tokens and cost on its day, but is no turn
    assert days["groups"][2]["input_tokens"] == 10 * 5 + 10 * 6
    providers = client.get(f"/stats?{q}&group_by=provider").get_json()
    by = {g["key"]: g for g in providers["groups"]}
    assert set(by) == {"openai", "anthropic"}
    assert by["anthropic"]["turns"] == 2 and by["anthropic"]["unpriced"] == 1
    assert math.isclose(by["anthropic"]["cost_usd"], 0.0203)
    models = client.get(f"/stats?{q}&group_by=model").get_json()
    by = {g["key"]: g for g in models["groups"]}
    assert set(by) == {"gpt-5.4-mini", "gpt-5.4", "claude-x"}
    assert by["claude-x"]["provider"] == "anthropic"
    assert by["gpt-5.4"]["turns"] == 2  # the failed and the stopped reply
    assert by["gpt-5.4"]["unpriced"] == 1
    assert math.isclose(by["gpt-5.4"]["cost_usd"], 0.3 + 0.0007)
    assert models["groups"][0]["turns"] >= models["groups"][-1]["turns"]  # most used first


def test_from_is_inclusive_and_to_exclusive(app, client):
    seed(app)
    only_day_two = client.get(f"/stats?from={T0 + DAY}&to={T0 + DAY + 3}").get_json()
    assert only_day_two["totals"]["turns"] == 2  # m_4 (T0+DAY+1) and m_5 (+2); m_6 at +3 is out
    edge = client.get(f"/stats?from={T0 + 1}&to={T0 + 1.5}").get_json()
    assert edge["totals"]["turns"] == 1
    empty = client.get(f"/stats?from={T0 + 100 * DAY}&to={T0 + 100 * DAY}").get_json()
    assert empty["groups"] == [] and empty["totals"]["turns"] == 0
    assert empty["totals"]["cost_usd"] == 0.0


def test_default_is_the_last_30_days_by_day(app, client):
    store = app.extensions["services"].store
    now = datetime.now(tz=UTC).timestamp()
    store.create(
        "alice",
        chat_name="recent and old",
        model="m",
        provider="openai",
        instructions="",
        messages=[
            user_msg("m_1", None, now - 40 * DAY),
            reply("m_2", "m_1", now - 40 * DAY, "openai", "m", 1, 0.5),
            user_msg("m_3", "m_2", now - DAY),
            reply("m_4", "m_3", now - DAY, "openai", "m", 1, 0.25),
        ],
    )
    answer = client.get("/stats").get_json()
    assert answer["group_by"] == "day"
    assert answer["to"] >= now and math.isclose(answer["to"] - answer["from"], 30 * DAY)
    assert answer["totals"]["turns"] == 1 and answer["totals"]["cost_usd"] == 0.25


@pytest.mark.parametrize(
    "query",
    [
        "group_by=week",
        "group_by=",
        "from=yesterday",
        "to=nan",
        "from=inf",
        "from=-5",
        f"from={T0 + 10}&to={T0}",
        "to=1e400",
    ],
)
def test_bad_parameters_are_400(client, query):
    response = client.get(f"/stats?{query}")
    if query == "group_by=":  # an empty value is the default
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_another_user_never_sees_any_of_it(app, client):
    seed(app)
    bob = login(app.test_client(), app, "bob")
    for group_by in ("day", "provider", "model"):
        answer = bob.get(f"/stats?from=0&to={T0 + 10 * DAY}&group_by={group_by}").get_json()
        assert answer["groups"] == [] and answer["totals"]["turns"] == 0
    chat(bob, message="bob's own")
    mine = bob.get("/stats").get_json()
    assert mine["totals"]["turns"] == 1
    until = datetime.now(tz=UTC).timestamp() + DAY  # bob's turn (today) is in the range
    for group_by in ("day", "provider", "model"):
        alice = client.get(f"/stats?from=0&to={until}&group_by={group_by}").get_json()
        assert alice["totals"]["turns"] == 5, group_by  # alice's own five, never bob's


def test_logged_out_is_401(app):
    response = app.test_client().get("/stats")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"


def test_real_turns_against_the_fake_upstream(app, client, upstream):
    """Replies made by real turns: priced, unpriced (a model without a price) and failed."""
    first = chat(client, message="hello")
    cid = first[0].data["conversation_id"]
    chat(client, message="again", conversation_id=cid)
    chat(client, message="unknown price", model="fake-unpriced-model")
    failed = chat(client, message="boom", model="fake-500")
    assert failed[-1].event == "error"
    answer = client.get("/stats?group_by=model").get_json()
    by = {g["key"]: g for g in answer["groups"]}
    assert answer["totals"]["turns"] == 4
    assert by["fake-unpriced-model"]["unpriced"] == 1
    assert by["fake-unpriced-model"]["cost_usd"] == 0.0
    assert by["fake-500"]["turns"] == 1
    done = next(f for f in first if f.event == "done").data
    default_model = done["model"]
    assert by[default_model]["turns"] == 2
    assert by[default_model]["input_tokens"] > 0
    conv = app.extensions["services"].store.get("alice", cid)
    assert math.isclose(by[default_model]["cost_usd"], conv.totals.cost_usd, abs_tol=1e-9)
    assert by[default_model]["output_tokens"] == conv.totals.output_tokens
    # deleting a conversation takes its replies out of the statistics
    client.delete(f"/conversations/{cid}")
    after = client.get("/stats?group_by=model").get_json()
    assert after["totals"]["turns"] == 2
    assert default_model not in {g["key"] for g in after["groups"]}


def test_a_continued_reply_counts_on_the_day_it_was_made(app, client, upstream):
    # Its usage and cost are summed into the reply: they stay on the reply's day, not the
    # continuation's (a row is dated by the message's timestamp).
    made = time.time() - DAY
    store = app.extensions["services"].store
    conv = store.create(
        "alice",
        chat_name="cut off",
        model="gpt-5.4-mini",
        provider="openai",
        instructions="",
        messages=[
            user_msg("m_1", None, made - 1),
            reply("m_2", "m_1", made, "openai", "gpt-5.4-mini", 1, 0.0011, status="stopped"),
        ],
    )
    upstream.reply = " and the rest"
    frames = chat(client, conversation_id=conv.id, continue_message_id="m_2")
    assert frames[-1].event == "done" and frames[-1].data["status"] == "completed"
    days = client.get(f"/stats?from={made - DAY}&to={time.time() + DAY}").get_json()
    assert [g["key"] for g in days["groups"]] == [
        datetime.fromtimestamp(made, tz=UTC).strftime("%Y-%m-%d")
    ]
    (row,) = days["groups"]
    assert row["turns"] == 1 and row["output_tokens"] > usage(1)["output_tokens"]  # summed
    saved = store.get("alice", conv.id).message("m_2")
    assert saved.timestamp == made and saved.metadata["continued_at"] > made
