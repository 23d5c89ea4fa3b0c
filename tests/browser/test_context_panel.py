"""The Context panel in real Chromium against the real app and the fake upstream: the messages the next
turn sends (sent, in the chain, summarised, dropped), the estimate against the window and the cost,
and a message too long for the window. Screenshots 30-34 (desktop, phone 390x844, dark)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Server, build_app, goto, shot, start_server
from tests.fake_upstream import running

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

# The default model with a small window, so a seeded history does not fit whole.
PROVIDERS = """
[models."openai:gpt-5.4-mini"]
context_window = 4000
max_output_tokens = 500
"""
PHONE = {"width": 390, "height": 844}


def serve(factory: pytest.TempPathFactory, name: str, **overrides: Any) -> Iterator[Server]:
    """An app whose default model has a 4,000-token window, with `overrides`."""
    data_dir = factory.mktemp(name)
    providers = data_dir.parent / f"{name}-providers.toml"
    providers.write_text(PROVIDERS)
    for upstream in running():
        app = build_app(data_dir, upstream, CHAT_PROVIDERS_FILE=str(providers), **overrides)
        srv, thread, url = start_server(app)
        try:
            yield Server(url, app, upstream, data_dir)
        finally:
            srv.shutdown()
            thread.join(5)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(tmp_path_factory, "context-plain")


@pytest.fixture(scope="module")
def summarising(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The same with summaries on (CHAT_SUMMARIES)."""
    yield from serve(tmp_path_factory, "context-summaries", CHAT_SUMMARIES=True)


def seed(server: Server, user: str, *, pairs: int = 6, summary_of: int = 0) -> str:
    """A conversation of `pairs` long questions and answers without response ids (replayed), and
    optionally a summary of its first `summary_of` messages; returns its id."""
    messages: list[dict[str, Any]] = []
    parent = None
    topics = ["tides", "volcanoes", "glaciers", "deserts", "monsoons", "coral reefs", "auroras"]
    for n in range(pairs):
        topic = topics[n % len(topics)]
        question = f"Question {n + 1}: tell me about {topic}. " + "Please be thorough. " * 60
        answer = f"Answer {n + 1}: {topic} are fascinating. " + "Here is more detail. " * 60
        messages.append(
            {
                "id": f"m_u{n}",
                "parent_id": parent,
                "role": "user",
                "text": question,
                "timestamp": 1e9 + n,
            }
        )
        messages.append({
            "id": f"m_a{n}", "parent_id": f"m_u{n}", "role": "assistant", "text": answer,
            "timestamp": 1e9 + n + 0.5, "status": "completed", "provider": "openai",
            "model": "gpt-5.4-mini", "usage": {"input_tokens": 300, "output_tokens": 200},
            "cost_usd": 0.0004,
        })  # fmt: skip
        parent = f"m_a{n}"
    store = server.app.extensions["services"].store
    conv = store.create(user, chat_name="Earth science", model="gpt-5.4-mini", provider="openai",
                        instructions="Be brief.", messages=messages)  # fmt: skip
    if summary_of:
        path = Path(server.data_dir) / user / f"{conv.id}.json"
        doc = json.loads(path.read_text())
        doc["summaries"] = [{
            "id": "s_1", "covers": [m["id"] for m in messages[:summary_of]],
            "text": "The user asked about tides and volcanoes; the assistant explained both.",
            "provider": "openai", "model": "gpt-5.4-mini", "created_at": 1e9 + 99,
            "usage": {"input_tokens": 900, "output_tokens": 40}, "cost_usd": 0.0002,
        }]  # fmt: skip
        path.write_text(json.dumps(doc))
    return conv.id


def open_context(page: Any) -> Any:
    page.locator("#context-open").click()
    dialog = page.locator("#context-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#context-list .context-next")).to_have_count(1)
    return dialog


def states(page: Any) -> list[str]:
    return page.locator("#context-list .context-item[data-state]").evaluate_all(
        "items => items.map(i => i.dataset.state)"
    )


def login_page(open_page: Any, server: Server, user: str, **options: Any) -> Any:
    page, _ = open_page(base_url=server.url, **options)
    res = page.context.request.post(
        server.url + "/login", data={"username": user, "password": PASSWORD}
    )
    assert res.status == 200
    return page


