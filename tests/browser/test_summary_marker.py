"""The summary marker in real Chromium (API "Context"): where a summary stands in the message list,
its text expandable (sanitised like any model text), the provider's own compaction said as such with
nothing of its items on the page, and a marker that appears after a real turn was summarised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from conversation_manager import Message
from conversation_manager.models import Summary, Usage
from tests.browser.conftest import Server, build_app, goto, shot
from tests.summaries.helpers import PROVIDERS, summary_reply, words

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

PAYLOAD = '<img src=x onerror="window.__pwned=1">'
SUMMARY_TEXT = (
    "The user is planning a **three-day trip to Lisbon** in May.\n\n"
    "- Budget: about 900 EUR\n- Wants: tiles museum, a day in Sintra"
)
PHONE = {"width": 390, "height": 844}


def seed(
    server: Server, user: str, *, provider_side: bool = False, text: str = SUMMARY_TEXT
) -> tuple[str, list[str]]:
    """A conversation of six messages whose first four a summary stands for."""
    texts = [
        ("user", "I want to plan a trip to Lisbon in May, three days."),
        ("assistant", "Lovely idea. What is your budget, and what do you enjoy?"),
        ("user", "About 900 euros. Museums, especially tiles, and maybe Sintra."),
        ("assistant", "Then spend a day in Sintra and visit the National Tile Museum."),
        ("user", "Which day should Sintra be?"),
        ("assistant", "Make it the second day, when you are settled in."),
    ]
    messages, parent = [], None
    for n, (role, said) in enumerate(texts):
        mid = f"m_seed{n}"
        status = "completed" if role == "assistant" else None
        messages.append(
            Message(
                id=mid,
                parent_id=parent,
                role=role,  # type: ignore[arg-type]
                text=said,
                timestamp=1_767_000_000.0 + n,
                status=status,  # type: ignore[arg-type]
                model="gpt-5.4-mini" if role == "assistant" else None,
                provider="openai" if role == "assistant" else None,
            )
        )
        parent = mid
    store = server.app.extensions["store"]
    conv = store.create(
        user,
        chat_name="Lisbon trip",
        model="gpt-5.4-mini",
        provider="openai",
        instructions="Be brief.",
        messages=messages,
    )
    covers = [m.id for m in messages[:4]]
    summary = Summary(
        id="s_seed",
        covers=covers,
        text=None if provider_side else text,
        provider="openai",
        model="gpt-5.4-mini",
        usage=Usage(input_tokens=180, output_tokens=60, total_tokens=240),
        cost_usd=0.0001,
        created_at=1_767_000_010.0,
        provider_items=[{"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAAsecret"}]
        if provider_side
        else None,
    )
    store.add_summary(user, conv.id, summary)
    return conv.id, covers


def test_the_marker_stands_after_the_summarised_messages(server: Server, open_page: Any) -> None:
    user = server.new_user("sum")
    cid, covers = seed(server, user)
    page, _ = open_page(user)
    goto(page, f"{server.url}/#{cid}")
    marker = page.locator(".summary-marker")
    expect(marker).to_have_count(1)
    # Right after the fourth message, before the fifth.
    after = page.locator(f'article[data-id="{covers[-1]}"] + .summary-marker')
    expect(after).to_have_count(1)
    expect(page.locator(".summary-marker + article.msg-user")).to_have_count(1)
    expect(marker).to_contain_text("Earlier messages summarised")
    expect(marker).to_contain_text("4 messages above")
    text = marker.locator(".summary-marker-text")
    expect(text).to_be_hidden()
    shot(page, "35-summary-marker")

    marker.locator("summary").click()
    expect(text).to_be_visible()
    expect(text.locator("strong")).to_have_text("three-day trip to Lisbon")
    expect(text.locator("li")).to_have_count(2)
    shot(page, "36-summary-marker-open")

    # Keyboard: the marker's toggle is reachable and closes with Enter.
    marker.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(text).to_be_hidden()


def test_the_summary_text_is_sanitised_like_any_model_text(server: Server, open_page: Any) -> None:
    user = server.new_user("sumxss")
    cid, _ = seed(server, user, text=f"Plain words {PAYLOAD} and <script>window.__pwned=2</script>")
    page, guard = open_page(user)
    goto(page, f"{server.url}/#{cid}")
    marker = page.locator(".summary-marker")
    marker.locator("summary").click()
    text = marker.locator(".summary-marker-text")
    expect(text).to_contain_text("Plain words")
    expect(text.locator("img[onerror], script")).to_have_count(0)
    assert guard.canary() == 0


def test_the_marker_on_a_phone_and_in_dark_mode(server: Server, open_page: Any) -> None:
    user = server.new_user("sumphone")
    cid, _ = seed(server, user)
    page, _ = open_page(user, viewport=PHONE)
    goto(page, f"{server.url}/#{cid}")
    marker = page.locator(".summary-marker")
    marker.scroll_into_view_if_needed()
    marker.locator("summary").click()
    expect(marker.locator(".summary-marker-text")).to_be_visible()
    box = marker.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    shot(page, "37-summary-marker-phone")
    page.emulate_media(color_scheme="dark")
    shot(page, "38-summary-marker-dark")
    page.emulate_media(color_scheme="light")


def test_a_provider_compaction_says_so_and_shows_nothing_of_its_items(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("sumprov")
    cid, covers = seed(server, user, provider_side=True)
    page, _ = open_page(user)
    goto(page, f"{server.url}/#{cid}")
    marker = page.locator(".summary-marker")
    expect(marker).to_have_count(1)
    expect(marker).to_contain_text("Earlier messages summarised by the provider")
    expect(page.locator(f'article[data-id="{covers[-1]}"] + .summary-marker')).to_have_count(1)
    expect(marker.locator("summary")).to_have_count(0)  # nothing to expand
    assert "gAAAAsecret" not in page.content()
    shot(page, "39-summary-marker-provider")


def test_a_marker_appears_when_a_turn_was_summarised(
    tmp_path: Path,
    chromium: Any,
    server: Server,
    serve_app: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its own app: summaries on, a stateless provider with a small window on the fake upstream.
    path = tmp_path / "providers.toml"
    path.write_text(PROVIDERS.format(base_url=server.upstream.base_url))
    monkeypatch.setenv("PLAIN_KEY", "sk-plain-test")
    app = build_app(
        tmp_path / "data",
        None,
        CHAT_PROVIDERS_FILE=str(path),
        CHAT_SUMMARIES=True,
    )
    url = serve_app(app)
    app.extensions["accounts"].create_user("walker", "correct horse battery staple")
    server.upstream.reply = summary_reply
    context = chromium.new_context(viewport={"width": 1200, "height": 820})
    try:
        res = context.request.post(
            url + "/login", data={"username": "walker", "password": "correct horse battery staple"}
        )
        assert res.status == 200
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        goto(page, url + "/")
        for n, word in enumerate(("alpha", "beta", "gamma", "delta")):
            page.locator("#composer-input").fill(words(word, 2000))
            page.locator("#composer-input").press("Enter")
            expect(page.locator("article.msg-assistant")).to_have_count(n + 1)
            expect(page.locator("article.pending")).to_have_count(0)
            expect(page.locator("#send")).to_be_visible()
        marker = page.locator(".summary-marker")
        expect(marker).to_have_count(1)
        marker.locator("summary").click()
        expect(marker.locator(".summary-marker-text")).to_have_text("SUMMARY of 2 user messages.")
        # It stands after the fourth message (the second answer): alpha and beta are summarised.
        expect(
            page.locator("article.msg-assistant").nth(1).locator("+ .summary-marker")
        ).to_have_count(1)
        assert errors == []
    finally:
        context.close()
