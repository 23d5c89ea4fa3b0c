"""The composer and errors in real Chromium (issue 14, points 6, 7 and 12): Continue on a stopped or
cut-off reply, drafts per conversation, the length limit in words, the first run without a provider,
and error texts that say what happened upstream and what the user can do. Screenshots 90-94."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Server, build_app, goto, shot
from tests.fake_upstream import behaviour

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

PHONE = {"width": 390, "height": 844}


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


def draft_keys(page: Any) -> list[str]:
    return page.evaluate(
        "Object.keys(localStorage).filter((k) => k.startsWith('chat.draft.')).sort()"
    )


def conversation_id(page: Any) -> str:
    expect(page).to_have_url(re.compile(r"#c_"))
    return page.evaluate("decodeURIComponent(location.hash.slice(1))")


def open_conversation(page: Any, cid: str) -> None:
    """Switch to `cid` through the address (a hook of API.md), as the list does."""
    page.evaluate("(id) => { location.hash = encodeURIComponent(id); }", cid)
    expect(page.locator("article[data-id]").first).to_be_visible()


# ---------------------------------------------------------------- drafts


def test_drafts_per_conversation_across_switching_and_reload_cleared_by_send_and_logout(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("drafter")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    box = page.locator("#composer-input")

    send(page, "The first conversation")
    wait_idle(page)
    first = conversation_id(page)
    expect(box).to_have_value("")

    # A draft in the new chat, then a draft in the first conversation: each stays with its own.
    page.locator("#new-chat").click()
    box.fill("A new chat, half written")
    open_conversation(page, first)
    expect(page.locator("article.msg-user")).to_have_count(1)
    expect(box).to_have_value("")
    box.fill("Half a reply to the first\nwith a second line")
    page.locator("#new-chat").click()
    expect(box).to_have_value("A new chat, half written")
    shot(page, "90-draft-new-chat")

    # Across a reload, and when the address opens the conversation.
    page.reload()
    expect(page.locator("body.ready")).to_have_count(1)
    expect(box).to_have_value("A new chat, half written")
    goto(page, f"{server.url}/#{first}")
    expect(page.locator("article.msg-user")).to_have_count(1)
    expect(box).to_have_value("Half a reply to the first\nwith a second line")
    shot(page, "90-draft-kept")
    assert len(draft_keys(page)) == 2
    assert all(k.startswith(f"chat.draft.{user}.") for k in draft_keys(page))

    # Sending clears that conversation's draft; the new chat's stays.
    box.press("Enter")
    wait_idle(page)
    expect(box).to_have_value("")
    page.reload()
    expect(page.locator("article.msg-user")).to_have_count(2)
    expect(box).to_have_value("")
    assert draft_keys(page) == [f"chat.draft.{user}.new"]

    # A new chat's draft moves with it when it is sent: nothing is left behind.
    page.locator("#new-chat").click()
    expect(box).to_have_value("A new chat, half written")
    box.press("Enter")
    wait_idle(page)
    second = conversation_id(page)
    assert second != first
    assert draft_keys(page) == []
    page.locator("#new-chat").click()
    expect(box).to_have_value("")

    # Logging out forgets every draft of this user (typed, not yet sent).
    box.fill("Something private")
    open_conversation(page, first)
    box.fill("More private text")
    assert len(draft_keys(page)) == 2
    page.locator(".logout-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert draft_keys(page) == []


def test_a_failed_send_keeps_the_draft(server: Server, open_page: Any) -> None:
    """The server refuses the turn before any stream (turn_in_progress): the text is back as the draft."""
    user = server.new_user("refused")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    page.route(
        "**/chat",
        lambda route: (
            route.fulfill(
                status=503,
                content_type="application/json",
                body='{"error": {"code": "storage_busy", "message": "busy"}}',
                headers={"Retry-After": "1"},
            )
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    send(page, "Keep me if it fails")
    banner = page.locator("#notices .banner")
    expect(banner).to_contain_text("busy saving other changes")
    expect(banner.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.locator("#composer-input")).to_have_value("Keep me if it fails")
    page.reload()
    expect(page.locator("body.ready")).to_have_count(1)
    expect(page.locator("#composer-input")).to_have_value("Keep me if it fails")


# ---------------------------------------------------------------- the length limit


@pytest.fixture
def short_limit(server: Server, tmp_path: Path, serve_app: Any) -> tuple[str, str]:
    """An app whose messages may be at most 40 characters, on the shared fake upstream."""
    app = build_app(tmp_path, server.upstream, CHAT_MAX_MESSAGE_CHARS=40)
    app.extensions["accounts"].create_user("shortlimit", PASSWORD)
    return serve_app(app), "shortlimit"


def test_too_long_message_says_the_limit_and_is_not_sent(
    server: Server, short_limit: tuple[str, str], open_page: Any
) -> None:
    url, user = short_limit
    page, _ = open_page(user, base_url=url)
    goto(page, url + "/")
    expect(page.locator("body")).to_have_attribute("data-max-message-chars", "40")
    box = page.locator("#composer-input")
    box.fill("x" * 45)
    note = page.locator("#composer-limit")
    expect(note).to_be_visible()
    expect(note).to_have_text(
        "The message is too long (45 characters): the limit is 40 characters. "
        "Shorten it by 5 characters, or save it as a .txt file and attach it."
    )
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_attribute("aria-describedby", re.compile(r"\bcomposer-limit\b"))
    before = len(server.upstream.responses_requests())
    box.press("Enter")
    page.locator("#send").click()
    expect(page.locator("article.msg-user")).to_have_count(0)
    expect(box).to_be_focused()
    shot(page, "91-too-long")

    # Emoji count as one character each, as the server counts them.
    box.fill("🙂" * 40)
    expect(note).to_be_hidden()
    expect(box).not_to_have_attribute("aria-invalid", "true")
    box.fill("short enough")
    box.press("Enter")
    wait_idle(page)
    assert len(server.upstream.responses_requests()) == before + 1

    # An edit that is too long is refused by the server (413): the banner says the limit too.
    page.locator("article.msg-user").last.get_by_role("button", name="Edit").click()
    edit = page.locator("textarea.edit-input")
    edit.fill("y" * 60)
    page.locator(".edit-actions").get_by_role("button", name="Send").click()
    banner = page.locator("#notices .banner")
    expect(banner).to_contain_text("the limit is 40 characters")
    expect(banner.get_by_role("button", name="Retry")).to_have_count(0)

    page.set_viewport_size(PHONE)
    box.fill("z" * 41)
    expect(note).to_contain_text("Shorten it by 1 character,")
    shot(page, "91-too-long-phone")


# ---------------------------------------------------------------- first run


def test_no_provider_the_composer_says_what_to_set_and_nothing_offers_to_send(
    server: Server, open_page: Any, serve_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conversation written while a provider was configured, opened once none is."""
    for name in ("OPENAI_API_KEY", "CHAT_PROVIDERS_FILE"):
        monkeypatch.delenv(name, raising=False)
    user = server.new_user("orphan")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    # A failed reply that Retry could help, then a stopped one that Continue could.
    server.upstream.script(["500"])
    send(page, "Hello?")
    expect(last_reply(page).get_by_role("button", name="Retry")).to_be_visible()
    wait_idle(page)
    server.upstream.reply = "word " * 300
    server.upstream.chunk_size = 5
    server.upstream.delta_delay = 0.03
    send(page, "Write a long text")
    expect(last_reply(page).locator(".msg-body")).to_contain_text("word word")
    page.locator("#stop").click()
    wait_idle(page)
    expect(last_reply(page).get_by_role("button", name="Continue")).to_be_visible()
    cid = conversation_id(page)

    bare = build_app(server.data_dir, None)
    url = serve_app(bare)
    page2, _ = open_page(user, base_url=url)
    goto(page2, f"{url}/#{cid}")
    expect(page2.locator("article.msg-assistant")).to_have_count(2)
    box = page2.locator("#composer-input")
    expect(box).to_be_disabled()
    expect(box).to_have_attribute(
        "placeholder", re.compile(r"set a provider's key.*OPENAI_API_KEY")
    )
    expect(page2.locator("#send")).to_be_disabled()
    expect(page2.locator("#provider-missing")).to_contain_text("CHAT_PROVIDERS_FILE")
    main = page2.locator("main")
    for name in ("Retry", "Regenerate", "Regenerate with…", "Continue", "Edit"):
        expect(main.get_by_role("button", name=name, exact=True)).to_have_count(0)
    # Copy still works on what is there.
    expect(
        page2.locator("article.msg-assistant").last.get_by_role("button", name="Copy")
    ).to_be_visible()
    shot(page2, "92-no-provider-conversation")

    # The page's retry rule: no Retry for no_provider (503) nor budget_exceeded (429).
    rules = page2.evaluate(
        """async () => {
          const w = await import('/static/js/words.js');
          return [w.canRetry('no_provider', 503), w.canRetry('budget_exceeded', 429),
                  w.canRetry('storage_busy', 503), w.canRetry('http_502', 502), w.canRetry('http_400', 400)];
        }"""
    )
    assert rules == [False, False, True, True, False]


