"""Keyboard shortcuts and the grouped conversation list (pin, archive, undo after delete), in real
Chromium against the real app and the fake upstream (issue 14, points 8 and 9). Screenshots 95-98;
the reasoning label (point 11) is in test_reasoning_label.py."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, goto, shot

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

LONG_NAME = (
    "A very long conversation name about planning the summer holiday in the mountains with friends"
)


def _utc_noon(days_ago: int) -> float:
    """Noon UTC `days_ago` calendar days before today (the page runs in UTC here)."""
    today = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    return (today - dt.timedelta(days=days_ago)).timestamp()


def _store(server: Server) -> Any:
    return server.app.extensions["store"]


def _create(server: Server, user: str, name: str, when: float, text: str = "hello") -> str:
    msgs = [{"id": "m_1", "parent_id": None, "role": "user", "text": text, "timestamp": when}]
    conv = _store(server).create(
        user,
        chat_name=name,
        model="gpt-test",
        provider="openai",
        instructions="",
        created_at=when,
        last_update=when,
        messages=msgs,
    )
    return str(conv.id)


def _seed_dates(server: Server, user: str) -> dict[str, str]:
    now = time.time()
    # Today, but never before midnight UTC: a run just after midnight keeps "Today" honest.
    midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    today = max(now - 60, midnight.timestamp() + 1)
    ids = {
        "old": _create(server, user, "Tax return questions", _utc_noon(75)),
        "month": _create(server, user, "Garden layout", _utc_noon(20)),
        "week": _create(server, user, "Weekly review", _utc_noon(4)),
        "yesterday": _create(server, user, "Bread recipe", _utc_noon(1)),
        "archived": _create(server, user, "Old trip to Lisbon", _utc_noon(2)),
        "pinned": _create(server, user, "Reading list", _utc_noon(40)),
        "today": _create(server, user, "Shell scripting help", today - 1),
        "long": _create(server, user, LONG_NAME, today),
    }
    _store(server).update(user, ids["pinned"], pinned=True)
    _store(server).update(user, ids["archived"], archived=True)
    return ids


def _listed(page: Any, server: Server) -> dict[str, dict[str, Any]]:
    data = page.request.get(f"{server.url}/get-all-conversations").json()
    return {c["id"]: c for c in data["conversations"]}


def _focused_name(page: Any) -> str:
    return str(
        page.evaluate(
            "document.activeElement?.closest('.conv')?.querySelector('.conv-name')?.textContent"
            " || document.activeElement?.textContent || ''"
        )
    )


def axe_serious(page: Any, server: Server, view: str) -> None:
    """The vendored axe-core (static/vendor/axe-core) finds nothing serious or critical."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(url=server.url + "/static/vendor/axe-core/axe.min.js")
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
             .filter((v) => v.impact === "serious" || v.impact === "critical")
             .map((v) => v.id + ": " + v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "))"""
    )
    assert found == [], f"axe on {view}: {found}"


