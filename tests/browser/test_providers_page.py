"""The page with several providers, in real Chromium: the model picker (grouped by provider, with each
model's facts, searchable, keyboard-driven), a switch of provider mid-conversation, "Regenerate
with…", the fallback notice (live and after a reload), and the composer with no provider at all.

Two providers, `alpha` and `beta`, come from a providers file (CHAT_PROVIDERS_FILE); both speak the
Responses API to the one fake upstream, told apart by their keys. `fake-503` makes the fake answer
503 (unavailable), so alpha's fallback to beta answers instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Server, build_app, goto, shot, start_server
from tests.fake_upstream import running

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

ALPHA_KEY = "sk-alpha-browser-0000000000000001"
BETA_KEY = "sk-beta-browser-00000000000000002"

PROVIDERS_TOML = """\
default = "alpha:alpha-large"

[providers.alpha]
protocol = "responses"
base_url = "{base_url}"
api_key_env = "ALPHA_BROWSER_KEY"
models = ["alpha-large", "alpha-small", "fake-503"]
fallback = ["beta:beta-mini"]

[providers.beta]
protocol = "responses"
base_url = "{base_url}"
api_key_env = "BETA_BROWSER_KEY"
models = ["beta-mini", "beta-pro"]

[models."alpha:alpha-large"]
context_window = 400000
max_output_tokens = 128000
input = ["text", "image"]
price = {{ input = 1.25, output = 10.0 }}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This module's app: two providers from a providers file, both on one fake upstream."""
    data_dir = tmp_path_factory.mktemp("providers-page-data")
    conf = tmp_path_factory.mktemp("providers-page-conf") / "providers.toml"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHAT_PROVIDER", "CHAT_MODEL"):
            mp.delenv(name, raising=False)
        mp.setenv("ALPHA_BROWSER_KEY", ALPHA_KEY)
        mp.setenv("BETA_BROWSER_KEY", BETA_KEY)
        for upstream in running():
            conf.write_text(PROVIDERS_TOML.format(base_url=upstream.base_url))
            mp.setenv("CHAT_PROVIDERS_FILE", str(conf))
            app = build_app(
                data_dir,
                None,
                CHAT_PROVIDERS_FILE=str(conf),
                ALPHA_BROWSER_KEY=ALPHA_KEY,
                BETA_BROWSER_KEY=BETA_KEY,
            )
            srv, thread, url = start_server(app)
            try:
                yield Server(url, app, upstream, data_dir)
            finally:
                srv.shutdown()
                thread.join(5)


@pytest.fixture
def two_providers(server: Server) -> Server:
    """The module's server, once it has both providers (skipped, saying why, until it does)."""
    client = server.app.test_client()
    name = server.new_user("probe")
    client.post("/login", json={"username": name, "password": PASSWORD})
    res = client.get("/providers")
    if res.status_code == 404:
        pytest.skip("GET /providers is not there yet (helper D)")
    names = [p["name"] for p in res.get_json()["providers"]]
    if names != ["alpha", "beta"]:
        pytest.skip(f"the providers file is not read yet (providers: {names})")
    return server


def send(page: Any, text: str) -> None:
    box = page.locator("#composer-input")
    box.fill(text)
    box.press("Enter")


def last_reply(page: Any) -> Any:
    return page.locator("article.msg-assistant").last


def wait_idle(page: Any) -> None:
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)


def key_of(rec: Any) -> str:
    """Which provider's key a recorded upstream request carried."""
    auth = rec.headers.get("authorization", "")
    return {f"Bearer {ALPHA_KEY}": "alpha", f"Bearer {BETA_KEY}": "beta"}.get(auth, auth)


def active_option(page: Any) -> Any:
    """The option the combobox's aria-activedescendant points at."""
    active = page.locator("#model-input").get_attribute("aria-activedescendant")
    assert active, "no active option"
    return page.locator(f"#{active}")