# ---------------------------------------------------------------- error words


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_upstream_errors_are_worded_by_their_cause_with_what_to_do(
    server: Server, open_page: Any, tmp_path: Path, serve_app: Any
) -> None:
    user = server.new_user("causes")
    page, _ = open_page(user)
    goto(page, server.url + "/")

    # An upstream 500 is the provider's own error, not "could not be reached".
    server.upstream.script(["500"])
    send(page, "Hello?")
    status = last_reply(page).locator(".msg-status")
    expect(status).to_contain_text("had an error on its side")
    expect(status).to_contain_text("Try again in a moment, or pick another model.")
    expect(status).not_to_contain_text("could not be reached")
    expect(status.get_by_role("button", name="Retry")).to_be_visible()
    wait_idle(page)
    shot(page, "93-error-server")

    # 503: overloaded.
    server.upstream.script(["503"])
    status.get_by_role("button", name="Retry").click()
    expect(last_reply(page).locator(".msg-status")).to_contain_text("overloaded right now")
    wait_idle(page)

    # An upstream nobody listens on: the server could not connect, and an administrator can check it.
    app = build_app(tmp_path, None, OPENAI_API_KEY="sk-test-dead-0000000000000000",
                    OPENAI_BASE_URL=f"http://127.0.0.1:{dead_port()}/v1")  # fmt: skip
    app.extensions["accounts"].create_user("deadend", PASSWORD)
    url = serve_app(app)
    page2, _ = open_page("deadend", base_url=url, color_scheme="dark")
    goto(page2, url + "/")
    send(page2, "Anyone there?")
    status2 = last_reply(page2).locator(".msg-status")
    expect(status2).to_contain_text("could not connect to the model provider")
    expect(status2).to_contain_text("an administrator needs to check")
    wait_idle(page2)
    shot(page2, "93-error-unreachable-dark")

    # Every word the page has for a cause, an incomplete reason or an unknown failure says what to do.
    words = page.evaluate(
        """async () => {
          const w = await import('/static/js/words.js');
          return [...Object.values(w.CAUSE_WORDS), ...Object.values(w.INCOMPLETE_WORDS),
                  w.errorWords('http_502', 'HTTP 502'), w.errorWords('bad_response', 'x'),
                  w.errorWords(undefined, null), w.errorWords('upstream_unavailable', null, 'timeout')];
        }"""
    )
    for text in words:
        assert re.search(r"\. [A-Z].*\.$", text), text
        assert re.search(
            r"(?i)try again|pick another|continue it|rephrase|start a new chat|reload|ask for|administrator|regenerate",
            text,
        ), text
    assert "took too long" in words[-1]