def test_a_trimmed_replay_lists_what_is_dropped(small: Server, open_page: Any) -> None:
    user = small.new_user("context")
    cid = seed(small, user)
    page = login_page(open_page, small, user)
    goto(page, f"{small.url}/#{cid}")
    expect(page.locator("#messages article")).to_have_count(12)
    page.locator("#composer-input").fill("And what about tsunamis?")
    open_context(page)
    seen = states(page)
    assert seen[0] == "dropped" and seen[-1] == "sent" and set(seen) == {"dropped", "sent"}
    preview = page.evaluate(
        f"fetch('/conversations/{cid}/context?message_chars=24').then(r => r.json())"
    )
    assert seen == [m["state"] for m in preview["messages"]]
    totals = page.locator("#context-totals")
    expect(totals).to_contain_text(f"of {preview['budget']:,} available")
    expect(totals).to_contain_text("window 4,000")
    expect(totals).to_contain_text("Estimated input cost: $")
    expect(totals).to_contain_text("the oldest messages go first")
    assert preview["summaries"] is False and preview["summary_pending"] is False
    first = page.locator("#context-list .context-item").first
    expect(first.locator(".context-state")).to_have_text("Dropped")
    expect(first.locator(".context-text")).to_contain_text("Question 1: tell me about tides")
    expect(page.locator("#context-list .context-next .context-text")).to_have_text(
        "And what about tsunamis?"
    )
    shot(page, "30-context-trimmed")
    page.keyboard.press("Escape")
    expect(page.locator("#context-dialog")).to_be_hidden()


def test_the_panel_on_a_phone_with_a_summary(summarising: Server, open_page: Any) -> None:
    user = summarising.new_user("contextphone")
    cid = seed(summarising, user, summary_of=4)
    page = login_page(open_page, summarising, user, viewport=PHONE, is_mobile=True, has_touch=True)
    goto(page, f"{summarising.url}/#{cid}")
    expect(page.locator("#messages article")).to_have_count(12)
    open_context(page)
    seen = states(page)
    assert seen[:4] == ["summarised"] * 4 and seen[4:] == ["sent"] * 8
    expect(page.locator("#context-summary")).to_be_visible()
    expect(page.locator("#context-summary")).to_contain_text("tides and volcanoes")
    expect(page.locator("#context-totals")).to_contain_text("A summary stands for the oldest")
    # Nothing runs off the screen sideways.
    width = page.evaluate("document.querySelector('#context-dialog').getBoundingClientRect().right")
    assert width <= PHONE["width"]
    shot(page, "31-context-phone-summary")


def test_a_chained_conversation_in_dark_mode(small: Server, open_page: Any) -> None:
    user = small.new_user("contextdark")
    page = login_page(open_page, small, user, color_scheme="dark")
    goto(page, small.url + "/")
    box = page.locator("#composer-input")
    box.fill("Hello, what is a context window?")
    box.press("Enter")
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)
    expect(page.locator("#messages article")).to_have_count(2)
    open_context(page)
    assert states(page) == ["in_chain", "in_chain"]
    expect(page.locator("#context-totals")).to_contain_text("The provider keeps this conversation")
    expect(page.locator("#context-totals")).to_contain_text("the provider's chain")
    shot(page, "32-context-chained-dark")


def test_a_message_too_long_for_the_window_is_said(small: Server, open_page: Any) -> None:
    user = small.new_user("contextlong")
    cid = seed(small, user, pairs=2)
    page = login_page(open_page, small, user)
    goto(page, f"{small.url}/#{cid}")
    page.locator("#composer-input").fill("word " * 4000)  # about 5,000 tokens: over the window
    page.locator("#context-open").click()
    result = page.locator("#context-result")
    expect(result).to_be_visible()
    expect(result).to_have_text("Your message alone is too long for this model's window.")
    expect(page.locator("#context-list .context-item")).to_have_count(0)
    shot(page, "33-context-too-long")
    # A shorter message: Refresh shows the plan again.
    page.locator("#context-dialog [data-close]").first.click()
    page.locator("#composer-input").fill("Shorter.")
    open_context(page)
    expect(result).to_be_hidden()
    assert set(states(page)) == {"sent"}
    shot(page, "34-context-fits")


def test_a_new_chat_says_only_the_message_goes(small: Server, open_page: Any) -> None:
    user = small.new_user("contextnew")
    page = login_page(open_page, small, user)
    goto(page, small.url + "/")
    page.locator("#context-open").click()
    expect(page.locator("#context-totals")).to_contain_text(
        "A new conversation sends only the instructions and your first message."
    )


def test_with_summaries_on_the_panel_says_what_will_be_summarised(
    summarising: Server, open_page: Any
) -> None:
    user = summarising.new_user("contextpending")
    cid = seed(summarising, user)
    page = login_page(open_page, summarising, user)
    goto(page, f"{summarising.url}/#{cid}")
    expect(page.locator("#messages article")).to_have_count(12)
    open_context(page)
    seen = states(page)
    n = seen.count("summarised")
    assert seen[:n] == ["summarised"] * n and n >= 4 and set(seen[n:]) == {"sent"}
    totals = page.locator("#context-totals")
    expect(totals).to_contain_text(f"the {n} oldest messages are summarised once")
    expect(totals).to_contain_text("A summary stands for the oldest messages")
    expect(page.locator("#context-summary")).to_be_hidden()  # not written yet
