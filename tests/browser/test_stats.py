"""The Statistics panel (a uPlot chart and a table, under the strict CSP) and the Export links, in real
Chromium against the real app and the fake upstream. Screenshots 50-54."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

import pytest
from playwright.sync_api import expect

from app.turns.titles import TITLE_INSTRUCTIONS
from tests.browser.conftest import PASSWORD, Server, build_app, goto, shot
from tests.fake_upstream import DEFAULT_REPLY

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

DAY = 86_400.0
UNPRICED_MODEL = "fake-unpriced-model"


def send(page: Any, text: str) -> None:
    box = page.locator("#composer-input")
    box.fill(text)
    box.press("Enter")


def wait_idle(page: Any) -> None:
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)


def seed_history(server: Server, user: str) -> None:
    """Replies on earlier days (as if made then), so the chart has more than today's bar."""
    store = server.app.extensions["services"].store
    now = time.time()
    messages: list[dict[str, Any]] = []
    parent = None
    for n, (days_ago, cost) in enumerate(
        [(9, 0.012), (6, 0.004), (6, 0.006), (3, 0.021), (1, 0.009)]
    ):
        at = now - days_ago * DAY
        messages.append(
            {"id": f"m_u{n}", "parent_id": parent, "role": "user", "text": "q", "timestamp": at}
        )
        messages.append(
            {
                "id": f"m_a{n}",
                "parent_id": f"m_u{n}",
                "role": "assistant",
                "text": "a",
                "timestamp": at + 1,
                "status": "completed",
                "provider": "openai",
                "model": "gpt-5.4",
                "usage": {"input_tokens": 1200 * (n + 1), "output_tokens": 300 * (n + 1)},
                "cost_usd": cost,
            }
        )
        parent = f"m_a{n}"
    store.create(
        user,
        chat_name="Earlier work",
        model="gpt-5.4",
        provider="openai",
        instructions="",
        messages=messages,
        last_update=now - DAY,
    )


def real_turns(page: Any, server: Server) -> None:
    """Two turns through the page and one (a model without a price) through the API."""
    goto(page, server.url + "/")
    send(page, "Hello, what is a histogram?")
    wait_idle(page)
    send(page, "And a bar chart?")
    wait_idle(page)
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    res = page.request.post(
        server.url + "/chat",
        data={"message": "a model with no known price", "model": UNPRICED_MODEL},
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf or ""},
    )
    assert res.status == 200 and "event: done" in res.text()


