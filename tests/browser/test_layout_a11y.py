"""Layout, scrolling and accessibility of the chat page (issue 14, points 2-5) in real Chromium.

Phone tables scroll inside their block, the header keeps the title readable, "Jump to latest", switching
versions keeps the message in view and focus on the switcher, one polite announcement per reply, AA
contrast of the small texts, focusable scrolling blocks, and a vendored axe-core run (static/vendor/axe-core,
loaded into the page under test as a same-origin script, which the page's CSP `script-src 'self'` allows)
with no serious or critical violations on the main views. Screenshots 85-89.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, goto, shot

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
LONG_TITLE = "A table of the chat server settings with their defaults and what each one does"

TABLE_REPLY = """Here is a table and some code.

| Setting | Description of what it does | Default value |
|---|---|---|
| CHAT_MAX_MESSAGE_CHARS | The longest message a user may send, in characters | 100000 |
| CHAT_CONCURRENT_TURNS | How many turns may run at the same time on one server | 8 |

```python
def a_rather_long_function_name(argument_one: int, argument_two: str) -> dict[str, int]:
    return {"value": argument_one, "length": len(argument_two), "something_else": 42}
```
"""


def long_reply(n: int) -> str:
    return "\n\n".join(f"Paragraph {i} of answer {n}: " + "words to read " * 12 for i in range(12))


def last_reply(page: Any) -> Any:
    return page.locator("article.msg-assistant").last


def wait_idle(page: Any) -> None:
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)


def send(page: Any, text: str) -> None:
    box = page.locator("#composer-input")
    box.fill(text)
    box.press("Enter")


def post_turn(page: Any, server: Server, message: str, cid: str | None = None, **extra: Any) -> str:
    """One turn through the API (quicker than the composer); returns the conversation id."""
    data: dict[str, Any] = {"message": message, **extra}
    if cid:
        data["conversation_id"] = cid
    res = page.request.post(f"{server.url}/chat", data=data)
    assert res.status == 200, res.text()
    if cid:
        return cid
    found = re.search(r'"conversation_id": ?"([^"]+)"', res.text())
    assert found, res.text()
    return found.group(1)


def table_conversation(page: Any, server: Server) -> str:
    server.upstream.reply = TABLE_REPLY
    return post_turn(page, server, "Show me the settings", chat_name=LONG_TITLE)


def axe_violations(page: Any, server: Server, **options: Any) -> list[dict[str, Any]]:
    """Run the vendored axe-core on the page; the serious and critical violations, briefly."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(url=server.url + "/static/vendor/axe-core/axe.min.js")
    found = page.evaluate(
        """async (options) => (await axe.run(document, options)).violations.map((v) => ({
             id: v.id, impact: v.impact,
             nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + ": " + n.failureSummary)}))""",
        {"resultTypes": ["violations"], **options},
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def assert_axe_clean(page: Any, server: Server, view: str) -> None:
    bad = axe_violations(page, server)
    assert bad == [], f"axe on {view}:\n" + json.dumps(bad, indent=1)


# The contrast of one element's text against the first opaque background behind it (WCAG 2 formula).
CONTRAST_JS = """(el, pseudo = null) => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const fg = rgb(getComputedStyle(el, pseudo).color);
  let n = el, bg = null;
  while (n && n.nodeType === 1) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.95)) { bg = c.slice(0, 3); break; }
    n = n.parentElement;
  }
  bg = bg || [255, 255, 255];
  const [a, b] = [lum(fg.slice(0, 3)), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""

SMALL_TEXTS = {
    "action button": "article.msg-assistant .msg-action",
    "model name": "article.msg-assistant .msg-model",
    "provider name": "article.msg-assistant .msg-provider",
    "usage": "article.msg-assistant .msg-usage",
    "composer hint": "#composer-hint",
    # The list's dates: per entry once, now the date groups' headings (Today, Yesterday, ...).
    "list timestamp": "#conv-list .conv-meta, #conv-list .conv-group-head",
}


def test_phone_tables_scroll_in_their_block_and_the_header_keeps_the_title(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("phone")
    page, _ = open_page(user, **PHONE)
    cid = table_conversation(page, server)
    goto(page, f"{server.url}/#{cid}")
    reply = last_reply(page)
    wrap = reply.locator(".table-wrap")
    expect(wrap).to_have_count(1)

    # The page itself never scrolls sideways; the table's box does.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = wrap.evaluate("(w) => ({sw: w.scrollWidth, cw: w.clientWidth})")
    assert box["sw"] > box["cw"], box
    expect(wrap).to_have_attribute("tabindex", "0")
    expect(wrap).to_have_attribute("role", "region")
    expect(wrap).to_have_attribute(
        "aria-label", "Table: Setting, Description of what it does, Default value"
    )
    # Words are not split: a cell of one long word is one line.
    for name in ("CHAT_MAX_MESSAGE_CHARS", "CHAT_CONCURRENT_TURNS", "100000"):
        lines = reply.locator("td", has_text=name).evaluate(
            "(td) => { const r = document.createRange(); r.selectNodeContents(td);"
            " return new Set(Array.from(r.getClientRects(), (x) => Math.round(x.top))).size; }"
        )
        assert lines == 1, f"{name} is split over {lines} lines"
    # The keyboard scrolls it (and the code block below).
    wrap.focus()
    for _ in range(6):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("(w) => w.scrollLeft > 0", arg=wrap.element_handle())
    pre = reply.locator("pre")
    pre.focus()
    for _ in range(6):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("(p) => p.scrollLeft > 0", arg=pre.element_handle())

    # The code block is the same: one focusable, labelled region that scrolls.
    expect(pre).to_have_attribute("tabindex", "0")
    expect(pre).to_have_attribute("role", "region")
    expect(pre).to_have_attribute("aria-label", "Code: python")
    expect(reply.locator("pre code")).to_contain_text("a_rather_long_function_name")

    # The header: the title has its row (ellipsised, the whole title in its tooltip); usage and cost
    # have moved after the conversation.
    title = page.locator("#chat-title")
    expect(title).to_have_attribute("title", LONG_TITLE)
    t = title.evaluate(
        "(h) => ({sw: h.scrollWidth, cw: h.clientWidth, ov: getComputedStyle(h).textOverflow,"
        " w: h.getBoundingClientRect().width})"
    )
    assert t["ov"] == "ellipsis" and t["sw"] > t["cw"] and t["w"] >= 280, t
    expect(page.locator("#chat-totals")).to_be_hidden()
    foot = page.locator(".totals-foot")
    expect(foot).to_be_visible()
    expect(foot).to_contain_text("tokens")
    buttons = page.locator(".topbar .context-open, .topbar .instructions-open, .topbar .share-open")
    tops = {round(b.bounding_box()["y"]) for b in buttons.all()}
    assert len(tops) == 1, f"the header's buttons take {len(tops)} rows"
    header_h = page.locator(".topbar").bounding_box()["height"]
    assert header_h <= 100, header_h
    page.evaluate("document.getElementById('scroller').scrollTop = 0")
    shot(page, "85-phone-table-and-header")

    page.emulate_media(color_scheme="dark")
    wrap.evaluate("(w) => { w.scrollLeft = 120; }")
    wrap.focus()
    shot(page, "86-phone-dark-table-scrolled")
    assert_axe_clean(page, server, "a conversation on a phone, dark")
    page.emulate_media(color_scheme="light")
    assert_axe_clean(page, server, "a conversation on a phone")

    # On a desktop the totals stay in the header, once.
    desk, _ = open_page(user)
    goto(desk, f"{server.url}/#{cid}")
    expect(desk.locator("#chat-totals")).to_be_visible()
    expect(desk.locator(".totals-foot")).to_be_hidden()
    expect(desk.locator("#chat-title")).to_have_attribute("title", LONG_TITLE)
    # A narrow desktop window with the list open keeps the title readable the same way.
    narrow, _ = open_page(user, viewport={"width": 960, "height": 800})
    goto(narrow, f"{server.url}/#{cid}")
    expect(narrow.locator("#sidebar")).to_be_visible()
    width = narrow.locator("#chat-title").bounding_box()["width"]
    assert width >= 500, width
    expect(narrow.locator("#chat-totals")).to_be_hidden()
    expect(narrow.locator(".totals-foot")).to_be_visible()


def test_jump_to_latest_shows_away_from_the_end_and_takes_you_there(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("jumper")
    page, _ = open_page(user)
    server.upstream.reply = long_reply(1)
    cid = post_turn(page, server, "First question")
    post_turn(page, server, "Second question", cid)
    goto(page, f"{server.url}/#{cid}")
    jump = page.get_by_role("button", name="latest")
    expect(jump).to_be_hidden()  # the view opens at the end

    page.evaluate("document.getElementById('scroller').scrollTop = 0")
    expect(jump).to_be_visible()
    assert "latest" in jump.evaluate("(b) => b.textContent + (b.getAttribute('aria-label') || '')")
    shot(page, "87-jump-to-latest")
    jump.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => { const s = document.getElementById('scroller');"
        " return s.scrollHeight - s.scrollTop - s.clientHeight < 4; }"
    )
    expect(jump).to_be_hidden()
    # The keyboard lands on the latest message, so reading goes on from there.
    focused = page.evaluate("document.activeElement.matches('article.msg:last-of-type')")
    assert focused

    # While a reply streams and the reader is higher up, the view stays put and the button shows.
    server.upstream.reply = long_reply(3)
    server.upstream.delta_delay = 0.03
    server.upstream.chunk_size = 40
    send(page, "Third question")
    expect(page.locator("#stop")).to_be_visible()
    page.evaluate("document.getElementById('scroller').scrollTop = 100")
    expect(jump).to_be_visible()
    page.wait_for_timeout(300)
    assert page.evaluate("document.getElementById('scroller').scrollTop") == 100
    page.emulate_media(color_scheme="dark")
    shot(page, "88-jump-to-latest-while-streaming-dark")
    page.emulate_media(color_scheme="light")
    jump.click()
    wait_idle(page)
    page.evaluate(
        "() => { const s = document.getElementById('scroller'); s.scrollTop = s.scrollHeight; }"
    )
    expect(jump).to_be_hidden()

    # A new chat has nothing to jump to.
    page.locator("#new-chat").click()
    expect(jump).to_be_hidden()


def test_switching_versions_keeps_the_message_in_view_and_focus_on_the_switcher(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("versions")
    page, _ = open_page(user)
    counter = iter(range(1, 100))
    server.upstream.reply = lambda body: long_reply(next(counter))
    cid = post_turn(page, server, "Question one")
    post_turn(page, server, "Question two", cid)
    post_turn(page, server, "Question three", cid)
    goto(page, f"{server.url}/#{cid}")
    expect(page.locator("article.msg")).to_have_count(6)

    # A second version of the first reply (a branch of two messages).
    first = page.locator("article.msg-assistant").first
    first.scroll_into_view_if_needed()
    first.get_by_role("button", name="Regenerate", exact=True).click()
    wait_idle(page)
    expect(page.locator("article.msg")).to_have_count(2)
    reply_id = page.locator("article.msg-assistant").first.get_attribute("data-id")

    # Back to version 1: six long messages again, but the switched message stays where it was and the
    # keyboard stays on its switcher (Previous is now at its end, so on Next).
    nav = page.locator("article.msg-assistant").first.locator(".sibling-nav")
    nav.get_by_role("button", name="Previous version").focus()
    before = page.locator("article.msg-assistant").first.bounding_box()["y"]
    page.keyboard.press("Enter")
    expect(page.locator("article.msg")).to_have_count(6)
    switched = page.locator("article.msg-assistant").first
    expect(switched.locator(".sib-count")).to_have_text("1/2")
    expect(switched.get_by_role("button", name="Next version")).to_be_focused()
    after = switched.bounding_box()["y"]
    assert abs(after - before) < 4, (before, after)
    in_view = switched.locator(".sibling-nav").evaluate(
        "(n) => { const s = document.getElementById('scroller').getBoundingClientRect();"
        " const r = n.getBoundingClientRect(); return r.top >= s.top && r.bottom <= s.bottom; }"
    )
    assert in_view, "the switcher went out of view"
    shot(page, "89-version-switch-keeps-place")

    # And forward again with the keyboard alone.
    page.keyboard.press("Enter")
    expect(page.locator("article.msg")).to_have_count(2)
    again = page.locator("article.msg-assistant").first
    expect(again.locator(".sib-count")).to_have_text("2/2")
    assert again.get_attribute("data-id") == reply_id
    expect(again.get_by_role("button", name="Previous version")).to_be_focused()


RECORD_STATUS = """() => {
  window.__said = [];
  const s = document.getElementById('sr-status');
  new MutationObserver(() => { const t = s.textContent.trim(); if (t) window.__said.push(t); })
    .observe(s, {childList: true, characterData: true, subtree: true});
}"""


def test_a_screen_reader_hears_answering_then_each_reply_once(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("reader")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    # The conversation is not a live region (that read every streamed piece and every re-render).
    live = page.evaluate(
        "() => { const m = document.getElementById('messages');"
        " return [m.getAttribute('role'), m.getAttribute('aria-live'),"
        " !!m.closest('[aria-live]:not([aria-live=off]), [role=log], [role=status], [role=alert]')]; }"
    )
    assert live == [None, None, False], live
    status = page.locator("#sr-status")
    expect(status).to_have_attribute("role", "status")
    expect(status).to_have_attribute("aria-live", "polite")
    page.evaluate(RECORD_STATUS)

    server.upstream.reply = "The capital of **France** is Paris."
    server.upstream.delta_delay = 0.05
    server.upstream.chunk_size = 4
    send(page, "What is the capital of France?")
    expect(status).to_have_text("Answering…")
    wait_idle(page)
    expect(status).to_have_text("The capital of France is Paris.")

    server.upstream.reply = "Its population is about two million."
    send(page, "How many people live there?")
    wait_idle(page)
    expect(status).to_have_text("Its population is about two million.")
    page.wait_for_timeout(300)  # the branch is reloaded after the turn: nothing more is said
    said = page.evaluate("window.__said")
    assert said == [
        "Answering…",
        "The capital of France is Paris.",
        "Answering…",
        "Its population is about two million.",
    ], said

    # A stopped reply says so, once.
    server.upstream.reply = "word " * 400
    send(page, "Write a long text")
    expect(last_reply(page).locator(".msg-body")).to_contain_text("word word")
    page.locator("#stop").click()
    wait_idle(page)
    page.wait_for_timeout(300)
    said = page.evaluate("window.__said")
    assert said[4:] == ["Answering…", "Stopping.", "Stopped."], said

    # A reply with a table and code is read as its text: no "Copy" of the code block's bar.
    server.upstream.reply = TABLE_REPLY
    server.upstream.delta_delay = 0.0
    send(page, "Show me the settings")
    wait_idle(page)
    page.wait_for_timeout(300)
    said = page.evaluate("window.__said")
    assert said[7] == "Answering…" and len(said) == 9, said
    assert said[8].startswith(
        "Here is a table and some code.\nSetting Description of what it does"
    ), said[8]
    assert "def a_rather_long_function_name(argument_one: int" in said[8]
    assert "Copy" not in said[8]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_small_texts_meet_wcag_aa_contrast(server: Server, open_page: Any, scheme: str) -> None:
    user = server.new_user(f"contrast{scheme}")
    page, _ = open_page(user, color_scheme=scheme)
    cid = table_conversation(page, server)
    goto(page, f"{server.url}/#{cid}")
    expect(last_reply(page).locator(".msg-usage")).to_be_visible()
    for what, sel in SMALL_TEXTS.items():
        found = page.locator(sel)
        assert found.count() > 0, f"no {what} on the page ({sel})"
        for i in range(found.count()):
            ratio = found.nth(i).evaluate(CONTRAST_JS)
            assert ratio >= 4.5, f"{what} ({sel}) in {scheme}: {ratio:.2f}:1"
    # Placeholders (axe does not check them).
    for sel in ("#composer-input", "#filter"):
        ratio = page.locator(sel).evaluate(CONTRAST_JS, "::placeholder")
        assert ratio >= 4.5, f"the placeholder of {sel} in {scheme}: {ratio:.2f}:1"
    # The selected list entry sits on a darker background.
    ratio = page.locator("#conv-list [aria-current]").first.evaluate(CONTRAST_JS)
    assert ratio >= 4.5, f"the open conversation's name in {scheme}: {ratio:.2f}:1"
    bad = axe_violations(page, server, runOnly=["color-contrast"])
    assert bad == [], json.dumps(bad, indent=1)


def test_axe_finds_no_serious_violations_on_the_main_views(server: Server, open_page: Any) -> None:
    # The login page.
    page, _ = open_page()
    page.goto(server.url + "/login")
    expect(page.locator("input[name=username]")).to_be_visible()
    assert_axe_clean(page, server, "the login page")
    page.emulate_media(color_scheme="dark")
    assert_axe_clean(page, server, "the login page, dark")

    user = server.new_user("axe")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    assert_axe_clean(page, server, "the empty chat")

    cid = table_conversation(page, server)
    goto(page, f"{server.url}/#{cid}")
    expect(last_reply(page).locator(".table-wrap")).to_have_count(1)
    assert_axe_clean(page, server, "a conversation with code and a table")
    page.emulate_media(color_scheme="dark")
    assert_axe_clean(page, server, "a conversation with code and a table, dark")
    page.emulate_media(color_scheme="light")

    # Search in messages.
    page.locator("#filter").fill("settings")
    expect(page.locator("#search-results")).to_be_visible()
    assert_axe_clean(page, server, "search results")
    page.locator("#filter").fill("")

    # The model settings popover and the model list.
    page.locator("#options-open").click()
    expect(page.locator("#options-popover")).to_be_visible()
    assert_axe_clean(page, server, "the model settings popover")
    page.keyboard.press("Escape")
    page.locator("#model-input").click()
    expect(page.locator("#model-listbox")).to_be_visible()
    assert_axe_clean(page, server, "the model list")
    page.keyboard.press("Escape")

    # The account panel (a modal dialog).
    page.locator("#account-open").click()
    expect(page.locator("#account-dialog")).to_be_visible()
    assert_axe_clean(page, server, "the account panel")
    page.keyboard.press("Escape")

    # The other panels of the header and the sidebar, light and dark.
    for opener, dialog in (
        ("#context-open", "#context-dialog"),
        ("#instructions-open", "#instructions-dialog"),
        ("#share-open", "#share-dialog"),
        ("#templates-open", "#templates-dialog"),
        ("#stats-open", "#stats-dialog"),
    ):
        page.locator(opener).click()
        expect(page.locator(dialog)).to_be_visible()
        page.wait_for_load_state("networkidle")
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            assert_axe_clean(page, server, f"{dialog}, {scheme}")
        page.emulate_media(color_scheme="light")
        page.keyboard.press("Escape")
        expect(page.locator(dialog)).to_be_hidden()

    # While a reply is being written (the Stop button, the pending reply), light and dark.
    server.upstream.reply = "word " * 300
    server.upstream.delta_delay = 0.05
    server.upstream.chunk_size = 5
    page.locator("#composer-input").fill("Write a long text")
    page.locator("#composer-input").press("Enter")
    expect(page.locator("#stop")).to_be_visible()
    expect(last_reply(page).locator(".msg-body")).to_contain_text("word word")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert_axe_clean(page, server, f"a reply being written, {scheme}")
    page.emulate_media(color_scheme="light")
    page.locator("#stop").click()
    expect(page.locator("#send")).to_be_visible()

    # A phone with the conversation list open.
    phone, _ = open_page(user, **PHONE)
    goto(phone, f"{server.url}/#{cid}")
    assert_axe_clean(phone, server, "a conversation on a phone")
    phone.locator("#toggle-sidebar").click()
    expect(phone.locator("#sidebar")).to_be_visible()
    assert_axe_clean(phone, server, "the conversation list on a phone")
    phone.emulate_media(color_scheme="dark")
    assert_axe_clean(phone, server, "the conversation list on a phone, dark")


def test_a_shared_snapshot_has_scrolling_tables_and_no_serious_axe_findings(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("snapshot")
    token = server.app.extensions["shares"].create(
        user,
        "c_snapshot",
        {
            "chat_name": LONG_TITLE,
            "messages": [
                {"role": "user", "text": "Show me the settings", "timestamp": 1767378354.1},
                {"role": "assistant", "text": TABLE_REPLY, "timestamp": 1767378360.2},
            ],
        },
    )
    for scheme in ("light", "dark"):
        page, _ = open_page(color_scheme=scheme, **PHONE)
        page.goto(f"{server.url}/share/{token}")
        wrap = page.locator(".msg-assistant .table-wrap")
        expect(wrap).to_have_attribute("tabindex", "0")
        expect(page.locator(".msg-assistant pre")).to_have_attribute("role", "region")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert_axe_clean(page, server, f"a shared snapshot on a phone, {scheme}")
