"""Attachments on the page, in real Chromium against the real app and the fake upstream: an image
attached by paste and by drag and drop shows a thumbnail, is sent, shows in the conversation and
reaches the upstream; a refused file says why; a long paste becomes a text attachment chip.

Paste and drop are real DOM events carrying a DataTransfer with a File (built in the page), which
is what the browser hands the page for a real paste or drop.
"""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, goto, shot

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

# A File built in the page from base64 bytes, then handed over in a paste or a drop.
MAKE_FILE = """
([b64, name, type]) => {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new File([bytes], name, { type });
}
"""

PASTE_FILE = f"""
([b64, name, type]) => {{
  const file = ({MAKE_FILE})([b64, name, type]);
  const dt = new DataTransfer();
  dt.items.add(file);
  const ev = new ClipboardEvent("paste", {{ clipboardData: dt, bubbles: true, cancelable: true }});
  document.querySelector("#composer-input").dispatchEvent(ev);
  return ev.defaultPrevented;
}}
"""

PASTE_TEXT = """
(text) => {
  const dt = new DataTransfer();
  dt.setData("text/plain", text);
  const ev = new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true });
  document.querySelector("#composer-input").dispatchEvent(ev);
  return ev.defaultPrevented;
}
"""

# dragenter + dragover first (the drop state shows), the drop itself separately.
DRAG_OVER = f"""
([b64, name, type]) => {{
  const file = ({MAKE_FILE})([b64, name, type]);
  const dt = new DataTransfer();
  dt.items.add(file);
  window.__dt = dt;
  const target = document.querySelector("#composer-input");
  for (const kind of ["dragenter", "dragover"]) {{
    target.dispatchEvent(new DragEvent(kind, {{ dataTransfer: dt, bubbles: true, cancelable: true }}));
  }}
}}
"""

DROP = """
() => {
  const ev = new DragEvent("drop", { dataTransfer: window.__dt, bubbles: true, cancelable: true });
  document.querySelector("#composer-input").dispatchEvent(ev);
  return ev.defaultPrevented;
}
"""


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (40, 120, 220)) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), color)
    ImageDraw.Draw(img).ellipse((8, 8, width - 8, height - 8), fill=(250, 200, 40))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def wait_idle(page: Any) -> None:
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)


def last_body(server: Server) -> dict[str, Any]:
    rec = server.upstream.responses_requests()[-1]
    body: dict[str, Any] = rec.body if isinstance(rec.body, dict) else json.loads(rec.body)
    return body


