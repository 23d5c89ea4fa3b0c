"""The reasoning label (issue 14, point 11) in real Chromium against the real app and the fake
upstream: "Thinking…" live, then "Thought for N s · N reasoning tokens", collapsed; and the page's
own date-group and label functions at their edges. Screenshots 99-*."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Server, build_app, goto, shot
from tests.browser.test_keyboard_list import axe_serious
from tests.fake_upstream import behaviour

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)


def test_reasoning_label_live_then_thought_for(
    server: Server, open_page: Any, serve_app: Any, tmp_path: Any
) -> None:
    user = server.new_user("thinker")
    # A stored reply that reasoned without a summary: the label is a line of its own.
    t0 = time.time() - 120
    stored = server.app.extensions["store"].create(
        user,
        chat_name="Stored reasoning",
        model="gpt-test",
        provider="openai",
        instructions="",
        messages=[
            {"id": "m_1", "parent_id": None, "role": "user", "text": "Prove it", "timestamp": t0},
            {
                "id": "m_2",
                "parent_id": "m_1",
                "role": "assistant",
                "text": "Done.",
                "timestamp": t0 + 1,
                "status": "completed",
                "model": "gpt-test",
                "provider": "openai",
                "usage": {
                    "input_tokens": 10,
                    "cached_tokens": 0,
                    "cache_write_tokens": 0,
                    "output_tokens": 400,
                    "reasoning_tokens": 1340,
                    "total_tokens": 1750,
                },
                "latency_ms": {"first_token": 12400, "total": 13000},
            },
        ],
    )
    page, _ = open_page(user)
    goto(page, f"{server.url}/#{stored.id}")
    expect(page.locator("article.msg-assistant .reasoning-note")).to_have_text(
        "Thought for 12 s · 1,340 reasoning tokens"
    )
    expect(page.locator("article.msg-assistant details.thinking")).to_be_hidden()

    # Waiting with a model the catalogue lists as reasoning (o4-mini): "Thinking…" before any
    # frame; a reply that then reports no reasoning at all keeps no label.
    app = build_app(tmp_path / "o4", server.upstream, CHAT_MODELS="o4-mini,gpt-5.4-mini")
    app.extensions["accounts"].create_user(user, PASSWORD)
    url = serve_app(app)
    o4, _ = open_page(user, base_url=url)
    goto(o4, url + "/")
    models = o4.request.get(f"{url}/providers").json()["providers"][0]["models"]
    assert next(m for m in models if m["id"] == "o4-mini")["reasoning"]
    server.upstream.script([behaviour("stall_start", seconds=2.5)])
    o4.locator("#composer-input").fill("Take your time")
    o4.locator("#composer-input").press("Enter")
    waiting = o4.locator("article.msg-assistant").last.locator(".reasoning-note")
    expect(waiting).to_have_text("Thinking…")
    expect(waiting).to_have_class(re.compile(r"\blive\b"))
    expect(o4.locator("article.msg-assistant .typing")).to_be_hidden()
    shot(o4, "99-reasoning-waiting")
    expect(o4.locator("#send")).to_be_visible()
    expect(o4.locator("article.pending")).to_have_count(0)
    expect(o4.locator("article.msg-assistant").last.locator(".reasoning-note")).to_be_hidden()
    assert server.upstream.responses_requests()[-1].body["model"] == "o4-mini"

    # Live: the summary streams, then the model waits before its text: "Thinking…" meanwhile.
    goto(page, server.url + "/")
    box = page.locator("#composer-input")
    server.upstream.script(
        [
            behaviour(
                "gap",
                after=0,
                seconds=3.0,
                summary=["**Weighing it up**\n\nTwo ways to say hello."],
            )
        ]
    )
    box.fill("Say hello, thoughtfully")
    box.press("Enter")
    reply = page.locator("article.msg-assistant").last
    label = reply.locator("details.thinking .thinking-label")
    expect(label).to_have_text("Thinking…")
    expect(label).to_have_class(re.compile(r"\blive\b"))
    expect(reply.locator("details.thinking")).not_to_have_attribute("open", "")
    shot(page, "99-reasoning-live")
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)
    final = page.locator("article.msg-assistant").last.locator("details.thinking .thinking-label")
    expect(final).to_have_text(re.compile(r"^Thought for \d+ s · \d+ reasoning tokens$"))
    # The model waited 3 s before its first words (a slow machine may add to that, never take away).
    assert 3 <= int(re.findall(r"\d+", final.inner_text())[0]) <= 60
    expect(final).not_to_have_class(re.compile(r"\blive\b"))
    details = page.locator("article.msg-assistant").last.locator("details.thinking")
    expect(details).not_to_have_attribute("open", "")
    details.locator("summary").click()
    expect(details.locator(".thinking-body strong")).to_have_text("Weighing it up")
    # The same after a reload (from the stored latency and usage).
    page.reload()
    expect(page.locator("body.ready")).to_have_count(1)
    stored_label = page.locator("article.msg-assistant").last.locator(".thinking-label")
    expect(stored_label).to_have_text(re.compile(r"^Thought for \d+ s · \d+ reasoning tokens$"))
    assert 3 <= int(re.findall(r"\d+", stored_label.inner_text())[0]) <= 60

    dark, _ = open_page(user, color_scheme="dark")
    goto(dark, page.url)
    dark.locator("article.msg-assistant").last.locator("details.thinking summary").click()
    shot(dark, "99-reasoning-dark")
    axe_serious(dark, server, "a reasoned reply, dark")


def test_date_groups_and_reasoning_words_at_their_edges(server: Server, open_page: Any) -> None:
    """The page's own functions, at fixed times: calendar days (not 24-hour steps), month labels,
    and the words of the reasoning label."""
    user = server.new_user("edges")
    page, _ = open_page(user, timezone_id="Europe/Berlin", locale="en-GB")
    goto(page, server.url + "/")
    got = page.evaluate(
        """async () => {
          const { dateGroup, groupConversations, displayName } = await import('/static/js/conversation-list.js');
          const { fmtSeconds, thoughtWords } = await import('/static/js/reasoning.js');
          // 30 March 2026, 00:30 in Berlin: summer time began the day before (a 23-hour day).
          const now = new Date(2026, 2, 30, 0, 30);
          const at = (y, m, d, h = 12) => new Date(y, m, d, h).getTime() / 1000;
          const keys = [
            at(2026, 2, 30, 0), at(2026, 2, 29, 1), at(2026, 2, 28, 23), at(2026, 2, 23, 0),
            at(2026, 2, 22, 23), at(2026, 1, 28), at(2026, 1, 27), at(2025, 11, 31), 0,
          ].map((t) => dateGroup(t, now).label);
          const groups = groupConversations([
            { id: 'a', last_update: at(2026, 2, 30, 0) },
            { id: 'b', last_update: at(2026, 2, 1), pinned: true },
            { id: 'c', last_update: at(2026, 2, 30, 0), archived: true, pinned: true },
            { id: 'd', last_update: at(2026, 2, 29, 20) },
          ], now).map((g) => g.key + ':' + g.items.map((c) => c.id).join(''));
          return {
            keys, groups,
            names: [displayName({ chat_name: '  two\\n lines  ' }), displayName({ chat_name: '' })],
            words: [fmtSeconds(400), fmtSeconds(12400), fmtSeconds(125000), fmtSeconds(120000),
                    thoughtWords(12400, 1340), thoughtWords(null, 1), thoughtWords(900, 0)],
          };
        }"""
    )
    assert got["keys"] == [
        "Today",
        "Yesterday",
        "Previous 7 days",
        "Previous 7 days",
        "Previous 30 days",
        "Previous 30 days",
        "February 2026",
        "December 2025",
        "Older",
    ]
    assert got["groups"] == ["pinned:b", "today:a", "yesterday:d", "archived:c"]
    assert got["names"] == ["two lines", "Untitled"]
    assert got["words"] == [
        "less than a second",
        "12 s",
        "2 min 5 s",
        "2 min",
        "Thought for 12 s · 1,340 reasoning tokens",
        "Thought · 1 reasoning token",
        "Thought for less than a second",
    ]
