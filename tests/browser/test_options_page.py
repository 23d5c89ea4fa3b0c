"""The model settings popover in real Chromium: it lists the options the chosen model takes (from
GET /providers `options` and `reasoning`), a chosen effort reaches the upstream's request body and
shows under the reply, the conversation keeps it; "unknown" figures in the picker; Refresh models;
the composer's note when an image goes to a model known to take text only.

One provider, `alpha` (the Responses API on the fake upstream), from a providers file that says what
each model takes.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Server, build_app, goto, shot, start_server
from tests.fake_upstream import running

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

ALPHA_KEY = "sk-alpha-options-000000000000001"

PROVIDERS_TOML = """\
default = "alpha:thinker"

[providers.alpha]
protocol = "responses"
base_url = "{base_url}"
api_key_env = "ALPHA_OPTIONS_KEY"
models = ["thinker", "plain-text", "mystery"]

[models."alpha:thinker"]
context_window = 200000
max_output_tokens = 32000
input = ["text", "image"]
reasoning = ["low", "medium", "high"]
options = ["reasoning_effort", "reasoning_summary", "max_output_tokens"]

[models."alpha:plain-text"]
context_window = 32000
max_output_tokens = 4096
input = ["text"]
reasoning = []
options = ["temperature", "top_p", "max_output_tokens"]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("options-page-data")
    conf = tmp_path_factory.mktemp("options-page-conf") / "providers.toml"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHAT_PROVIDER", "CHAT_MODEL"):
            mp.delenv(name, raising=False)
        mp.setenv("ALPHA_OPTIONS_KEY", ALPHA_KEY)
        for upstream in running():
            conf.write_text(PROVIDERS_TOML.format(base_url=upstream.base_url))
            mp.setenv("CHAT_PROVIDERS_FILE", str(conf))
            app = build_app(
                data_dir, None, CHAT_PROVIDERS_FILE=str(conf), ALPHA_OPTIONS_KEY=ALPHA_KEY
            )
            srv, thread, url = start_server(app)
            try:
                yield Server(url, app, upstream, data_dir)
            finally:
                srv.shutdown()
                thread.join(5)


def wait_idle(page: Any) -> None:
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)


def pick(page: Any, model: str) -> None:
    box = page.locator("#model-input")
    box.click()
    box.fill(model)
    expect(page.locator("#model-listbox")).to_be_visible()
    box.press("Enter")
    expect(page.locator("#model-listbox")).to_be_hidden()
    expect(box).to_have_value(model)


def field_names(page: Any) -> list[str]:
    names: list[str] = page.locator("#options-fields .option-input").evaluate_all(
        "els => els.map(e => e.name)"
    )
    return names


def test_the_popover_lists_what_the_chosen_model_takes(server: Server, open_page: Any) -> None:
    user = server.new_user("popover")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    expect(page.locator("#model-input")).to_have_value("thinker")

    page.get_by_role("button", name="Model settings").click()
    pop = page.locator("#options-popover")
    expect(pop).to_be_visible()
    expect(page.locator("#options-open")).to_have_attribute("aria-expanded", "true")
    assert field_names(page) == ["reasoning_effort", "reasoning_summary", "max_output_tokens"]
    effort = page.get_by_label("Reasoning effort")
    efforts = effort.locator("option").evaluate_all("els => els.map(e => e.value)")
    assert efforts == ["", "low", "medium", "high"]  # the model's own list, "" is the default
    # The model takes 32000, the server CHAT_MAX_OUTPUT_TOKENS (16000): the smaller is offered (API "Options").
    expect(pop.locator("#opt-max_output_tokens-hint")).to_have_text("1 to 16000")
    shot(page, "70-options-popover")

    # Another model: its own options, none of the reasoning ones.
    page.keyboard.press("Escape")
    expect(pop).to_be_hidden()
    pick(page, "plain-text")
    page.get_by_role("button", name="Model settings").click()
    assert field_names(page) == ["temperature", "top_p", "max_output_tokens"]
    # This model's own limit is the smaller one.
    expect(pop.locator("#opt-max_output_tokens-hint")).to_have_text("1 to 4096")

    # A value out of range is refused in words, and not kept.
    temp = page.get_by_label("Temperature")
    temp.fill("3")
    temp.press("Tab")
    expect(pop.locator(".option-error").first).to_contain_text("from 0 to 2")
    expect(page.locator("#options-count")).to_be_hidden()

    # A model the file says nothing of: every option its protocol (Responses) can send, so all
    # but `thinking`; the picker says "unknown".
    page.keyboard.press("Escape")
    pick(page, "mystery")
    page.get_by_role("button", name="Model settings").click()
    assert field_names(page) == [
        "reasoning_effort",
        "reasoning_summary",
        "verbosity",
        "temperature",
        "top_p",
        "max_output_tokens",
    ]
    page.keyboard.press("Escape")
    page.locator("#model-input").click()
    facts = page.locator('#model-listbox .model-option[data-model="mystery"] .model-facts')
    expect(facts).to_contain_text("context unknown")
    expect(facts).to_contain_text("price unknown")
    page.keyboard.press("Escape")