def test_incomplete_reply_says_why_and_what_to_do(server: Server, open_page: Any) -> None:
    user = server.new_user("cutoff")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    page.locator("#model-input").fill("fake-incomplete")
    send(page, "Write a lot")
    wait_idle(page)
    status = last_reply(page).locator(".msg-status")
    expect(status).to_have_text(
        "The answer stopped early: it reached its length limit. Continue it, or ask for a shorter answer."
    )


# ---------------------------------------------------------------- Continue


def stopped_reply(server: Server, page: Any, prompt: str = "Write a long text") -> str:
    """Send `prompt`, stop the long answer part-way; the partial text on screen."""
    server.upstream.reply = "word " * 400
    server.upstream.chunk_size = 5
    server.upstream.delta_delay = 0.03
    send(page, prompt)
    expect(last_reply(page).locator(".msg-body")).to_contain_text("word word word")
    page.locator("#stop").click()
    expect(last_reply(page).locator(".msg-status")).to_have_text("Stopped.")
    wait_idle(page)
    return str(last_reply(page).locator(".msg-body").inner_text()).strip()


def stored(page: Any, cid: str) -> dict[str, Any]:
    return page.evaluate(
        "async (id) => (await fetch('/chat?conversation_id=' + encodeURIComponent(id))).json()",
        cid,
    )


