"""The account panel (password change) and the Share panel, in real Chromium against the real app."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Server, goto, shot

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

NEW_PASSWORD = "a brand new passphrase 2026"


def send(page: Any, text: str) -> None:
    box = page.locator("#composer-input")
    box.fill(text)
    box.press("Enter")


def wait_idle(page: Any) -> None:
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)


def fill_password_form(page: Any, current: str, new: str, repeat: str | None = None) -> None:
    page.locator("#current-password").fill(current)
    page.locator("#new-password").fill(new)
    page.locator("#repeat-password").fill(new if repeat is None else repeat)
    page.locator("#password-form button[type=submit]").click()


def test_change_password_from_the_account_panel(server: Server, open_page: Any) -> None:
    user = server.new_user("account")
    page, _ = open_page(user)
    other, _ = open_page(user)  # another browser, logged in as the same user
    goto(page, server.url + "/")
    goto(other, server.url + "/")

    # The user name at the bottom of the sidebar opens the panel; focus goes to the first field.
    opener = page.locator("#account-open")
    expect(opener).to_have_text(user)
    expect(opener).to_have_attribute("aria-haspopup", "dialog")
    opener.click()
    dialog = page.locator("#account-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#current-password")).to_be_focused()
    expect(page.get_by_label("New password", exact=True)).to_be_visible()
    expect(page.get_by_label("Repeat the new password")).to_be_visible()
    expect(page.locator("#new-password-hint")).to_contain_text("At least 12 characters")
    # Esc closes it and gives focus back to the button that opened it.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()

    opener.click()
    result = page.locator("#password-result")
    # Checked on the page first: too short, and a repeat that differs.
    fill_password_form(page, PASSWORD, "short")
    expect(result).to_contain_text("at least 12 characters")
    expect(page.locator("#new-password")).to_have_attribute("aria-invalid", "true")
    fill_password_form(page, PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x")
    expect(result).to_contain_text("not the same")

    # A wrong current password: the server's 401 in plain words, focus back on that field.
    fill_password_form(page, "not my password at all", NEW_PASSWORD)
    expect(result).to_have_text("The current password is wrong. Your password was not changed.")
    expect(result).to_have_class(re.compile("result-error"))
    expect(page.locator("#current-password")).to_be_focused()
    expect(page.locator("#current-password")).to_have_attribute("aria-invalid", "true")
    shot(page, "13-account-error")

    fill_password_form(page, PASSWORD, NEW_PASSWORD)
    expect(result).to_contain_text("Password changed")
    expect(result).to_contain_text("other sessions were signed out")
    expect(result).to_have_class(re.compile("result-ok"))
    expect(page.locator("#current-password")).to_have_value("")
    shot(page, "13-account")
    page.emulate_media(color_scheme="dark")
    shot(page, "13-account-dark")
    page.emulate_media(color_scheme="light")
    page.locator("#account-done").click()
    expect(dialog).to_be_hidden()

    # This session stays signed in.
    send(page, "Still here?")
    wait_idle(page)
    expect(page.locator("article.msg-assistant")).to_have_count(1)

    # The other browser's session ended: its next action sends it to the login page.
    send(other, "Am I still signed in?")
    expect(other).to_have_url(re.compile(r"/login$"))

    # The old password no longer logs in; the new one does.
    fresh, _ = open_page()
    fresh.goto(server.url + "/login")
    fresh.fill("#username", user)
    fresh.fill("#password", PASSWORD)
    fresh.click("#login-form button[type=submit]")
    expect(fresh.locator("#login-error")).to_contain_text("Wrong user name or password")
    fresh.fill("#password", NEW_PASSWORD)
    fresh.click("#login-form button[type=submit]")
    expect(fresh).to_have_url(server.url + "/")
    expect(fresh.locator("body.ready")).to_have_count(1)


def test_share_link_create_open_and_revoke(server: Server, open_page: Any) -> None:
    user = server.new_user("sharing")
    page, _ = open_page(user, permissions=["clipboard-read", "clipboard-write"])
    goto(page, server.url + "/")
    share_open = page.locator("#share-open")
    expect(share_open).to_be_hidden()  # nothing to share in a new chat

    server.upstream.reply = "Here is a **shared** answer with `code`."
    send(page, "Please share this")
    wait_idle(page)
    expect(share_open).to_be_visible()
    share_open.click()
    dialog = page.locator("#share-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#share-title")).to_have_text("Share “Please share this”")
    expect(page.locator("#share-warning")).to_contain_text("Anyone with the link can read it")
    expect(page.locator("#share-create")).to_be_focused()
    expect(page.locator("#share-none")).to_be_visible()

    page.locator("#share-create").click()
    link_box = page.locator("#share-link")
    expect(link_box).to_have_value(
        re.compile(re.escape(server.url) + r"/share/[A-Za-z0-9_-]{40,}$")
    )
    link = link_box.input_value()
    items = page.locator("#share-list .share-item")
    expect(items).to_have_count(1)
    expect(items.first.locator(".share-badge")).to_have_text("new")
    expect(items.first.locator(".share-expires")).not_to_be_empty()
    page.locator("#share-copy").click()
    expect(page.locator("#share-copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == link
    shot(page, "14-share-panel")
    page.emulate_media(color_scheme="dark")
    shot(page, "14-share-panel-dark")
    page.emulate_media(color_scheme="light")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(share_open).to_be_focused()

    # Someone without an account opens the link: the snapshot, read-only and rendered.
    reader, _ = open_page()
    response = reader.goto(link)
    assert response is not None and response.status == 200
    expect(reader.locator("h1")).to_have_text("Please share this")
    expect(reader.locator(".msg-user .msg-body")).to_have_text("Please share this")
    expect(reader.locator(".msg-assistant .msg-body strong")).to_have_text("shared")
    expect(reader.locator("textarea, input, #composer")).to_have_count(0)
    reader.emulate_media(color_scheme="dark")
    shot(reader, "12-share-dark")

    # A snapshot: what is written afterwards is not in it.
    send(page, "A later message")
    wait_idle(page)
    reader.reload()
    expect(reader.locator("article.msg")).to_have_count(2)

    # The panel lists the link (no token shown again) and revokes it.
    share_open.click()
    expect(page.locator("#share-new")).to_be_hidden()
    expect(items).to_have_count(1)
    items.first.locator(".share-revoke").click()
    expect(page.locator("#share-result")).to_contain_text("Link revoked")
    expect(items).to_have_count(0)
    expect(page.locator("#share-none")).to_be_visible()
    response = reader.goto(link)
    assert response is not None and response.status == 404