def test_a_chosen_effort_reaches_the_upstream_and_shows_under_the_reply(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("effort")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    server.upstream.reply = "Thought it through."

    page.get_by_role("button", name="Model settings").click()
    page.get_by_label("Reasoning effort").select_option("high")
    expect(page.locator("#options-count")).to_have_text("1")
    page.keyboard.press("Escape")

    box = page.locator("#composer-input")
    box.fill("Think hard")
    box.press("Enter")
    expect(page.locator("article.msg-assistant:not(.pending)")).to_have_count(1)
    wait_idle(page)
    body = server.upstream.responses_requests()[-1].body
    assert body["reasoning"]["effort"] == "high", body.get("reasoning")
    reply = page.locator("article.msg-assistant").last
    expect(reply.locator(".msg-options").first).to_have_text("effort high")
    shot(page, "71-options-under-reply")

    # The conversation keeps it: the next turn sends it again without `options`, a reload shows it.
    box.fill("And again")
    box.press("Enter")
    expect(page.locator("article.msg-assistant:not(.pending)")).to_have_count(2)
    wait_idle(page)
    assert server.upstream.responses_requests()[-1].body["reasoning"]["effort"] == "high"
    page.reload()
    expect(page.locator("body.ready")).to_have_count(1)
    expect(page.locator("#options-count")).to_have_text("1")
    page.get_by_role("button", name="Model settings").click()
    expect(page.get_by_label("Reasoning effort")).to_have_value("high")
    page.keyboard.press("Escape")

    # After a switch to a model that does not take it, the reply says it was dropped.
    pick(page, "plain-text")
    box.fill("Now plainly")
    box.press("Enter")
    expect(page.locator("article.msg-assistant:not(.pending)")).to_have_count(3)
    wait_idle(page)
    assert "reasoning" not in server.upstream.responses_requests()[-1].body or not (
        server.upstream.responses_requests()[-1].body.get("reasoning") or {}
    ).get("effort")
    expect(
        page.locator("article.msg-assistant").last.locator(".msg-options-dropped")
    ).to_contain_text("effort")


def test_refresh_models_rereads_the_catalogue(
    server: Server, open_page: Any, serve_app: Any, tmp_path: Any
) -> None:
    # An app of its own: a refreshed model list is cached in its data directory, and the fake's
    # list would then make the other tests' models unknown.
    conf = tmp_path / "providers.toml"
    conf.write_text(PROVIDERS_TOML.format(base_url=server.upstream.base_url))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALPHA_OPTIONS_KEY", ALPHA_KEY)
        mp.setenv("CHAT_PROVIDERS_FILE", str(conf))
        app = build_app(
            tmp_path / "data", None, CHAT_PROVIDERS_FILE=str(conf), ALPHA_OPTIONS_KEY=ALPHA_KEY
        )
    url = serve_app(app)
    app.extensions["accounts"].create_user("refresher", PASSWORD)
    page, _ = open_page("refresher", base_url=url)
    goto(page, url + "/")
    page.get_by_role("button", name="Model settings").click()
    with page.expect_response(re.compile(r"/providers/refresh$")) as res:
        page.get_by_role("button", name="Refresh models").click()
    if res.value.status == 404:
        pytest.skip("POST /providers/refresh is not there yet (helper D)")
    expect(page.locator("#models-refresh-result")).to_contain_text("Models refreshed")
    expect(page.locator("#model-input")).to_have_value("thinker")


def test_an_image_for_a_text_only_model_is_flagged_at_the_composer(
    server: Server, open_page: Any
) -> None:
    from PIL import Image

    user = server.new_user("textonly")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    pick(page, "plain-text")
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (10, 10, 10)).save(out, format="PNG")
    page.evaluate(
        """(b64) => {
          const bin = atob(b64);
          const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], "dot.png", { type: "image/png" }));
          document.querySelector("#composer-input").dispatchEvent(
            new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
        }""",
        base64.b64encode(out.getvalue()).decode(),
    )
    note = page.locator("#composer-note")
    expect(note).to_contain_text("plain-text takes text only")
    expect(page.locator("#attach-tray .attach-chip.attach-done")).to_have_count(1)
    shot(page, "72-options-text-only-note")

    # Sending anyway: the server refuses before anything is sent, and the page keeps the message.
    before = len(server.upstream.responses_requests())
    page.locator("#composer-input").fill("What is this?")
    page.locator("#composer-input").press("Enter")
    expect(page.locator(".banner-error")).to_contain_text("does not take images")
    assert len(server.upstream.responses_requests()) == before
    expect(page.locator("#composer-input")).to_have_value("What is this?")
    expect(page.locator("#attach-tray .attach-chip")).to_have_count(1)

    pick(page, "thinker")
    expect(note).to_be_hidden()


def test_the_popover_fits_a_phone(server: Server, open_page: Any) -> None:
    user = server.new_user("phonepop")
    page, _ = open_page(
        user, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    goto(page, server.url + "/")
    page.get_by_role("button", name="Model settings").click()
    pop = page.locator("#options-popover")
    expect(pop).to_be_visible()
    box = pop.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "73-options-phone")
