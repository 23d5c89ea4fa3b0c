"""The page's review fixes in real Chromium (issue 14 review): a send waiting for uploads keeps to its own
conversation, logging out in one tab empties the others, the output cap is the server's, the options popover
fits a phone, shortcuts follow the layout's keys, Ctrl+Z in the message box undoes a delete, unsent options
survive switching, a failed reply no retry helps offers no Regenerate, and model links to `#…` are inert."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import goto

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

PHONE = {"width": 390, "height": 844}

_buf = io.BytesIO()
Image.new("RGB", (8, 8), (200, 30, 30)).save(_buf, "PNG")
PNG = _buf.getvalue()


def send(page: Any, text: str) -> None:
    box = page.locator("#composer-input")
    box.fill(text)
    box.press("Enter")


def wait_idle(page: Any) -> None:
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)


def cid(page: Any) -> str:
    expect(page).to_have_url(re.compile(r"#c_"))
    return str(page.evaluate("decodeURIComponent(location.hash.slice(1))"))


def open_hash(page: Any, conversation_id: str) -> None:
    page.evaluate("(id) => { location.hash = encodeURIComponent(id); }", conversation_id)


def two_conversations(page: Any) -> tuple[str, str]:
    send(page, "conversation A")
    wait_idle(page)
    a = cid(page)
    page.locator("#new-chat").click()
    send(page, "conversation B")
    wait_idle(page)
    b = cid(page)
    return a, b


def test_send_waiting_for_an_upload_stays_in_its_conversation(server: Any, open_page: Any) -> None:
    page, _guard = open_page(server.new_user("uploader"))
    goto(page, server.url + "/")
    a, b = two_conversations(page)
    open_hash(page, a)
    expect(page.locator("article.msg-user")).to_have_count(1)
    page.locator("#composer-input").fill("draft for A, not to be sent yet")
    open_hash(page, b)
    expect(page.locator("#composer-input")).to_have_value("")
    held: list[Any] = []
    page.route(
        "**/attachments", lambda r: held.append(r) if r.request.method == "POST" else r.continue_()
    )
    page.locator("#attach-input").set_input_files(
        files=[{"name": "p.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.locator("#composer-input").fill("message for B with image")
    page.locator("#composer-input").press("Enter")
    expect(page.locator("#composer-note")).to_contain_text("Waiting for the files")
    chats: list[str] = []
    page.on(
        "request",
        lambda r: (
            chats.append(r.post_data or "")
            if r.method == "POST" and r.url.endswith("/chat")
            else None
        ),
    )
    open_hash(page, a)
    expect(page.locator("#composer-input")).to_have_value("draft for A, not to be sent yet")
    # A's composer shows A's files (none), not B's.
    expect(page.locator("#attach-tray .attach-chip")).to_have_count(0)
    for _ in range(100):  # the upload was sent at once; its route may be reported a moment later
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("#composer-note")).to_contain_text("Not sent")
    page.wait_for_timeout(1000)  # a wrong send would have started by now
    assert chats == [], chats
    expect(page.locator("#composer-input")).to_have_value("draft for A, not to be sent yet")
    # Back in B, its text and its (now uploaded) image wait to be sent.
    open_hash(page, b)
    expect(page.locator("#composer-input")).to_have_value("message for B with image")
    expect(page.locator("#attach-tray .attach-chip.attach-done")).to_have_count(1)
    page.locator("#composer-input").press("Enter")
    wait_idle(page)
    expect(page.locator("article.msg-user").last).to_contain_text("message for B with image")
    assert len(chats) == 1 and json.loads(chats[0])["conversation_id"] == b
    assert len(json.loads(chats[0])["attachments"]) == 1


def test_logout_in_one_tab_empties_the_others(server: Any, open_page: Any) -> None:
    user = server.new_user("shared")
    page, guard = open_page(user)
    goto(page, server.url + "/")
    send(page, "conv one")
    wait_idle(page)
    c = cid(page)
    page2 = page.context.new_page()
    guard.pages.append(page2)
    goto(page2, server.url + f"/#{c}")
    expect(page2.locator("article.msg-user")).to_have_count(1)
    page2.locator("#composer-input").fill("secret typed in tab 2")
    page.bring_to_front()
    page.locator(".logout-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page2).to_have_url(re.compile(r"/login$"), timeout=5000)
    drafts = page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('chat.draft.'))")
    assert drafts == []


def test_max_output_tokens_is_capped_by_the_server(server: Any, open_page: Any) -> None:
    page, _guard = open_page(server.new_user("options"))
    goto(page, server.url + "/")
    prov = page.request.get(server.url + "/providers").json()
    model = next(m for p in prov["providers"] for m in p["models"] if m["id"] == "gpt-5.4-mini")
    # The model's own cap is unknown or larger: the server's (CHAT_MAX_OUTPUT_TOKENS, 16000) is the one that holds.
    assert model.get("max_output_tokens") is None or model["max_output_tokens"] > 16000
    assert page.evaluate("document.body.dataset.maxOutputTokens") == "16000"
    page.locator("#options-open").click()
    inp = page.locator("#opt-max_output_tokens")
    expect(inp).to_have_attribute("max", "16000")
    expect(page.locator("#opt-max_output_tokens-hint")).to_have_text("1 to 16000")
    inp.fill("16001")
    inp.press("Tab")
    expect(
        page.locator("#opt-max_output_tokens").locator("xpath=..").locator(".option-error")
    ).to_contain_text("1 to 16000")
    expect(page.locator("#options-count")).to_be_hidden()


@pytest.mark.parametrize("crowded", ["tray", "long_draft"])
def test_options_popover_fits_a_phone(server: Any, open_page: Any, crowded: str) -> None:
    page, _guard = open_page(server.new_user("phone"), viewport=PHONE, color_scheme="dark")
    goto(page, server.url + "/")
    if crowded == "tray":  # a conversation and four chips, one refused: the composer is tall
        send(page, "hello")
        wait_idle(page)
        files = [
            {
                "name": f"a-very-long-file-name-for-a-phone-{i}.png",
                "mimeType": "image/png",
                "buffer": PNG,
            }
            for i in range(3)
        ]
        page.locator("#attach-input").set_input_files(
            files=[*files, {"name": "bad.png", "mimeType": "image/png", "buffer": b"not a png"}]
        )
        expect(page.locator(".attach-chip.attach-done")).to_have_count(3)
        expect(page.locator(".attach-chip.attach-error")).to_have_count(1)
    else:
        page.locator("#composer-input").fill(
            "\n".join(f"line {i} of a long message" for i in range(30))
        )
        page.locator("#attach-input").set_input_files(
            files=[{"name": "one.png", "mimeType": "image/png", "buffer": PNG}]
        )
        expect(page.locator(".attach-chip.attach-done")).to_have_count(1)
    page.locator("#options-open").click()
    expect(page.locator("#options-popover")).to_be_visible()
    box = page.evaluate(
        """() => { const p = document.getElementById('options-popover').getBoundingClientRect();
          const c = document.getElementById('options-close').getBoundingClientRect();
          return {top: p.top, bottom: p.bottom, left: p.left, right: p.right, closeTop: c.top}; }"""
    )
    assert box["top"] >= 0 and box["closeTop"] >= 0, box
    assert box["left"] >= 0 and box["right"] <= PHONE["width"], box


KEYS = """(init) => {
  const box = document.getElementById('composer-input');
  box.focus();
  const ev = new KeyboardEvent('keydown', {...init, bubbles: true, cancelable: true});
  box.dispatchEvent(ev);
  const out = {prevented: ev.defaultPrevented, dialog: document.getElementById('shortcuts-dialog')?.open || false};
  document.getElementById('shortcuts-dialog')?.close?.();
  return out;
}"""


def test_shortcuts_follow_the_keyboard_layout(server: Any, open_page: Any) -> None:
    page, _guard = open_page(server.new_user("german"))
    goto(page, server.url + "/")
    # German Ctrl+- sits where the US "/" is; German ö and AZERTY M where the US ";" is: they stay themselves.
    assert page.evaluate(KEYS, {"key": "-", "code": "Slash", "ctrlKey": True}) == {
        "prevented": False,
        "dialog": False,
    }
    assert (
        page.evaluate(KEYS, {"key": "ö", "code": "Semicolon", "ctrlKey": True, "shiftKey": True})[
            "prevented"
        ]
        is False
    )
    assert (
        page.evaluate(KEYS, {"key": "M", "code": "Semicolon", "ctrlKey": True, "shiftKey": True})[
            "prevented"
        ]
        is False
    )
    # The keys themselves still work, and a layout without Latin letters falls back to the physical key.
    assert page.evaluate(KEYS, {"key": "/", "code": "Slash", "ctrlKey": True})["dialog"] is True
    assert page.evaluate(KEYS, {"key": ".", "code": "Slash", "ctrlKey": True})["dialog"] is False
    assert (
        page.evaluate(KEYS, {"key": "ж", "code": "Semicolon", "ctrlKey": True, "shiftKey": True})[
            "prevented"
        ]
        is True
    )


def test_ctrl_z_in_the_message_box_undoes_a_delete(server: Any, open_page: Any) -> None:
    user = server.new_user("undoer")
    page, _guard = open_page(user)
    goto(page, server.url + "/")
    send(page, "keep me")
    wait_idle(page)
    c = cid(page)
    box = page.locator("#composer-input")
    box.focus()
    box.fill("typed")
    page.keyboard.press("Control+Shift+Backspace")
    expect(page.locator(".toast")).to_have_count(1)
    # The typed text stays on screen as the new chat's draft, not the deleted conversation's.
    expect(box).to_have_value("typed")
    keys = page.evaluate(
        "(u) => Object.fromEntries(Object.keys(localStorage).filter((k) => k.startsWith('chat.draft.' + u + '.')).map((k) => [k.split('.').pop(), JSON.parse(localStorage.getItem(k)).text]))",
        user,
    )
    assert keys == {"new": "typed"}, keys
    box.focus()
    page.keyboard.press("Control+z")
    expect(page.locator(".toast")).to_have_count(0)
    expect(page).to_have_url(re.compile(re.escape(c)))
    expect(page.locator("article.msg-user")).to_have_count(1)
    expect(box).to_have_value("typed")
    page.wait_for_timeout(5500)  # past the undo time: nothing is deleted
    assert page.request.get(server.url + f"/chat?conversation_id={c}").status == 200


def test_ctrl_z_after_typing_stays_the_boxs_own(server: Any, open_page: Any) -> None:
    page, _guard = open_page(server.new_user("typer"))
    goto(page, server.url + "/")
    send(page, "to delete")
    wait_idle(page)
    box = page.locator("#composer-input")
    box.focus()
    page.keyboard.press("Control+Shift+Backspace")
    expect(page.locator(".toast")).to_have_count(1)
    box.focus()
    page.keyboard.type("new words")
    page.keyboard.press("Control+z")
    expect(page.locator(".toast")).to_have_count(
        1
    )  # the box undid its typing; the delete still waits


def test_unsent_options_survive_switching(server: Any, open_page: Any) -> None:
    page, _guard = open_page(server.new_user("optswitch"))
    goto(page, server.url + "/")
    a, b = two_conversations(page)
    open_hash(page, a)
    expect(page.locator("article.msg-user")).to_have_count(1)
    page.locator("#options-open").click()
    page.locator("#opt-temperature").fill("0.3")
    page.locator("#opt-temperature").press("Tab")
    page.keyboard.press("Escape")
    expect(page.locator("#options-count")).to_have_text("1")
    open_hash(page, b)
    expect(page.locator("article.msg-user")).to_contain_text("conversation B")
    expect(page.locator("#options-count")).to_be_hidden()
    open_hash(page, a)
    expect(page.locator("article.msg-user")).to_contain_text("conversation A")
    expect(page.locator("#options-count")).to_have_text("1")
    chats: list[str] = []
    page.on(
        "request",
        lambda r: (
            chats.append(r.post_data or "")
            if r.method == "POST" and r.url.endswith("/chat")
            else None
        ),
    )
    send(page, "with the option")
    wait_idle(page)
    assert json.loads(chats[-1])["options"] == {"temperature": 0.3}
    assert json.loads(chats[-1])["conversation_id"] == a


@pytest.mark.parametrize("kind", ["quota", "401"])
def test_failed_reply_no_retry_helps_offers_no_regenerate(
    server: Any, open_page: Any, kind: str
) -> None:
    page, _guard = open_page(server.new_user("err" + kind))
    goto(page, server.url + "/")
    send(page, "first")
    wait_idle(page)
    done = page.locator("article.msg-assistant").last
    expect(done.get_by_role("button", name="Regenerate", exact=True)).to_have_count(1)
    server.upstream.script([kind])
    send(page, "hello")
    failed = page.locator("article.msg-assistant").last
    expect(failed).to_contain_text("administrator")
    wait_idle(page)
    expect(failed.get_by_role("button", name="Regenerate", exact=True)).to_have_count(0)
    expect(failed.get_by_role("button", name="Retry")).to_have_count(0)
    expect(failed.locator("button.regen-with")).to_have_count(1)


RENDER = """(text) => {
  const d = document.createElement('div'); d.className = 'msg-body md';
  document.getElementById('messages').append(d);
  window.chatRender.renderMarkdown(d, text);
  return [...d.querySelectorAll('a')].map((a) => ({text: a.textContent, href: a.getAttribute('href'), target: a.getAttribute('target'), cls: a.className}));
}"""


def test_fragment_links_in_model_output_are_inert(server: Any, open_page: Any) -> None:
    page, _guard = open_page(server.new_user("frag"))
    goto(page, server.url + "/")
    links = page.evaluate(
        RENDER, "[go](#fn1-note-1) and [send](#send) and [web](https://example.com/x)"
    )
    assert [(x["text"], x["href"], x["target"]) for x in links] == [
        ("go", None, None),
        ("send", None, None),
        ("web", "https://example.com/x", "_blank"),
    ]
    # Footnotes still link to their own notes, in the page.
    notes = page.evaluate(RENDER, "a claim[^1]\n\n[^1]: the note")
    ref = next(x for x in notes if "fn-ref" in x["cls"])
    back = next(x for x in notes if "fn-back" in x["cls"])
    assert re.fullmatch(r"#fn\d+-note-1", ref["href"] or ""), notes
    assert re.fullmatch(r"#fn\d+-ref-1", back["href"] or ""), notes
    assert ref["target"] is None and back["target"] is None