def open_stats(page: Any) -> Any:
    page.locator("#stats-open").click()
    dialog = page.locator("#stats-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("data-loaded", "30:day")
    return dialog


def drawn_pixels(page: Any) -> int:
    """How many pixels of the chart's canvas are painted (0: nothing was drawn)."""
    return page.evaluate(
        """() => {
          const c = document.querySelector('#stats-chart canvas');
          if (!c) return 0;
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
          return n;
        }"""
    )


def test_the_chart_and_table_show_real_turns(server: Server, open_page: Any) -> None:
    user = server.new_user("stats")
    seed_history(server, user)
    page, _ = open_page(user)
    real_turns(page, server)

    dialog = open_stats(page)
    expect(page.locator("#stats-chart .uplot canvas")).to_have_count(1)
    assert drawn_pixels(page) > 500
    data = page.evaluate("window.chatStats.data")
    assert len(data[0]) == 30 and data[2][-1] == 3  # today: the three real turns
    assert sum(data[2]) == 8  # and the five earlier replies, on their days
    assert data[1][-1] > 0  # today's priced turns cost something
    summary = page.locator("#stats-summary")
    expect(summary).to_contain_text("8 turns")
    expect(summary).to_contain_text("1 without a known price")
    rows = page.locator("#stats-table tbody tr")
    expect(rows).to_have_count(5)  # the days that had use
    expect(page.locator("#stats-table tfoot")).to_contain_text("Total")
    shot(page, "50-stats-desktop")

    # By model over 7 days: the unpriced model has its own row, counted but not priced.
    dialog.get_by_label("7 days").check()
    dialog.get_by_label("Model", exact=True).check()
    expect(dialog).to_have_attribute("data-loaded", "7:model")
    row = page.locator("#stats-table tbody tr", has_text=UNPRICED_MODEL)
    expect(row).to_have_count(1)
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text("1")  # turns
    expect(cells.nth(6)).to_have_text("1")  # unpriced
    expect(cells.nth(5)).to_have_text("unknown")  # nothing known to price: never "$0"
    assert len(page.evaluate("window.chatStats.data")[0]) == 7
    assert drawn_pixels(page) > 500
    shot(page, "51-stats-by-model")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#stats-open")).to_be_focused()


def test_export_links_in_the_header(server: Server, open_page: Any) -> None:
    user = server.new_user("export")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    menu = page.locator("#export-menu")
    expect(menu).to_be_hidden()  # nothing to export yet
    send(page, 'Export me: "quotes" and ünïcödé')
    wait_idle(page)
    expect(menu).to_be_visible()
    menu.locator("summary").click()
    links = menu.locator("a[data-format]")
    expect(links).to_have_count(4)
    cid = page.evaluate("decodeURIComponent(location.hash.slice(1))")
    hrefs = [links.nth(i).get_attribute("href") for i in range(4)]
    assert hrefs == [
        f"/conversations/{cid}/export?format=markdown&scope=branch",
        f"/conversations/{cid}/export?format=markdown&scope=tree",
        f"/conversations/{cid}/export?format=json&scope=branch",
        f"/conversations/{cid}/export?format=json&scope=tree",
    ]
    shot(page, "52-export-menu")
    with page.expect_download() as info:
        links.nth(0).click()
    download = info.value
    assert download.suggested_filename == "Export me quotes and ünïcödé.md"
    res = page.request.get(server.url + hrefs[3])
    assert res.status == 200
    disposition = res.headers["content-disposition"]
    assert disposition.startswith("attachment; filename*=UTF-8''")
    assert unquote(disposition.split("''", 1)[1]).endswith(".json")
    assert "provider_items" not in res.text()


def test_phone_and_dark(server: Server, open_page: Any) -> None:
    user = server.new_user("statsphone")
    seed_history(server, user)
    page, _ = open_page(
        user, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    real_turns(page, server)
    page.locator("#toggle-sidebar").click()
    open_stats(page)
    assert drawn_pixels(page) > 300
    box = page.locator("#stats-dialog").bounding_box()
    assert box is not None and box["width"] <= 390
    shot(page, "53-stats-phone")

    dark, _ = open_page(user, color_scheme="dark")
    goto(dark, server.url + "/")
    open_stats(dark)
    assert drawn_pixels(dark) > 500
    background = dark.evaluate(
        "getComputedStyle(document.querySelector('#stats-dialog')).backgroundColor"
    )
    assert background != "rgb(255, 255, 255)"
    shot(dark, "54-stats-dark")


def test_the_list_picks_up_a_model_written_title(
    server: Server, open_page: Any, serve_app: Any, tmp_path: Any
) -> None:
    app = build_app(tmp_path / "titles", server.upstream, CHAT_AUTO_TITLES=True)
    url = serve_app(app)
    app.extensions["accounts"].create_user("titles1", PASSWORD)

    def reply(body: dict[str, Any]) -> str:
        return (
            "Histograms explained"
            if body.get("instructions") == TITLE_INSTRUCTIONS
            else DEFAULT_REPLY
        )

    server.upstream.reply = reply
    page, _ = open_page("titles1", base_url=url)
    goto(page, url + "/")
    send(page, "what is a histogram, in a few words?")
    wait_idle(page)
    # The name from the first message first, then the model's title, without a reload.
    expect(page.locator("#conv-list")).to_contain_text("Histograms explained", timeout=15_000)
    expect(page.locator("#chat-title")).to_have_text("Histograms explained")


def test_nothing_priced_is_cost_unknown_and_a_gap(server: Server, open_page: Any) -> None:
    user = server.new_user("unpriced")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    res = page.request.post(
        server.url + "/chat",
        data={"message": "a model with no known price", "model": UNPRICED_MODEL},
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf or ""},
    )
    assert res.status == 200 and "event: done" in res.text()
    open_stats(page)
    summary = page.locator("#stats-summary")
    expect(summary).to_contain_text("1 turn")
    expect(summary).to_contain_text("cost unknown (1 without a known price)")
    expect(summary).not_to_contain_text("$0")
    data = page.evaluate("window.chatStats.data")
    assert data[1][-1] is None  # today: a gap, not a $0 bar
    assert data[1][0] == 0 and data[2][-1] == 1  # a day without use is still 0