def pick(page: Any, query: str) -> None:
    """Choose a model with the keyboard: type to filter, Enter takes the first match."""
    box = page.locator("#model-input")
    box.click()
    box.fill(query)
    expect(page.locator("#model-listbox")).to_be_visible()
    box.press("Enter")
    expect(page.locator("#model-listbox")).to_be_hidden()


def test_picker_groups_by_provider_with_facts_search_and_keys(
    two_providers: Server, open_page: Any
) -> None:
    server = two_providers
    user = server.new_user("picker")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    box = page.locator("#model-input")
    listbox = page.locator("#model-listbox")
    expect(box).to_have_value("alpha-large")
    expect(page.locator("#model-provider")).to_have_text("alpha")
    expect(box).to_have_attribute("role", "combobox")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_attribute("aria-controls", "model-listbox")
    expect(listbox).to_be_hidden()

    # ArrowDown opens the list on the model in use; the groups are the providers, in order.
    box.focus()
    box.press("ArrowDown")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(listbox).to_have_attribute("role", "listbox")
    groups = listbox.locator("[role=group]")
    expect(groups).to_have_count(2)
    expect(groups.nth(0).locator(".model-group-name")).to_have_text("alpha")
    expect(groups.nth(1).locator(".model-group-name")).to_have_text("beta")
    expect(groups.nth(0).locator("[role=option]")).to_have_count(3)
    expect(groups.nth(1).locator("[role=option]")).to_have_count(2)
    expect(groups.nth(0)).to_have_attribute("aria-labelledby", re.compile(r".+"))
    expect(active_option(page)).to_have_attribute("data-model", "alpha-large")
    expect(active_option(page)).to_have_attribute("aria-selected", "true")

    # What is known is shown; what is not says "unknown", never a guess.
    large = listbox.locator("[role=option][data-provider=alpha][data-model=alpha-large]")
    expect(large.locator(".model-facts")).to_contain_text("400K context")
    expect(large.locator(".model-facts")).to_contain_text("$1.25 in · $10 out per 1M tokens")
    expect(large.locator(".model-facts")).to_contain_text("text, image")
    mini = listbox.locator("[role=option][data-provider=beta][data-model=beta-mini]")
    expect(mini.locator(".model-facts")).to_contain_text("context unknown")
    expect(mini.locator(".model-facts")).to_contain_text("price unknown")
    expect(mini.locator(".model-facts")).to_contain_text("input unknown")
    shot(page, "20-picker-open")

    # Arrows move (and wrap); Escape closes and keeps the model in use.
    box.press("ArrowDown")
    expect(active_option(page)).to_have_attribute("data-model", "alpha-small")
    box.press("ArrowUp")
    box.press("ArrowUp")
    expect(active_option(page)).to_have_attribute("data-model", "beta-pro")
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("alpha-large")
    expect(page.locator("#model-provider")).to_have_text("alpha")

    # Typing filters across providers; Enter takes the first match.
    box.fill("pro")
    expect(listbox).to_be_visible()
    options = listbox.locator("[role=option]:not(.typed)")
    expect(options).to_have_count(1)
    expect(options.first).to_have_attribute("data-model", "beta-pro")
    expect(listbox.locator(".model-group-name")).to_have_text(["beta"])
    shot(page, "21-picker-search")
    box.press("Enter")
    expect(listbox).to_be_hidden()
    expect(box).to_have_value("beta-pro")
    expect(page.locator("#model-provider")).to_have_text("beta")

    # A name no provider lists is offered as typed, with the provider in use.
    box.fill("my-own-model")
    typed = listbox.locator("[role=option].typed")
    expect(typed).to_contain_text("my-own-model")
    expect(typed).to_have_attribute("data-provider", "beta")
    # A click picks too.
    box.fill("small")
    listbox.locator("[role=option][data-model=alpha-small]").click()
    expect(box).to_have_value("alpha-small")
    expect(page.locator("#model-provider")).to_have_text("alpha")
    expect(box).to_be_focused()

    # On a phone the open list fits the screen.
    phone, _ = open_page(
        user, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    goto(phone, server.url + "/")
    phone.locator("#model-input").focus()
    phone.locator("#model-input").press("ArrowDown")
    expect(phone.locator("#model-listbox")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page scrolls sideways: {width}px"
    box_right = phone.evaluate(
        "document.querySelector('#model-listbox').getBoundingClientRect().right"
    )
    assert box_right <= 390, box_right
    shot(phone, "28-picker-phone")

    dark, _ = open_page(user, color_scheme="dark")
    goto(dark, server.url + "/")
    dark.locator("#model-input").focus()
    dark.locator("#model-input").press("ArrowDown")
    expect(dark.locator("#model-listbox")).to_be_visible()
    shot(dark, "29-picker-dark")


def test_switching_provider_mid_conversation_labels_each_reply(
    two_providers: Server, open_page: Any
) -> None:
    server = two_providers
    user = server.new_user("switcher")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    send(page, "Hello alpha")
    wait_idle(page)
    first = page.locator("article.msg-assistant").nth(0)
    expect(first.locator(".msg-provider")).to_have_text("alpha")
    expect(first.locator(".msg-model")).to_have_text("alpha-large")
    rec = server.upstream.responses_requests()[-1]
    assert (key_of(rec), rec.body["model"]) == ("alpha", "alpha-large")
    # The rates it was priced at (the file's price for alpha-large) are on its usage line.
    expect(first.locator(".msg-usage")).to_have_attribute(
        "title", re.compile(r"input \$1\.25, output \$10")
    )

    pick(page, "beta mini")
    expect(page.locator("#model-provider")).to_have_text("beta")
    send(page, "Now you, beta")
    wait_idle(page)
    second = last_reply(page)
    expect(second.locator(".msg-provider")).to_have_text("beta")
    expect(second.locator(".msg-model")).to_have_text("beta-mini")
    expect(first.locator(".msg-provider")).to_have_text("alpha")
    rec = server.upstream.responses_requests()[-1]
    assert (key_of(rec), rec.body["model"]) == ("beta", "beta-mini")
    # beta has no chain of its own yet: the branch is replayed as text, no alpha response id.
    assert "previous_response_id" not in rec.body or rec.body["previous_response_id"] is None
    shot(page, "22-switch")

    # After a reload each reply keeps who answered, and the conversation keeps beta.
    page.reload()
    expect(page.locator("body.ready")).to_have_count(1)
    replies = page.locator("article.msg-assistant")
    expect(replies).to_have_count(2)
    expect(replies.nth(0).locator(".msg-provider")).to_have_text("alpha")
    expect(replies.nth(1).locator(".msg-provider")).to_have_text("beta")
    expect(page.locator("#model-input")).to_have_value("beta-mini")
    expect(page.locator("#model-provider")).to_have_text("beta")


def test_regenerate_with_another_model_makes_a_sibling(
    two_providers: Server, open_page: Any
) -> None:
    server = two_providers
    user = server.new_user("regen")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    send(page, "Compare two models")
    wait_idle(page)
    reply = last_reply(page)
    expect(reply.locator(".msg-model")).to_have_text("alpha-large")

    # The menu opens under the reply; Escape gives it up and focus goes back to the action.
    action = reply.get_by_role("button", name="Regenerate with…")
    action.click()
    menu = reply.locator(".regen-panel")
    expect(menu).to_be_visible()
    search = menu.get_by_role("combobox", name="Regenerate with")
    expect(search).to_be_focused()
    expect(action).to_have_attribute("aria-expanded", "true")
    expect(menu.locator("[role=option][data-model=alpha-large]")).to_contain_text("answered")
    search.press("Escape")
    expect(menu).to_have_count(0)
    expect(action).to_be_focused()
    expect(action).to_have_attribute("aria-expanded", "false")

    before = len(server.upstream.responses_requests())
    action.click()
    search = reply.locator(".regen-panel").get_by_role("combobox")
    search.fill("beta pro")
    shot(page, "23-regenerate-with")
    search.press("Enter")
    wait_idle(page)
    reply = last_reply(page)
    expect(reply.locator(".msg-provider")).to_have_text("beta")
    expect(reply.locator(".msg-model")).to_have_text("beta-pro")
    expect(reply.locator(".sib-count")).to_have_text("2/2")
    recs = server.upstream.responses_requests()
    assert len(recs) == before + 1
    assert (key_of(recs[-1]), recs[-1].body["model"]) == ("beta", "beta-pro")
    # One user message, two answers to it.
    expect(page.locator("article.msg-user")).to_have_count(1)

    # The earlier version still says alpha answered it.
    reply.get_by_role("button", name="Previous version").click()
    expect(last_reply(page).locator(".sib-count")).to_have_text("1/2")
    expect(last_reply(page).locator(".msg-model")).to_have_text("alpha-large")
    expect(last_reply(page).locator(".msg-provider")).to_have_text("alpha")


def test_fallback_notice_live_and_after_reload(two_providers: Server, open_page: Any) -> None:
    server = two_providers
    user = server.new_user("fallback")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    pick(page, "fake-503")
    expect(page.locator("#model-provider")).to_have_text("alpha")
    server.upstream.reply = "Beta took over. " * 12
    server.upstream.chunk_size = 4
    server.upstream.delta_delay = 0.08  # slow enough to see the notice while it streams (~4 s)

    send(page, "Are you there?")
    reply = last_reply(page)
    notice = reply.locator(".msg-fallback")
    expect(notice).to_have_text("Answered by beta-mini: alpha was unavailable.")
    expect(reply).to_have_class(re.compile("pending"))  # live, before the turn ends
    expect(reply.locator(".msg-provider")).to_have_text("beta")
    expect(reply.locator(".msg-model")).to_have_text("beta-mini")
    shot(page, "24-fallback-live")
    wait_idle(page)
    expect(reply.locator(".msg-body")).to_contain_text("Beta took over.")
    expect(notice).to_have_text("Answered by beta-mini: alpha was unavailable.")

    recs = server.upstream.responses_requests()
    assert [(key_of(r), r.body["model"]) for r in recs[-2:]] == [
        ("alpha", "fake-503"),
        ("beta", "beta-mini"),
    ]

    # From the stored `fallback_from` after a reload; the conversation keeps the chosen model.
    page.reload()
    expect(page.locator("body.ready")).to_have_count(1)
    reply = last_reply(page)
    expect(reply.locator(".msg-fallback")).to_have_text(
        "Answered by beta-mini: alpha was unavailable."
    )
    expect(reply.locator(".msg-provider")).to_have_text("beta")
    expect(page.locator("#model-input")).to_have_value("fake-503")
    expect(page.locator("#model-provider")).to_have_text("alpha")
    shot(page, "25-fallback-reloaded")

    # Every candidate fails: the reply says its own error, and which were tried before it.
    server.upstream.reset()
    pick(page, "alpha-large")
    server.upstream.script(["503", "503"])
    send(page, "Anyone?")
    wait_idle(page)
    reply = last_reply(page)
    expect(reply.locator(".msg-status")).to_contain_text("overloaded right now")
    expect(reply.locator(".msg-fallback")).to_have_text(
        "Tried before beta-mini: alpha was unavailable."
    )
    expect(reply.locator(".msg-provider")).to_have_text("beta")
    page.reload()
    expect(last_reply(page).locator(".msg-fallback")).to_have_text(
        "Tried before beta-mini: alpha was unavailable."
    )


def test_a_model_name_typed_and_left_is_sent_as_typed(
    two_providers: Server, open_page: Any
) -> None:
    """As the old free-text field: a name no provider lists goes to the provider in use."""
    server = two_providers
    user = server.new_user("typist")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    pick(page, "beta-mini")
    page.locator("#model-input").fill("fake-reasoning")
    send(page, "Think first")  # the composer takes the focus: the typed name is the choice
    wait_idle(page)
    rec = server.upstream.responses_requests()[-1]
    assert (key_of(rec), rec.body["model"]) == ("beta", "fake-reasoning")
    expect(last_reply(page).locator(".msg-model")).to_have_text("fake-reasoning")
    expect(last_reply(page).locator(".msg-provider")).to_have_text("beta")
    expect(last_reply(page).locator("details.thinking")).to_be_visible()
    # "provider:model" names the provider too.
    page.locator("#model-input").fill("alpha:fake-reasoning")
    page.locator("#model-input").press("Enter")  # the typed option is the only one: Enter takes it
    expect(page.locator("#model-input")).to_have_value("fake-reasoning")
    expect(page.locator("#model-provider")).to_have_text("alpha")
    send(page, "And again")
    wait_idle(page)
    rec = server.upstream.responses_requests()[-1]
    assert (key_of(rec), rec.body["model"]) == ("alpha", "fake-reasoning")


def test_no_provider_disables_the_composer_and_says_what_to_set(
    tmp_path: Path, open_page: Any, serve_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_API_KEY", "CHAT_PROVIDERS_FILE", "ALPHA_BROWSER_KEY", "BETA_BROWSER_KEY"):
        monkeypatch.delenv(name, raising=False)
    app = build_app(tmp_path, None)
    app.extensions["accounts"].create_user("noprovider", "correct horse battery staple")
    url = serve_app(app)
    page, _ = open_page("noprovider", base_url=url)
    goto(page, url + "/")
    notice = page.locator("#provider-missing")
    expect(notice).to_contain_text("No model provider is configured")
    expect(notice).to_contain_text("OPENAI_API_KEY")
    expect(notice).to_contain_text("CHAT_PROVIDERS_FILE")
    box = page.locator("#composer-input")
    expect(box).to_be_disabled()
    expect(box).to_have_attribute("placeholder", re.compile("No model provider is configured"))
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#model-input")).to_be_disabled()
    expect(page.locator("#composer")).to_have_class(re.compile("disabled"))
    # Opening a new chat keeps it disabled.
    page.locator("#new-chat").click()
    expect(box).to_be_disabled()
    shot(page, "26-no-provider")


HOSTILE = '<img src=x onerror="window.__pwned=1">'


def test_picker_shows_the_contracts_json_as_text(
    server: Server, tmp_path: Path, open_page: Any, serve_app: Any
) -> None:
    """The exact `GET /providers` shape of API.md, with nulls and hostile strings, drawn as text."""
    app = build_app(tmp_path, server.upstream)  # one real provider, so the composer is on
    app.extensions["accounts"].create_user("contract", "correct horse battery staple")
    url = serve_app(app)
    body = {
        "default": {"provider": "openai", "model": "gpt-5.4-mini"},
        "providers": [
            {
                "name": "openai",
                "protocol": "responses",
                "stateful": True,
                "models": [
                    {
                        "id": "gpt-5.4-mini",
                        "context_window": 400000,
                        "max_output_tokens": 128000,
                        "input": ["text", "image"],
                        "reasoning": ["low", "medium", "high"],
                        "options": ["reasoning_effort", "max_output_tokens"],
                        "price": {
                            "input": 0.25,
                            "cached_input": 0.025,
                            "cache_write": None,
                            "output": 2.0,
                            "source": "genai-prices 0.2.3",
                        },
                    },
                    {
                        "id": HOSTILE,
                        "context_window": None,
                        "max_output_tokens": None,
                        "input": None,
                        "reasoning": None,
                        "options": None,
                        "price": None,
                    },
                ],
                "fallback": [{"provider": "gemini", "model": "gemini-3.5-flash"}],
            },
            {
                "name": "gemini",
                "protocol": "gemini",
                "stateful": False,
                "models": [
                    {
                        "id": "gemini-3.5-flash",
                        "context_window": 1048576,
                        "max_output_tokens": 65536,
                        "input": ["text", "image"],
                        "reasoning": [],
                        "options": None,
                        "price": None,
                    }
                ],
                "fallback": [],
            },
            {
                "name": "openrouter",
                "protocol": "chat_completions",
                "stateful": False,
                "models": [],
                "fallback": [],
            },
        ],
    }
    page, _ = open_page("contract", base_url=url)
    page.route("**/providers", lambda r: r.fulfill(json=body))
    goto(page, url + "/")
    box = page.locator("#model-input")
    expect(page.locator("#model-provider")).to_have_text("openai")
    box.focus()
    box.press("ArrowDown")
    listbox = page.locator("#model-listbox")
    expect(listbox.locator(".model-group-name")).to_have_text(["openai", "gemini", "openrouter"])
    openai = listbox.locator("[role=group]").nth(0)
    expect(openai.locator(".model-group-about")).to_have_text(
        "Responses API · keeps state · falls back to gemini:gemini-3.5-flash"
    )
    mini = openai.locator("[role=option]").nth(0)
    expect(mini.locator(".model-facts")).to_have_text(
        "400K context · 128K out · $0.25 in · $2 out per 1M tokens · text, image"
        " · reasoning: low, medium, high"
    )
    expect(mini.locator(".model-facts")).to_have_attribute(
        "title", re.compile(r"cached input \$0\.025.*genai-prices 0\.2\.3")
    )
    # A hostile model id is text, never markup; every unknown figure says so.
    odd = openai.locator("[role=option]").nth(1)
    expect(odd.locator(".model-id")).to_have_text(HOSTILE)
    expect(odd.locator(".model-facts")).to_have_text(
        "context unknown · output limit unknown · price unknown · input unknown · reasoning unknown"
    )
    assert page.locator("#model-listbox img").count() == 0
    flash = listbox.locator("[role=option][data-model='gemini-3.5-flash']")
    expect(flash.locator(".model-facts")).to_contain_text("1M context")
    expect(flash.locator(".model-facts")).to_contain_text("no reasoning")
    expect(listbox.locator("[role=group]").nth(2)).to_contain_text("No models listed")
    shot(page, "27-picker-contract")
    # "provider:model" typed names a provider's model even when it is not listed.
    box.fill("openrouter:some/model")
    typed = listbox.locator("[role=option].typed")
    expect(typed).to_have_attribute("data-provider", "openrouter")
    expect(typed).to_have_attribute("data-model", "some/model")
    box.press("ArrowUp")  # to the last option: the typed one
    box.press("Enter")
    expect(box).to_have_value("some/model")
    expect(page.locator("#model-provider")).to_have_text("openrouter")


def test_hostile_provider_model_and_fallback_names_are_text(
    two_providers: Server, open_page: Any
) -> None:
    """Names the server hands back (a stored reply's provider, model, fallback_from) stay text."""
    server = two_providers
    user = server.new_user("hostile")
    conv = server.app.extensions["store"].create(
        user,
        chat_name="Hostile names",
        model="alpha-large",
        provider="alpha",
        instructions="",
        messages=[
            {"id": "m_u1", "parent_id": None, "role": "user", "text": "hi", "timestamp": 1.0},
            {
                "id": "m_a1",
                "parent_id": "m_u1",
                "role": "assistant",
                "text": "hello",
                "timestamp": 2.0,
                "status": "completed",
                "model": HOSTILE,
                "provider": "<b>beta</b>",
                "fallback_from": [
                    {"provider": HOSTILE, "model": "x", "code": "upstream_unavailable"}
                ],
            },
        ],
    )
    page, _ = open_page(user)
    goto(page, f"{server.url}/#{conv.id}")
    reply = last_reply(page)
    expect(reply.locator(".msg-model")).to_have_text(HOSTILE)
    expect(reply.locator(".msg-provider")).to_have_text("<b>beta</b>")
    expect(reply.locator(".msg-fallback")).to_have_text(
        f"Answered by {HOSTILE}: {HOSTILE} was unavailable."
    )
    assert page.locator("#messages img, #messages .msg-head b").count() == 0
    # Regenerate with… lists the catalogue, and marks the model that answered by name only.
    reply.get_by_role("button", name="Regenerate with…").click()
    expect(reply.locator(".regen-panel [role=option]").first).to_be_visible()
    assert page.locator(".regen-panel img").count() == 0