def sent_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The content parts of the last user turn of a Responses request body."""
    items = body["input"] if isinstance(body["input"], list) else []
    users = [i for i in items if isinstance(i, dict) and i.get("role") == "user"]
    content = users[-1]["content"] if users else []
    return content if isinstance(content, list) else [{"type": "input_text", "text": content}]


def test_paste_an_image_see_the_thumbnail_send_and_see_it_in_the_conversation(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("paster")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    server.upstream.reply = "A yellow circle on blue."

    assert page.evaluate(PASTE_FILE, [b64(png()), "circle.png", "image/png"])
    chip = page.locator("#attach-tray .attach-chip")
    expect(chip).to_have_count(1)
    expect(chip.locator("img.attach-thumb")).to_have_attribute("alt", "circle.png")
    expect(chip).to_have_class(re.compile("attach-done"))
    expect(chip).to_have_attribute("data-id", re.compile(r"^att_[0-9a-f]{24}$"))
    att_id = chip.get_attribute("data-id")
    page.locator("#composer-input").fill("What is in this picture?")
    shot(page, "60-attach-pasted-image")

    page.locator("#composer-input").press("Enter")
    wait_idle(page)
    expect(page.locator("#attach-tray")).to_be_hidden()
    user_msg = page.locator("article.msg-user").last
    thumb = user_msg.locator(".msg-attachments img.att-thumb")
    expect(thumb).to_have_attribute("src", f"/attachments/{att_id}")
    expect(thumb).to_have_attribute("alt", "circle.png")
    expect(thumb).to_have_attribute("loading", "lazy")
    expect(user_msg.locator(".msg-attachments a.att-image")).to_have_attribute("target", "_blank")
    page.wait_for_function(
        "() => { const i = document.querySelector('article.msg-user .att-thumb'); return i && i.complete && i.naturalWidth > 0; }"
    )
    expect(page.locator("article.msg-assistant").last.locator(".msg-body")).to_have_text(
        "A yellow circle on blue."
    )
    shot(page, "61-attach-image-in-conversation")

    # The upstream got the image, as an input_image data URL beside the text.
    parts = sent_parts(last_body(server))
    kinds = [p.get("type") for p in parts]
    assert "input_image" in kinds and "input_text" in kinds, parts
    image = next(p for p in parts if p.get("type") == "input_image")
    assert image["image_url"].startswith("data:image/png;base64,")

    # After a reload the thumbnail is still there, loaded from the server.
    page.reload()
    expect(page.locator("article.msg-user .msg-attachments img.att-thumb")).to_have_count(1)

    # The dark theme, with a text file waiting in the tray.
    page.emulate_media(color_scheme="dark")
    page.evaluate(PASTE_FILE, [b64(b"print('hi')\n"), "hello.py", "text/x-python"])
    expect(page.locator("#attach-tray .attach-chip.attach-done")).to_have_count(1)
    shot(page, "68-attach-dark")


def test_drop_an_image_shows_the_drop_state_and_sends_it_without_text(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("dropper")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    server.upstream.reply = "Got the picture."

    page.evaluate(DRAG_OVER, [b64(png(80, 80, (200, 60, 60))), "red.png", "image/png"])
    expect(page.locator("#composer")).to_have_class(re.compile("drop-target"))
    expect(page.locator(".drop-hint")).to_be_visible()
    shot(page, "62-attach-drop-state")
    assert page.evaluate(DROP)
    expect(page.locator("#composer")).not_to_have_class(re.compile("drop-target"))
    chip = page.locator("#attach-tray .attach-chip")
    expect(chip).to_have_class(re.compile("attach-done"))

    # Only an attachment, no text: Send is allowed.
    page.locator("#send").click()
    wait_idle(page)
    user_msg = page.locator("article.msg-user").last
    expect(user_msg.locator(".msg-attachments img.att-thumb")).to_have_attribute("alt", "red.png")
    expect(user_msg.locator(".msg-body")).to_be_hidden()
    expect(page.locator("article.msg-assistant").last.locator(".msg-body")).to_have_text(
        "Got the picture."
    )
    parts = sent_parts(last_body(server))
    assert [p.get("type") for p in parts].count("input_image") == 1, parts

    # The Context panel names the message by its file.
    page.locator("#context-open").click()
    expect(page.locator("#context-list")).to_contain_text("[image: red.png]")
    page.keyboard.press("Escape")


def test_a_refused_file_shows_why_and_blocks_the_send(server: Server, open_page: Any) -> None:
    user = server.new_user("refused")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    before = len(server.upstream.responses_requests())

    # The server reads the content: a "PNG" that is not one is refused in its words.
    page.evaluate(PASTE_FILE, [b64(b"this is not a picture at all" * 4), "fake.png", "image/png"])
    chip = page.locator("#attach-tray .attach-chip")
    expect(chip).to_have_class(re.compile("attach-error"))
    expect(chip.locator(".attach-error")).not_to_be_empty()
    expect(page.locator("#composer-note")).to_contain_text("Remove the files")

    # Too large: refused before any upload, naming the limit.
    page.evaluate(
        """() => {
          const file = new File([new Uint8Array(11 * 1024 * 1024)], "huge.png", { type: "image/png" });
          const dt = new DataTransfer();
          dt.items.add(file);
          document.querySelector("#composer-input").dispatchEvent(
            new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
        }"""
    )
    huge = page.locator('#attach-tray .attach-chip[data-name="huge.png"]')
    expect(huge.locator(".attach-error")).to_have_text("Too large (11 MB): the limit is 10 MB.")
    shot(page, "63-attach-refused")

    page.locator("#composer-input").fill("with the broken files")
    page.locator("#composer-input").press("Enter")
    expect(page.locator("article.msg-user")).to_have_count(0)
    assert len(server.upstream.responses_requests()) == before
    expect(page.locator("#composer-input")).to_have_value("with the broken files")

    # Removing them lets the message go.
    page.get_by_role("button", name="Remove fake.png").click()
    page.get_by_role("button", name="Remove huge.png").click()
    expect(page.locator("#attach-tray")).to_be_hidden()
    expect(page.locator("#composer-note")).to_be_hidden()
    page.locator("#composer-input").press("Enter")
    wait_idle(page)
    expect(page.locator("article.msg-user")).to_have_count(1)


def test_a_long_paste_becomes_a_text_attachment_chip(server: Server, open_page: Any) -> None:
    user = server.new_user("longpaste")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    limit = int(page.locator("body").get_attribute("data-paste-attachment-chars") or "0")
    assert limit == server.app.config["CHAT_PASTE_ATTACHMENT_CHARS"]
    server.upstream.reply = "A list of foxes."

    # A short paste stays text in the box (the browser's own paste: not prevented).
    assert not page.evaluate(PASTE_TEXT, "short text")
    long_text = "".join(f"line {i}: the quick brown fox\n" for i in range(limit // 20 + 10))
    assert len(long_text) > limit
    assert page.evaluate(PASTE_TEXT, long_text)
    expect(page.locator("#composer-input")).to_have_value("")
    chip = page.locator("#attach-tray .attach-chip")
    expect(chip).to_have_class(re.compile("attach-text"))
    expect(chip.locator(".attach-name")).to_have_text("pasted-text.txt")
    expect(chip).to_have_class(re.compile("attach-done"))
    page.locator("#composer-input").fill("Summarise the file")
    shot(page, "64-attach-long-paste")

    page.locator("#composer-input").press("Enter")
    expect(page.locator("article.msg-assistant").last.locator(".msg-body")).to_have_text(
        "A list of foxes."
    )
    wait_idle(page)
    user_msg = page.locator("article.msg-user").last
    expect(user_msg.locator(".msg-attachments a.att-file")).to_contain_text("pasted-text.txt")
    expect(user_msg.locator(".msg-body")).to_have_text("Summarise the file")
    sent = json.dumps(last_body(server))
    assert "pasted-text.txt" in sent and "line 3: the quick brown fox" in sent


def test_attachments_on_a_phone(server: Server, open_page: Any) -> None:
    user = server.new_user("phone")
    page, _ = open_page(
        user, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    goto(page, server.url + "/")
    server.upstream.reply = "Two pictures."
    page.evaluate(PASTE_FILE, [b64(png(120, 90)), "first.png", "image/png"])
    page.evaluate(PASTE_FILE, [b64(png(90, 120, (30, 160, 90))), "second.png", "image/png"])
    expect(page.locator("#attach-tray .attach-chip.attach-done")).to_have_count(2)
    page.locator("#composer-input").fill("Compare them")
    shot(page, "65-attach-phone-composer")
    page.locator("#send").click()
    wait_idle(page)
    expect(page.locator("article.msg-user .msg-attachments img.att-thumb")).to_have_count(2)
    shot(page, "66-attach-phone-conversation")


def test_a_share_page_shows_the_images_of_the_shared_branch(
    server: Server, open_page: Any, chromium: Any
) -> None:
    user = server.new_user("sharer")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    server.upstream.reply = "Shared answer."
    page.evaluate(PASTE_FILE, [b64(png(100, 70)), "shared.png", "image/png"])
    expect(page.locator("#attach-tray .attach-chip.attach-done")).to_have_count(1)
    page.locator("#composer-input").fill("Look at this")
    page.locator("#composer-input").press("Enter")
    wait_idle(page)
    cid = page.evaluate("decodeURIComponent(location.hash.slice(1))")
    res = page.context.request.post(
        f"{server.url}/conversations/{cid}/share",
        data="{}",
        headers={
            "Content-Type": "application/json",
            "X-CSRF-Token": page.locator('meta[name="csrf-token"]').get_attribute("content") or "",
        },
    )
    assert res.status == 201, res.text()
    url = server.url + res.json()["url"]

    # The share page's thumbnail comes from the share's own attachment route (here in the
    # owner's browser, which has a session).
    page.goto(url)
    img = page.locator("article.msg-user .msg-attachments img.att-thumb")
    expect(img).to_have_attribute("alt", "shared.png")
    src = img.get_attribute("src") or ""
    assert re.fullmatch(r"/share/[^/]+/attachments/att_[0-9a-f]{24}", src), src
    page.wait_for_function(
        "() => { const i = document.querySelector('.att-thumb'); return i && i.complete && i.naturalWidth > 0; }"
    )
    shot(page, "67-attach-share-page")

    # Logged out, in a fresh context, the same (API: the share page and its attachments need no login).
    anon, _ = open_page()
    got = anon.context.request.get(server.url + src)
    assert got.status == 200, got.status
    anon.goto(url)
    anon.wait_for_function(
        "() => { const i = document.querySelector('.att-thumb'); return i && i.complete && i.naturalWidth > 0; }"
    )


def test_send_waits_for_an_upload_still_running(server: Server, open_page: Any) -> None:
    user = server.new_user("waiter")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    server.upstream.reply = "Seen."
    held: list[Any] = []
    # The upload is held until the test lets it go (a slow connection, without any timing).

    def hold(route: Any) -> None:
        held.append(route)

    page.route("**/attachments", hold)
    page.evaluate(PASTE_FILE, [b64(png()), "slow.png", "image/png"])
    chip = page.locator("#attach-tray .attach-chip")
    expect(chip).to_have_class(re.compile("attach-uploading"))
    expect(chip.locator(".attach-state")).to_contain_text("Uploading")
    page.locator("#composer-input").fill("After the upload")
    page.locator("#composer-input").press("Enter")
    expect(page.locator("#composer-note")).to_contain_text("Waiting for the files")
    expect(page.locator("article.msg-user")).to_have_count(0)
    page.wait_for_function("() => true")  # let the route handler run
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("article.msg-assistant").last.locator(".msg-body")).to_have_text("Seen.")
    wait_idle(page)
    user_msg = page.locator("article.msg-user").last
    expect(user_msg.locator(".msg-attachments img.att-thumb")).to_have_attribute("alt", "slow.png")
    expect(user_msg.locator(".msg-body")).to_have_text("After the upload")
    assert "input_image" in [p.get("type") for p in sent_parts(last_body(server))]


def test_the_paper_clip_opens_a_file_picker(server: Server, open_page: Any) -> None:
    user = server.new_user("picker")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach files").click()
    assert chooser.value.is_multiple()
    chooser.value.set_files(
        [
            {"name": "notes.md", "mimeType": "text/markdown", "buffer": b"# Notes\n\n- one\n"},
            {"name": "pic.png", "mimeType": "image/png", "buffer": png()},
        ]
    )
    expect(page.locator("#attach-tray .attach-chip.attach-done")).to_have_count(2)
    expect(page.locator('#attach-tray .attach-chip[data-name="notes.md"]')).to_have_class(
        re.compile("attach-text")
    )
    expect(page.locator('#attach-tray .attach-chip[data-name="pic.png"] img')).to_be_visible()
    expect(page.locator("#composer-input")).to_be_focused()
