"""Shared fixtures: the real app on a temporary data dir, talking to the fake upstream on 127.0.0.1."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.fake_upstream import FakeUpstream, running

SENTINEL_KEY = "sk-test-SENTINEL-4f9c2a7e1b3d5f60"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real provider: drop every key and base URL from the environment."""
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name.endswith("_BASE_URL") or name.startswith("CHAT_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    yield from running()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def make_app(data_dir: Path, upstream: FakeUpstream) -> Callable[..., Any]:
    from app import create_app

    def make(**overrides: Any) -> Any:
        config = {
            "TESTING": True,
            "CHAT_DATA_DIR": str(data_dir),
            "OPENAI_API_KEY": SENTINEL_KEY,
            "OPENAI_BASE_URL": upstream.base_url,
            "SECRET_KEY": "test-secret-key-" + "x" * 32,
            "CHAT_UPSTREAM_READ_TIMEOUT": 3.0,
            "CHAT_UPSTREAM_MAX_RETRIES": 2,
            "CHAT_KEEPALIVE_SECONDS": 15.0,
            "CHAT_TURNS_PER_MINUTE": 1000,
            "CHAT_CONCURRENT_TURNS": 100,
        }
        config.update(overrides)
        return create_app(config)

    return make


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    return make_app()


def login(client: Any, app: Any, user: str = "alice") -> Any:
    accounts = app.extensions["accounts"]
    if user not in accounts.list_users():
        accounts.create_user(user, PASSWORD)
    response = client.post("/login", json={"username": user, "password": PASSWORD})
    assert response.status_code == 200, response.data
    return client


@pytest.fixture
def client(app: Any) -> Any:
    return login(app.test_client(), app)


@dataclass
class Frame:
    event: str
    id: str | None
    data: dict[str, Any]


def parse_sse(raw: bytes) -> list[Frame]:
    """Split an SSE body into frames; comments (keep-alives) are dropped, the rest must be exact."""
    frames = []
    for block in raw.decode().split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        fields: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(": ")
            assert name in ("event", "id", "data"), f"unexpected SSE line {line!r}"
            assert name not in fields, f"repeated field in {block!r}"
            fields[name] = value
        frames.append(Frame(fields["event"], fields.get("id"), json.loads(fields["data"])))
    return frames


def chat(client: Any, **body: Any) -> list[Frame]:
    """POST /chat and return its frames (the stream is read to its end)."""
    response = client.post("/chat", json=body)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/event-stream"
    return parse_sse(response.data)


def reply_text(frames: list[Frame]) -> str:
    return "".join(f.data["text"] for f in frames if f.event == "delta")


def stored(data_dir: Path, user: str, conversation_id: str) -> dict[str, Any]:
    return json.loads((data_dir / user / f"{conversation_id}.json").read_text())


@dataclass
class LiveServer:
    url: str
    app: Any


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    """The app behind a real threaded HTTP server on 127.0.0.1, for browsers that go away."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(5)
