"""Search from the sidebar, in real Chromium against the real app: message text is found, the
snippet marks the match with <mark> elements (text only, never markup), and a click opens the
conversation on the hit's branch and jumps to the message."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, goto, shot

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)


def _seed(server: Server, user: str) -> dict[str, str]:
    """A long conversation whose match sits far above the end, with a second branch whose
    reply holds a word found nowhere on the branch on screen; and a hostile snippet."""
    store = server.app.extensions["store"]
    t0 = time.time() - 3600
    messages: list[dict[str, Any]] = []
    parent = None
    for i in range(40):
        role = "user" if i % 2 == 0 else "assistant"
        text = f"Filler message number {i} about nothing in particular."
        if i == 6:
            text = "The lighthouse keeper wrote down every ship that passed the Café Noir."
        mid = f"m_{i:03d}"
        messages.append(
            {"id": mid, "parent_id": parent, "role": role, "text": text, "timestamp": t0 + i}
        )
        parent = mid
    # Another branch: an edit of message 2 with its own reply (older, so not on screen).
    messages.insert(
        3,
        {
            "id": "m_edit",
            "parent_id": "m_001",
            "role": "user",
            "text": "An edited question",
            "timestamp": t0 + 2.5,
        },
    )
    messages.insert(
        4,
        {
            "id": "m_edit_reply",
            "parent_id": "m_edit",
            "role": "assistant",
            "text": "Only this branch mentions the albatross.",
            "timestamp": t0 + 2.6,
        },
    )
    long_conv = store.create(
        user,
        chat_name="Sea stories",
        model="gpt-test",
        provider="openai",
        instructions="",
        messages=messages,
    )
    assert long_conv.current_message_id == "m_039"
    other = store.create(
        user,
        chat_name="Markup",
        model="gpt-test",
        provider="openai",
        instructions="",
        messages=[
            {
                "id": "m_x",
                "parent_id": None,
                "role": "user",
                "timestamp": t0,
                "text": 'lighthouse <img src=x onerror="window.__pwned++"> <b>bold</b>',
            }
        ],
    )
    return {"long": long_conv.id, "other": other.id}


def _search(page: Any, text: str) -> Any:
    box = page.locator("#filter")
    box.fill(text)
    results = page.locator("#search-results")
    expect(results).to_be_visible()
    return results


def test_search_jumps_to_the_message(server: Server, open_page: Any) -> None:
    user = server.new_user("search")
    ids = _seed(server, user)
    page, _ = open_page(user)
    page.emulate_media(reduced_motion="reduce")  # the flash stays on for the screenshot
    goto(page, server.url + "/")
    results = _search(page, "lighthous")
    hits = results.locator(".search-open")
    expect(hits).to_have_count(2)
    expect(results.locator("mark").first).to_have_text("lighthouse")
    hostile = results.locator(f'.search-open[data-conversation-id="{ids["other"]}"]')
    expect(hostile.locator(".search-snippet")).to_contain_text(
        '<img src=x onerror="window.__pwned++">'
    )
    assert hostile.locator("img, b").count() == 0  # text nodes and <mark> only
    shot(page, "45-search-results")

    results.locator('.search-open[data-message-id="m_006"]').click()
    expect(page).to_have_url(f"{server.url}/#{ids['long']}")
    target = page.locator('article[data-id="m_006"]')
    expect(target).to_have_class(re.compile(r"\bsearch-target\b"))
    expect(target).to_be_in_viewport()
    expect(page.locator('article[data-id="m_039"]')).not_to_be_in_viewport()
    shot(page, "46-search-jump")


def test_a_hit_on_another_branch_shows_that_branch(server: Server, open_page: Any) -> None:
    user = server.new_user("branch")
    ids = _seed(server, user)
    page, _ = open_page(user, color_scheme="dark")
    page.emulate_media(reduced_motion="reduce")
    goto(page, server.url + f"/#{ids['long']}")
    expect(page.locator('article[data-id="m_039"]')).to_have_count(1)
    expect(page.locator('article[data-id="m_edit_reply"]')).to_have_count(0)
    results = _search(page, "albatross")
    expect(results.locator("mark")).to_have_text(["albatross"])
    shot(page, "47-search-dark")
    results.locator('.search-open[data-message-id="m_edit_reply"]').click()
    target = page.locator('article[data-id="m_edit_reply"]')
    expect(target).to_be_in_viewport()
    expect(page.locator('article[data-id="m_039"]')).to_have_count(0)
    assert (
        server.app.extensions["store"].get(user, ids["long"]).current_message_id == "m_edit_reply"
    )
    shot(page, "48-search-branch-dark")


def test_search_on_a_phone(server: Server, open_page: Any) -> None:
    user = server.new_user("phone")
    ids = _seed(server, user)
    page, _ = open_page(
        user, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page.emulate_media(reduced_motion="reduce")
    goto(page, server.url + "/")
    page.locator("#toggle-sidebar").click()
    results = _search(page, "cafe noir")
    expect(results.locator("mark")).to_have_text(["Café", "Noir"])
    shot(page, "49-search-phone")
    results.locator(".search-open").first.click()
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bsidebar-open\b"))
    expect(page.locator('article[data-id="m_006"]')).to_be_in_viewport()
    expect(page).to_have_url(f"{server.url}/#{ids['long']}")


def test_bad_query_says_so(server: Server, open_page: Any) -> None:
    user = server.new_user("badq")
    _seed(server, user)
    page, _ = open_page(user)
    goto(page, server.url + "/")
    results = _search(page, '"unclosed quote')
    expect(results.locator(".search-status")).to_contain_text("cannot be run")
    page.locator("#filter").fill("")
    expect(results).to_be_hidden()
