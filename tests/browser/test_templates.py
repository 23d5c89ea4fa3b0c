"""Templates and instructions in real Chromium: create a template with variables, start a
conversation from it (the rendered first message and instructions), change a conversation's
instructions, set the default instructions. Screenshots 40-44."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, goto, shot

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)


def wait_idle(page: Any) -> None:
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)


def create_template(page: Any) -> None:
    page.locator("#templates-open").click()
    dialog = page.locator("#templates-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#templates-none")).to_be_visible()
    page.locator("#template-new").click()
    expect(page.locator("#template-name")).to_be_focused()
    page.locator("#template-name").fill("Travel planner")
    page.locator("#template-description").fill("Plan a trip to a city")
    # A mistake first: the server says what and where, nothing is saved.
    page.locator("#template-instructions").fill("Plan for {{ city.upper() }}.")
    page.locator("#template-variables").fill("city\ndays = 3")
    page.locator("#template-save").click()
    result = page.locator("#template-result")
    expect(result).to_contain_text("attribute access")
    expect(result).to_contain_text("line 1, column 17")
    page.locator("#template-instructions").fill(
        "You plan trips. The traveller goes to {{ city | trim }} for {{ days }} days."
    )
    page.locator("#template-message-add").click()
    page.locator(".template-message-text").first.fill(
        "Plan {{ days }} days in {{ city | trim | upper }}, please."
    )
    page.locator("#template-save").click()
    items = page.locator("#templates-list .template-item")
    expect(items).to_have_count(1)
    expect(items.first.locator(".template-name")).to_have_text("Travel planner")
    expect(items.first.locator(".template-description")).to_have_text("Plan a trip to a city")
    # The editor shows it again as saved.
    items.first.locator(".template-edit").click()
    expect(page.locator("#template-name")).to_have_value("Travel planner")
    expect(page.locator("#template-variables")).to_have_value("city\ndays = 3")
    expect(page.locator(".template-message-text")).to_have_value(
        "Plan {{ days }} days in {{ city | trim | upper }}, please."
    )
    expect(page.locator(".template-message-role")).to_have_value("user")
    page.locator("#template-cancel").click()
    expect(items).to_have_count(1)


def test_create_and_start_from_a_template(server: Server, open_page: Any) -> None:
    user = server.new_user("templates")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    create_template(page)
    shot(page, "40-templates-list")

    page.locator("#templates-list .template-use").first.click()
    expect(page.locator("#template-start-title")).to_have_text("Start from “Travel planner”")
    city = page.get_by_label("city", exact=True)
    days = page.get_by_label("days", exact=True)
    expect(days).to_have_attribute("placeholder", "3")
    expect(city).to_be_focused()
    # The page asks for a required variable before anything is sent.
    page.locator("#template-start-go").click()
    expect(page.locator("#template-start-result")).to_contain_text("Fill in “city”")
    city.fill("  Lisbon ")
    shot(page, "41-template-variables")
    page.locator("#template-start-go").click()
    expect(page.locator("#templates-dialog")).to_be_hidden()
    wait_idle(page)

    # The rendered first message is on screen; the model got the rendered instructions.
    user_messages = page.locator("article.msg-user")
    expect(user_messages).to_have_count(1)
    expect(user_messages.first).to_contain_text("Plan 3 days in LISBON, please.")
    expect(page.locator("article.msg-assistant")).to_have_count(1)
    # Named from its first message (the template's seeded one), not after the template.
    expect(page.locator("#chat-title")).to_have_text("Plan 3 days in LISBON, please.")
    body = server.upstream.responses_requests()[-1].body
    assert body["instructions"] == "You plan trips. The traveller goes to Lisbon for 3 days."
    assert body["input"] == "Plan 3 days in LISBON, please."
    shot(page, "42-template-conversation")
    page.set_viewport_size({"width": 390, "height": 844})
    page.keyboard.press("Escape")  # a phone shows the conversation, not the list
    expect(page.locator("body.sidebar-open")).to_have_count(0)
    expect(page.locator("#instructions-open")).to_be_visible()
    shot(page, "42-template-conversation-phone")
    page.set_viewport_size({"width": 1200, "height": 820})

    # The conversation's instructions, read and changed from the header.
    page.locator("#instructions-open").click()
    text = page.locator("#instructions-text")
    expect(text).to_have_value("You plan trips. The traveller goes to Lisbon for 3 days.")
    text.fill("You plan trips on a small budget.")
    page.locator("#instructions-save").click()
    expect(page.locator("#instructions-result")).to_contain_text("next message")
    page.emulate_media(color_scheme="dark")
    shot(page, "43-instructions-dark")
    page.emulate_media(color_scheme="light")
    page.keyboard.press("Escape")
    box = page.locator("#composer-input")
    box.fill("And the food?")
    box.press("Enter")
    wait_idle(page)
    assert server.upstream.responses_requests()[-1].body["instructions"] == (
        "You plan trips on a small budget."
    )


def test_default_instructions_on_a_phone(server: Server, open_page: Any) -> None:
    user = server.new_user("defaults")
    page, _ = open_page(user, viewport={"width": 390, "height": 844})
    goto(page, server.url + "/")
    page.locator("#toggle-sidebar").click()
    page.locator("#account-open").click()
    field = page.locator("#default-instructions")
    expect(field).to_have_value("")
    expect(field).to_have_attribute("placeholder", server.app.config["CHAT_INSTRUCTIONS"])
    field.fill("Answer like a pirate.")
    page.locator("#default-instructions-form button[type=submit]").click()
    expect(page.locator("#default-instructions-result")).to_contain_text("Saved")
    field.scroll_into_view_if_needed()
    shot(page, "44-default-instructions-phone")
    page.keyboard.press("Escape")
    box = page.locator("#composer-input")
    box.fill("Hello")
    box.press("Enter")
    wait_idle(page)
    assert server.upstream.responses_requests()[-1].body["instructions"] == "Answer like a pirate."
    account = page.request.get(server.url + "/account").json()
    assert json.dumps(account["default_instructions"]) == '"Answer like a pirate."'


def test_delete_a_template(server: Server, open_page: Any) -> None:
    user = server.new_user("tdelete")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    create_template(page)
    page.locator("#templates-list .template-delete").first.click()
    expect(page.locator("#confirm-text")).to_contain_text("Travel planner")
    page.locator("#confirm-ok").click()
    expect(page.locator("#templates-list .template-item")).to_have_count(0)
    expect(page.locator("#templates-none")).to_be_visible()
    assert page.request.get(server.url + "/templates").json() == {"templates": []}


def api_post(page: Any, url: str, body: dict[str, Any]) -> Any:
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    res = page.request.post(
        url, data=body, headers={"Content-Type": "application/json", "X-CSRF-Token": csrf or ""}
    )
    assert res.ok, res.text()
    return res.json()


def test_an_edit_keeps_descriptions_and_a_start_focuses_the_composer(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("tedit")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    made = api_post(
        page,
        server.url + "/templates",
        {
            "name": "Greeter",
            "instructions": "Greet {{ who }} in {{ lang | default('English') }}.",
            "variables": [
                {"name": "who", "description": "the person to greet"},
                {"name": "lang", "default": "English", "description": "the language"},
            ],
            "messages": [{"role": "user", "text": "Hello {{ who }}"}],
        },
    )
    page.locator("#templates-open").click()
    # Sharing is off on this server: no box that can only fail.
    expect(page.locator("#template-shared")).to_have_count(0)
    page.locator("#templates-list .template-edit").first.click()
    expect(page.locator("#template-variables")).to_have_value("who\nlang = English")
    page.locator("#template-name").fill("Greeter 2")
    page.locator("#template-save").click()
    expect(page.locator("#templates-list .template-name")).to_have_text(["Greeter 2"])
    saved = page.request.get(f"{server.url}/templates/{made['id']}").json()
    assert saved["name"] == "Greeter 2" and saved["shared"] is False
    assert saved["variables"] == [
        {"name": "who", "description": "the person to greet"},
        {"name": "lang", "default": "English", "description": "the language"},
    ]

    page.locator("#templates-list .template-use").first.click()
    page.get_by_label("who: the person to greet").fill("Ada")
    page.locator("#template-start-go").click()
    expect(page.locator("#templates-dialog")).to_be_hidden()
    wait_idle(page)
    expect(page.locator("article.msg-user").first).to_contain_text("Hello Ada")
    expect(page.locator("#composer-input")).to_be_focused()


def test_instructions_of_a_new_chat_focus_the_close_button(server: Server, open_page: Any) -> None:
    user = server.new_user("tfocus")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    page.locator("#instructions-open").click()
    expect(page.locator("#instructions-result")).to_contain_text("has not started yet")
    expect(page.locator("#instructions-text")).to_be_disabled()
    expect(page.locator("#instructions-form .dialog-actions [data-close]")).to_be_focused()


def test_no_title_polling_without_auto_titles(server: Server, open_page: Any) -> None:
    user = server.new_user("tpoll")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    expect(page.locator("body")).to_have_attribute("data-auto-titles", "false")
    # watchTitle schedules its first list fetch with setTimeout; off, it schedules nothing.
    delays = page.evaluate(
        """async () => {
          const titles = await import('/static/js/titles.js');
          const calls = [];
          const real = window.setTimeout;
          window.setTimeout = (fn, ms) => { calls.push(ms); return 0; };
          try { titles.watchTitle('c_not_there'); } finally { window.setTimeout = real; }
          return calls;
        }"""
    )
    assert delays == []


def test_a_refused_search_says_what_was_wrong(server: Server, open_page: Any) -> None:
    user = server.new_user("tsearch")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    page.locator("#filter").fill('ab"cd')
    expect(page.locator("#search-results .search-status")).to_have_text(
        "This search cannot be run: a quotation mark is not closed."
    )
