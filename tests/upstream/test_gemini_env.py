"""The google-genai SDK reads nothing from the environment through the Gemini adapter.

`GOOGLE_API_KEY`, `GEMINI_API_KEY`, `GOOGLE_GEMINI_BASE_URL`, `GOOGLE_GENAI_API_VERSION`,
`GOOGLE_GENAI_USE_VERTEXAI` and the rest are set to values that would send the request
elsewhere, with another key, another version or through a proxy: the request still reaches the
fake with the configured key on v1beta, for both surfaces.
"""

from __future__ import annotations

import importlib.util
import logging
import socket

import pytest

from responses_client.adapters.gemini import GeminiProvider
from responses_client.events import Finished, ResponseRequest
from tests.fakes.gemini import FakeGemini, fake_gemini  # noqa: F401

KEY = "AIzaSyTEST-SENTINEL-0123456789abcdefXYZ"


def _dead_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def hostile_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variable the SDK (and its Interactions client, and httpx2) would read."""
    dead = _dead_url()
    for name, value in {
        "GOOGLE_API_KEY": "AIzaSyENV-GOOGLE-KEY-0000000000000000",
        "GEMINI_API_KEY": "AIzaSyENV-GEMINI-KEY-0000000000000000",
        "GOOGLE_GENAI_API_KEY": "AIzaSyENV-GENAI-KEY-00000000000000000",
        "GOOGLE_GENAI_ACCESS_TOKEN": "ya29.env-token",
        "GOOGLE_GENAI_DEFAULT_HEADERS": '{"x-env": "1"}',
        "GOOGLE_GEMINI_BASE_URL": dead,
        "GOOGLE_VERTEX_BASE_URL": dead,
        "GOOGLE_GENAI_API_VERSION": "v1alpha",
        "GOOGLE_GENAI_USE_VERTEXAI": "true",
        "GOOGLE_GENAI_USE_ENTERPRISE": "true",
        "GOOGLE_CLOUD_PROJECT": "env-project",
        "GOOGLE_CLOUD_LOCATION": "us-central1",
        "GOOGLE_GENAI_CLIENT_MODE": "replay",
        "GOOGLE_GENAI_REPLAYS_DIRECTORY": "/nonexistent",
        "GOOGLE_GENAI_REPLAY_ID": "env-replay",
        "GOOGLE_GENAI_HTTP_CLIENT": "httpx2",
        "GOOGLE_GENAI_DEBUG": "1",
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "ALL_PROXY": dead,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


@pytest.mark.usefixtures("hostile_env")
@pytest.mark.parametrize("stateful", [False, True], ids=["generate", "interactions"])
def test_environment_changes_nothing(
    fake_gemini: FakeGemini,  # noqa: F811
    stateful: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    p = GeminiProvider(KEY, base_url=fake_gemini.base_url, stateful=stateful)
    try:
        with caplog.at_level(logging.DEBUG):
            events = list(
                p.stream(ResponseRequest(model="gemini-3.5-flash", input="hi", instructions=None))
            )
    finally:
        p.close()
    assert isinstance(events[-1], Finished) and events[-1].status == "completed"
    rec = fake_gemini.last()
    assert rec.path.startswith("/v1beta/")
    assert rec.headers["x-goog-api-key"] == KEY
    assert "authorization" not in rec.headers and "x-env" not in rec.headers
    assert KEY not in caplog.text  # the SDK's debug logging never shows the key


@pytest.mark.usefixtures("hostile_env")
def test_default_base_url_is_google_not_the_environment() -> None:
    p = GeminiProvider(KEY)
    try:
        # Read from the SDK client (no request: there is no network here).
        base = p._client._api_client._http_options.base_url
    finally:
        p.close()
    assert base == "https://generativelanguage.googleapis.com/"


@pytest.mark.usefixtures("hostile_env")
def test_an_empty_key_is_refused_not_taken_from_the_environment() -> None:
    with pytest.raises(ValueError, match="API key"):
        GeminiProvider("")


def test_an_http_client_switch_the_sdk_cannot_honour_is_a_clear_start_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # google-genai reads GOOGLE_GENAI_HTTP_CLIENT even when it is given a client; "httpx" (not
    # installed) would be an ImportError: the adapter says what to change instead.
    if importlib.util.find_spec("httpx") is not None:
        pytest.skip("httpx is installed: the SDK then builds unused httpx clients, harmlessly")
    monkeypatch.setenv("GOOGLE_GENAI_HTTP_CLIENT", "httpx")
    with pytest.raises(ValueError, match="GOOGLE_GENAI_HTTP_CLIENT"):
        GeminiProvider(KEY)
