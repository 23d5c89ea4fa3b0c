"""Browser fixtures: the real app behind a real threaded server, the fake upstream, and Debian's Chromium.

Every page is guarded: dialogs, page errors, CSP violations and requests to any other origin are recorded
and fail the test at teardown.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.fake_upstream import FakeUpstream, running

PASSWORD = "correct horse battery staple"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artefacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Installed before any page script: counts CSP violations and gives payloads a canary to trip.
GUARD_SCRIPT = """
window.__csp = [];
window.__pwned = 0;
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(
            reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        )
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


@dataclass
class Server:
    url: str
    app: Any
    upstream: FakeUpstream
    data_dir: Path
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_user(self, prefix: str = "user") -> str:
        """Create a fresh account (so each test starts with an empty conversation list)."""
        name = f"{prefix}{next(self._names)}"
        self.app.extensions["accounts"].create_user(name, PASSWORD)
        return name


def _serve(app: Any) -> tuple[Any, threading.Thread, str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_port}"


def start_server(app: Any) -> tuple[Any, threading.Thread, str]:
    """Serve `app` on a free port in a thread: (server, thread, base URL); shut it down yourself."""
    return _serve(app)


def build_app(data_dir: Path, upstream: FakeUpstream | None, **overrides: Any) -> Any:
    from app import create_app

    config: dict[str, Any] = {
        "TESTING": True,
        "CHAT_DATA_DIR": str(data_dir),
        "SECRET_KEY": "browser-test-secret-" + "x" * 32,
        "CHAT_UPSTREAM_READ_TIMEOUT": 10.0,
        "CHAT_UPSTREAM_MAX_RETRIES": 0,
        "CHAT_KEEPALIVE_SECONDS": 1.0,
        "CHAT_TURNS_PER_MINUTE": 10000,
        "CHAT_CONCURRENT_TURNS": 100,
    }
    if upstream is not None:
        config["OPENAI_API_KEY"] = "sk-test-browser-0000000000000000"
        config["OPENAI_BASE_URL"] = upstream.base_url
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One app and one fake upstream per test module; tests use their own accounts."""
    data_dir = tmp_path_factory.mktemp("browser-data")
    for upstream in running():
        app = build_app(data_dir, upstream)
        srv, thread, url = _serve(app)
        try:
            yield Server(url, app, upstream, data_dir)
        finally:
            srv.shutdown()
            thread.join(5)


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], str]]:
    """Serve an extra app (e.g. one without a provider) for the length of a test."""
    started: list[tuple[Any, threading.Thread]] = []

    def serve(app: Any) -> str:
        srv, thread, url = _serve(app)
        started.append((srv, thread))
        return url

    yield serve
    for srv, thread in started:
        srv.shutdown()
        thread.join(5)


@pytest.fixture(scope="session")
def chromium(playwright: Any) -> Iterator[Any]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Guard:
    """What a page did that it must not: dialogs, script errors, foreign requests, CSP violations."""

    origin: str
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    pages: list[Any] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        out: list[str] = []
        for p in self.pages:
            if not p.is_closed():
                out += p.evaluate("window.__csp || []")
        return out

    def canary(self) -> int:
        return sum(p.evaluate("window.__pwned || 0") for p in self.pages if not p.is_closed())

    def check(self) -> None:
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        assert self.errors == [], f"page errors: {self.errors}"
        assert self.foreign == [], f"requests to other origins: {self.foreign}"
        assert self.csp_violations() == [], "CSP violations"
        assert self.canary() == 0, "a payload ran script"


@pytest.fixture
def open_page(chromium: Any, server: Server) -> Iterator[Callable[..., tuple[Any, Guard]]]:
    """open_page(user=None, **context_options) -> (page, guard), logged in as `user` when given."""
    contexts: list[Any] = []
    guards: list[Guard] = []

    def open_(
        user: str | None = None, base_url: str | None = None, **options: Any
    ) -> tuple[Any, Guard]:
        url = base_url or server.url
        options.setdefault("viewport", {"width": 1200, "height": 820})
        context = chromium.new_context(**options)
        context.set_default_timeout(20_000)
        contexts.append(context)
        guard = Guard(url)
        guards.append(guard)
        context.add_init_script(GUARD_SCRIPT)

        def route(r: Any) -> None:
            req_url = r.request.url
            if req_url.startswith(url + "/") or req_url == url or req_url.startswith("data:"):
                r.continue_()
            else:
                guard.foreign.append(req_url)
                r.abort()

        context.route("**/*", route)
        if user:
            res = context.request.post(
                url + "/login", data={"username": user, "password": PASSWORD}
            )
            assert res.status == 200, res.text()
        page = context.new_page()
        guard.pages.append(page)
        page.on("dialog", lambda d: (guard.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: guard.errors.append(str(e)))
        return page, guard

    yield open_
    try:
        for g in guards:
            g.check()
    finally:
        for c in contexts:
            c.close()


@pytest.fixture(autouse=True)
def _fresh_upstream(request: pytest.FixtureRequest) -> None:
    if "server" in request.fixturenames:
        request.getfixturevalue("server").upstream.reset()


def shot(page: Any, name: str) -> Path:
    """Save a screenshot under artefacts/screenshots/ (kept for people to look at)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    return path


def goto(page: Any, url: str) -> None:
    """Open the chat page and wait until its first load is done (body.ready)."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator("body.ready")).to_have_count(1, timeout=20_000)