def _wait_gone(page: Any, server: Server, cid: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cid not in _listed(page, server):
            return
        time.sleep(0.2)
    raise AssertionError(f"{cid} was not deleted within {seconds} s")


def test_list_grouped_by_date_one_line_and_one_tab_stop(server: Server, open_page: Any) -> None:
    user = server.new_user("lister")
    ids = _seed_dates(server, user)
    page, _ = open_page(user, timezone_id="UTC")
    goto(page, server.url + "/")

    month = dt.datetime.fromtimestamp(_utc_noon(75), dt.UTC).strftime("%B %Y")
    heads = page.locator("#conv-list .conv-group-head")
    expect(heads).to_have_text(
        [
            "Pinned",
            "Today",
            "Yesterday",
            "Previous 7 days",
            "Previous 30 days",
            month,
            "Archived (1)",
        ]
    )
    groups = page.locator("#conv-list .conv-group")
    expect(groups.nth(0).locator(".conv-name")).to_have_text(["Reading list"])
    expect(groups.nth(1).locator(".conv-name")).to_have_text([LONG_NAME, "Shell scripting help"])
    expect(groups.nth(3).locator(".conv-name")).to_have_text(["Weekly review"])
    # Archived is collapsed at the end.
    toggle = page.locator("#conv-list .conv-group-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_text("Old trip to Lisbon")).to_be_hidden()

    # One line per entry; the long name ends in an ellipsis and is in full in the title.
    long_row = page.locator(f'#conv-list .conv[data-id="{ids["long"]}"]')
    expect(long_row.locator(".conv-open")).to_have_attribute("title", LONG_NAME)
    box = long_row.locator(".conv-open").bounding_box()
    assert box is not None and box["height"] < 40, box
    assert long_row.locator(".conv-name").evaluate("n => n.scrollWidth > n.clientWidth")
    assert (
        long_row.locator(".conv-name").evaluate("n => getComputedStyle(n).textOverflow")
        == "ellipsis"
    )
    shot(page, "95-list-groups")
    axe_serious(page, server, "the grouped list")

    # One tab stop: Tab from the search box lands on one entry; the list holds one tabindex=0.
    page.locator("#filter").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('#conv-list')")
    assert page.locator("#conv-list [tabindex='0']").count() == 1
    assert _focused_name(page) == "Reading list"
    page.keyboard.press("ArrowDown")
    assert _focused_name(page) == LONG_NAME
    page.keyboard.press("ArrowDown")
    assert _focused_name(page) == "Shell scripting help"
    page.keyboard.press("ArrowUp")
    assert _focused_name(page) == LONG_NAME
    page.keyboard.press("End")
    expect(toggle).to_be_focused()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_be_focused()
    page.keyboard.press("ArrowDown")
    assert _focused_name(page) == "Old trip to Lisbon"
    page.keyboard.press("Home")
    assert _focused_name(page) == "Reading list"
    assert page.locator("#conv-list [tabindex='0']").count() == 1
    # Tab leaves the list at once (its buttons are not tab stops).
    page.keyboard.press("Tab")
    assert not page.evaluate("!!document.activeElement.closest('#conv-list')")
    page.keyboard.press("Shift+Tab")
    assert _focused_name(page) == "Reading list"

    # Enter opens; focus stays on the entry; the entry is the tab stop from now on.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#chat-title")).to_have_text("Shell scripting help")
    expect(page).to_have_url(re.compile(re.escape(ids["today"]) + "$"))
    assert _focused_name(page) == "Shell scripting help"

    # Right reaches the row's buttons, Left comes back; Enter on Pin pins it.
    page.keyboard.press("ArrowRight")
    expect(page.locator(":focus")).to_have_attribute("aria-label", "Pin “Shell scripting help”")
    page.keyboard.press("ArrowRight")
    expect(page.locator(":focus")).to_have_attribute("aria-label", "Archive “Shell scripting help”")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    expect(groups.nth(0).locator(".conv-name")).to_have_text(
        ["Shell scripting help", "Reading list"]
    )
    assert _listed(page, server)[ids["today"]]["pinned"] is True
    # Focus followed the entry into the Pinned group, on its (now) Unpin button.
    expect(page.locator(":focus")).to_have_attribute("aria-label", "Unpin “Shell scripting help”")

    # Archive with the mouse: the entry goes to the Archived group; the server agrees.
    page.locator(f'#conv-list .conv[data-id="{ids["week"]}"]').hover()
    page.get_by_role("button", name="Archive “Weekly review”").click()
    expect(page.locator("#conv-list .conv-group-toggle")).to_have_text("Archived (2)")
    assert _listed(page, server)[ids["week"]]["archived"] is True
    page.get_by_role("button", name="Unarchive “Weekly review”").click()
    expect(page.locator("#conv-list .conv-group-toggle")).to_have_text("Archived (1)")
    assert _listed(page, server)[ids["week"]]["archived"] is False
    # F2 renames the focused entry.
    row = page.locator(f'#conv-list .conv[data-id="{ids["month"]}"] .conv-open')
    row.focus()
    page.keyboard.press("F2")
    field = page.locator(".conv-rename-input")
    expect(field).to_be_focused()
    field.fill("Garden layout, spring")
    field.press("Enter")
    expect(page.locator("#conv-list .conv-name", has_text="Garden layout, spring")).to_have_count(1)
    assert _focused_name(page) == "Garden layout, spring"

    # The filter searches archived entries too, and opens their group.
    page.fill("#filter", "lisbon")
    expect(page.locator("#conv-list .conv-name")).to_have_text(["Old trip to Lisbon"])
    expect(page.get_by_text("Old trip to Lisbon")).to_be_visible()
    page.fill("#filter", "")

    # A phone, dark: the sidebar's list with its groups.
    phone, _ = open_page(
        user,
        viewport={"width": 390, "height": 844},
        color_scheme="dark",
        timezone_id="UTC",
        is_mobile=True,
        has_touch=True,
    )
    goto(phone, server.url + "/")
    phone.locator("#toggle-sidebar").click()
    expect(phone.locator("#conv-list .conv-group-head").first).to_be_visible()
    expect(phone.locator("#conv-list .conv-pin").first).to_be_visible()
    shot(phone, "96-list-phone-dark")
    axe_serious(phone, server, "the list on a phone, dark")


def test_delete_hides_offers_undo_then_deletes(server: Server, open_page: Any) -> None:
    user = server.new_user("undoer")
    now = time.time()
    keep = _create(server, user, "Keep me", now - 30)
    second = _create(server, user, "Second to go", now - 20)
    third = _create(server, user, "Third to go", now - 10)
    page, _ = open_page(user, timezone_id="UTC")
    goto(page, f"{server.url}/#{keep}")
    expect(page.locator("#chat-title")).to_have_text("Keep me")

    # Delete the open conversation: no confirmation, it is hidden and a toast offers Undo.
    row = page.locator(f'#conv-list .conv[data-id="{keep}"]')
    row.hover()
    page.get_by_role("button", name="Delete “Keep me”").click()
    expect(row).to_have_count(0)
    expect(page.locator("#chat-title")).to_have_text("New chat")
    toast = page.locator("#toasts .toast")
    expect(toast).to_have_text(re.compile("Deleted “Keep me”"))
    expect(page.locator("#confirm-dialog")).to_be_hidden()
    shot(page, "97-undo-toast")
    axe_serious(page, server, "the undo toast")
    page.get_by_role("button", name="Undo deleting “Keep me”").click()
    expect(row).to_have_count(1)
    expect(toast).to_have_count(0)
    expect(page.locator("#chat-title")).to_have_text("Keep me")  # opened again
    time.sleep(6)  # past the undo delay: nothing was sent
    assert keep in _listed(page, server)
    # Ctrl+Z (outside text fields) undoes the latest delete too.
    row.hover()
    page.get_by_role("button", name="Delete “Keep me”").click()
    expect(row).to_have_count(0)
    expect(page.locator("#sr-status")).to_contain_text("Ctrl+Z or the Undo button brings it back")
    page.locator("#chat-title").click()
    page.keyboard.press("Control+z")
    expect(row).to_have_count(1)
    expect(toast).to_have_count(0)

    # The Delete key on a focused entry; after the delay the DELETE is sent.
    page.locator(f'#conv-list .conv[data-id="{second}"] .conv-open').focus()
    page.keyboard.press("Delete")
    expect(page.locator(f'#conv-list .conv[data-id="{second}"]')).to_have_count(0)
    # Focus moved to a neighbouring entry, still inside the list.
    assert page.evaluate("!!document.activeElement.closest('#conv-list .conv')")
    assert second in _listed(page, server)  # not yet
    _wait_gone(page, server, second)
    expect(toast).to_have_count(0)

    # A reload before the delay: pagehide sends the DELETE with keepalive (and the CSRF header).
    page.locator(f'#conv-list .conv[data-id="{third}"] .conv-open').focus()
    page.keyboard.press("Delete")
    expect(page.locator(f'#conv-list .conv[data-id="{third}"]')).to_have_count(0)
    assert third in _listed(page, server)
    goto(page, server.url + "/")
    _wait_gone(page, server, third, seconds=4.0)
    expect(page.locator("#conv-list .conv-name")).to_have_text(["Keep me"])

    # On a phone, dark: the notice sits above the message box, clear of it.
    phone, _ = open_page(
        user,
        viewport={"width": 390, "height": 844},
        color_scheme="dark",
        is_mobile=True,
        has_touch=True,
    )
    goto(phone, f"{server.url}/#{keep}")
    phone.locator("#toggle-sidebar").click()
    phone.get_by_role("button", name="Delete “Keep me”").click()
    note = phone.locator("#toasts .toast")
    expect(note).to_be_visible()
    toast_box = note.bounding_box()
    composer_box = phone.locator("#composer").bounding_box()
    assert toast_box is not None and composer_box is not None
    assert toast_box["y"] + toast_box["height"] <= composer_box["y"] + 1, (toast_box, composer_box)
    shot(phone, "97-undo-toast-phone-dark")
    phone.get_by_role("button", name="Undo deleting “Keep me”").click()
    expect(note).to_have_count(0)

    # Logging out before the delay: the DELETE is sent first (after it, the session would be gone).
    goto(page, server.url + "/")
    page.locator(f'#conv-list .conv[data-id="{keep}"]').hover()
    page.get_by_role("button", name="Delete “Keep me”").click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    again, _ = open_page(user)
    _wait_gone(again, server, keep, seconds=4.0)


def test_shortcuts_and_help_dialog(server: Server, open_page: Any) -> None:
    user = server.new_user("keys")
    page, _ = open_page(user, permissions=["clipboard-read", "clipboard-write"])
    goto(page, server.url + "/")
    box = page.locator("#composer-input")

    # "?" in the message box is typed, not taken.
    box.focus()
    page.keyboard.type("what? ")
    expect(box).to_have_value("what? ")
    expect(page.locator("#shortcuts-dialog")).to_be_hidden()
    # Ctrl+/ opens the help from anywhere; Esc closes it and focus comes back.
    page.keyboard.press("Control+/")
    dialog = page.locator("#shortcuts-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("row", name=re.compile("New chat"))).to_contain_text("Ctrl")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(box).to_be_focused()
    # "?" outside text fields, and the sidebar's button.
    page.locator("#chat-title").click()
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    expect(dialog.locator("caption")).to_have_text(
        ["Everywhere on the page", "In the conversation list"]
    )
    shot(page, "98-shortcuts-help")
    axe_serious(page, server, "the shortcuts help")
    dialog.get_by_role("button", name="Close").first.click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    box.fill("")

    # A reply with code, then copy it (Ctrl+Shift+C) and its code block (Ctrl+Shift+;).
    reply = "Use this:\n\n```sh\nls -la\n```\n\nDone \\(x^2\\,dx\\)."
    server.upstream.reply = reply
    box.fill("Show me a listing")
    box.press("Enter")
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)
    expect(page.locator("article.msg-assistant pre code")).to_have_count(1)
    box.focus()
    page.keyboard.press("Control+Shift+C")
    expect(page.locator("#sr-status")).to_have_text("Copied the last reply.")
    assert page.evaluate("navigator.clipboard.readText()") == reply
    page.keyboard.press("Control+Shift+Semicolon")
    expect(page.locator("#sr-status")).to_have_text("Copied the last code block.")
    assert page.evaluate("navigator.clipboard.readText()").strip() == "ls -la"
    cid = page.evaluate("decodeURIComponent(location.hash.slice(1))")

    # Ctrl+K: the search box; Shift+Esc: back to the message box.
    page.keyboard.press("Control+k")
    expect(page.locator("#filter")).to_be_focused()
    page.keyboard.press("Shift+Escape")
    expect(box).to_be_focused()
    # Ctrl+Shift+S hides and shows the list.
    page.keyboard.press("Control+Shift+S")
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bsidebar-open\b"))
    page.keyboard.press("Control+Shift+S")
    expect(page.locator("body")).to_have_class(re.compile(r"\bsidebar-open\b"))
    # Ctrl+Shift+O: a new chat, from inside the message box.
    box.focus()
    page.keyboard.press("Control+Shift+O")
    expect(page.locator("#chat-title")).to_have_text("New chat")
    assert page.evaluate("location.hash") == ""
    expect(box).to_be_focused()

    # While an answer streams, Shift+Esc does not stop it; Esc does.
    server.upstream.reply = " ".join(f"word{i}" for i in range(200))
    server.upstream.delta_delay = 0.05
    page.goto(f"{server.url}/#{cid}")
    expect(page.locator("body.ready")).to_have_count(1)
    box.fill("Talk for a while")
    box.press("Enter")
    expect(page.locator("article.msg-assistant").last.locator(".msg-body")).to_contain_text("word3")
    page.keyboard.press("Shift+Escape")
    expect(box).to_be_focused()
    expect(page.locator("#stop")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.msg-assistant").last).to_have_attribute("data-status", "stopped")
    server.upstream.delta_delay = 0.0

    # Ctrl+Shift+Backspace deletes the open conversation, with Undo.
    page.keyboard.press("Control+Shift+Backspace")
    expect(page.locator("#chat-title")).to_have_text("New chat")
    page.get_by_role("button", name=re.compile("^Undo deleting")).click()
    expect(page.locator(f'#conv-list .conv[data-id="{cid}"]')).to_have_count(1)