def test_continue_a_stopped_reply_streams_into_the_same_bubble(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("continuer")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    partial = stopped_reply(server, page)
    cid = conversation_id(page)
    reply = last_reply(page)
    mid = reply.get_attribute("data-id")
    before = stored(page, cid)["messages"][-1]
    cont = reply.get_by_role("button", name="Continue", exact=True)
    expect(cont).to_be_visible()
    # Beside the reply's other actions, before Copy and Regenerate.
    labels = reply.locator(".msg-actions button").all_inner_texts()
    assert labels[:3] == ["Continue", "Copy", "Regenerate"], labels
    shot(page, "94-continue-stopped")

    # The rest streams into the same article, after the text already there.
    server.upstream.reply = " more" * 60
    server.upstream.delta_delay = 0.05
    requests = len(server.upstream.responses_requests())
    cont.click()
    expect(page.locator("#stop")).to_be_visible()
    expect(reply).to_have_class(re.compile(r"\bpending\b"))
    expect(reply.locator(".msg-body")).to_contain_text("more more")
    assert str(reply.locator(".msg-body").inner_text()).startswith(partial[:40])
    expect(page.locator("article.msg-assistant")).to_have_count(1)
    expect(page.locator("article.msg-user")).to_have_count(1)
    shot(page, "94-continue-streaming")
    wait_idle(page)

    reply = last_reply(page)
    assert reply.get_attribute("data-id") == mid
    expect(reply.locator(".msg-status")).to_be_hidden()
    expect(reply.get_by_role("button", name="Continue", exact=True)).to_have_count(0)
    text = str(reply.locator(".msg-body").inner_text()).strip()
    assert text.startswith(partial[:40]) and text.endswith("more more more")
    shot(page, "94-continue-done")

    # One more upstream call, replaying the reply's text and asking to go on.
    calls = server.upstream.responses_requests()
    assert len(calls) == requests + 1
    sent = json.dumps(calls[-1].body["input"])
    assert partial[:40] in sent
    assert "Continue it exactly where it stopped" in sent
    after = stored(page, cid)["messages"][-1]
    assert after["id"] == mid and after["status"] == "completed"
    assert after["metadata"]["continuations"] == 1
    # Stopped before the upstream said its usage: the earlier part's tokens are unknown, so the
    # sum is unknown too (null, never the continuation's share alone passed off as the whole).
    assert before.get("usage") is None
    assert after["usage"] is None and after["cost_usd"] is None

    # A reload shows the one reply, whole.
    page.reload()
    expect(last_reply(page).locator(".msg-body")).to_contain_text("more more more")
    expect(page.locator("article.msg-assistant")).to_have_count(1)


def test_continue_a_cut_off_reply_on_a_phone_in_dark(server: Server, open_page: Any) -> None:
    user = server.new_user("cutphone")
    page, _ = open_page(user, viewport=PHONE, color_scheme="dark")
    goto(page, server.url + "/")
    page.locator("#model-input").fill("fake-incomplete")
    send(page, "Write a lot")
    wait_idle(page)
    reply = last_reply(page)
    expect(reply.locator(".msg-status")).to_contain_text("reached its length limit")
    first = str(reply.locator(".msg-body").inner_text()).strip()
    cont = reply.get_by_role("button", name="Continue", exact=True)
    expect(cont).to_be_visible()
    shot(page, "94-continue-phone-dark")
    server.upstream.script([behaviour("incomplete", text=" And a little more.")])
    cont.click()
    wait_idle(page)
    reply = last_reply(page)
    expect(reply.locator(".msg-body")).to_contain_text("And a")  # cut off again part-way
    longer = str(reply.locator(".msg-body").inner_text()).strip()
    assert longer.startswith(first) and len(longer) > len(first)
    # Cut off once more: still offered.
    expect(reply.get_by_role("button", name="Continue", exact=True)).to_be_visible()
    # A reply cut by the content filter is not continued: the words say to rephrase.
    page.locator("#model-input").fill("fake-content_filter")
    send(page, "Something filtered")
    wait_idle(page)
    reply = last_reply(page)
    expect(reply.locator(".msg-status")).to_contain_text("Rephrase")
    expect(reply.get_by_role("button", name="Continue", exact=True)).to_have_count(0)


def test_a_failed_continuation_keeps_the_text_and_offers_retry(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("contfail")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    partial = stopped_reply(server, page)
    reply = last_reply(page)
    server.upstream.script(["500"])
    reply.get_by_role("button", name="Continue", exact=True).click()
    banner = page.locator("#notices .banner")
    expect(banner).to_contain_text("The reply could not be continued.")
    expect(banner).to_contain_text("had an error on its side")
    wait_idle(page)
    reply = last_reply(page)
    expect(reply.locator(".msg-status")).to_have_text("Stopped.")
    assert str(reply.locator(".msg-body").inner_text()).strip() == partial
    cont = reply.get_by_role("button", name="Continue", exact=True)
    expect(cont).to_be_visible()
    expect(cont).to_have_attribute("title", re.compile("The last try failed"))
    shot(page, "94-continue-failed")

    # The banner's Retry continues it again, and this time it works.
    server.upstream.reply = " and the rest."
    server.upstream.delta_delay = 0.0
    banner.get_by_role("button", name="Retry").click()
    wait_idle(page)
    expect(last_reply(page).locator(".msg-body")).to_contain_text("and the rest.")
    expect(last_reply(page).locator(".msg-status")).to_be_hidden()


def test_a_continuation_refused_up_front_leaves_the_reply_as_it_was(
    server: Server, open_page: Any
) -> None:
    """Another turn runs (409), say: the reply keeps its text, status and Continue; no Retry."""
    user = server.new_user("contbusy")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    partial = stopped_reply(server, page)
    page.route(
        "**/chat",
        lambda route: (
            route.fulfill(
                status=409,
                content_type="application/json",
                body='{"error": {"code": "turn_in_progress", "message": "busy"}}',
            )
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    last_reply(page).get_by_role("button", name="Continue", exact=True).click()
    banner = page.locator("#notices .banner")
    expect(banner).to_contain_text("still being written")
    expect(banner.get_by_role("button", name="Retry")).to_have_count(0)
    wait_idle(page)
    reply = last_reply(page)
    expect(reply.locator(".msg-status")).to_have_text("Stopped.")
    assert str(reply.locator(".msg-body").inner_text()).strip() == partial
    expect(reply.get_by_role("button", name="Continue", exact=True)).to_be_visible()


def test_reload_during_a_continuation_reattaches_after_the_earlier_text(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("contreload")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    partial = stopped_reply(server, page)
    server.upstream.reply = " more" * 80
    server.upstream.delta_delay = 0.08
    last_reply(page).get_by_role("button", name="Continue", exact=True).click()
    expect(last_reply(page).locator(".msg-body")).to_contain_text("more more")
    page.reload()
    reply = last_reply(page)
    # Re-attached: the continuation's frames follow the text the reply already had.
    expect(page.locator("#stop")).to_be_visible()
    expect(reply.locator(".msg-body")).to_contain_text("more more")
    assert str(reply.locator(".msg-body").inner_text()).startswith(partial[:40])
    wait_idle(page)
    text = str(last_reply(page).locator(".msg-body").inner_text()).strip()
    assert text.startswith(partial[:40])
    assert text.count("more") == 80
    expect(page.locator("article.msg-assistant")).to_have_count(1)


def test_a_stored_cause_words_the_reply_after_a_reload(server: Server, open_page: Any) -> None:
    """The page reads a failed reply's cause from the stored message too (`error.cause`, or
    `metadata.error_cause`), so a reload does not fall back to "could not be reached"."""
    user = server.new_user("storedcause")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    server.upstream.script(["500"])
    send(page, "Hello?")
    wait_idle(page)

    def with_cause(route: Any) -> None:
        res = route.fetch()
        body = res.json()
        for m in body.get("messages", []):
            if m.get("status") == "failed":
                m.setdefault("metadata", {})
                m["metadata"] = {**(m["metadata"] or {}), "error_cause": "timeout"}
        route.fulfill(response=res, json=body)

    page.route("**/chat?conversation_id=*", with_cause)
    page.reload()
    status = last_reply(page).locator(".msg-status")
    expect(status).to_contain_text("took too long to answer")
    expect(status.get_by_role("button", name="Retry")).to_be_visible()


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (503, "no_provider", "No model provider is configured"),
        (429, "budget_exceeded", "Your usage budget is used up"),
    ],
)
def test_a_refusal_that_waiting_cannot_fix_offers_no_retry(
    server: Server, open_page: Any, status: int, code: str, words: str
) -> None:
    """The provider went away after the page loaded, or the budget is spent: plain words, no Retry."""
    user = server.new_user("noretry")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    body = json.dumps({"error": {"code": code, "message": "x"}})
    page.route(
        "**/chat",
        lambda route: (
            route.fulfill(status=status, content_type="application/json", body=body)
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    send(page, "Hello?")
    banner = page.locator("#notices .banner")
    expect(banner).to_contain_text(words)
    expect(banner.get_by_role("button", name="Retry")).to_have_count(0)
    expect(page.locator("#composer-input")).to_have_value("Hello?")
