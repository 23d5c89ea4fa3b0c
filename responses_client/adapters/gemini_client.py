"""The google-genai SDK client the Gemini adapters share, built so nothing is read from the environment.

Everything is passed explicitly (key, base URL, API version, `vertexai=False`, an empty debug
config, retries off), so `GOOGLE_API_KEY`, `GEMINI_API_KEY`, `GOOGLE_GEMINI_BASE_URL`,
`GOOGLE_GENAI_API_VERSION`, `GOOGLE_GENAI_USE_VERTEXAI`, `GOOGLE_GENAI_CLIENT_MODE` and the like
change nothing. The SDK runs over an httpx2 client on `CancellableTransport`; an httpx2 request
hook sets the adapter's own timeouts (the SDK sends `timeout=None` per request, which would turn
the client's off) and a response hook records each response so the adapter can close it at any
stage. Imported by the gemini adapters only; no SDK object leaves them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import httpx2
from google import genai
from google.genai import types

from responses_client.adapters.transport import CancellableTransport, cancel_scope
from responses_client.cancel import CancelToken

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"
DEFAULT_API_VERSION = "v1beta"  # the SDK's own default is "v1" (checked in 3.6.1)

# The responses opened by the SDK call running in this context (one list per `call_scope`).
_opened: ContextVar[list[httpx2.Response] | None] = ContextVar("gemini_opened", default=None)


class _Silent:
    """A debug logger that logs nothing (the Interactions SDK would log headers, the key among them)."""

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        """Drop the message."""


@contextlib.contextmanager
def call_scope(token: CancelToken, opened: list[httpx2.Response]) -> Iterator[None]:
    """Run one SDK step so `token` can stop its socket and its responses land in `opened`."""
    reset = _opened.set(opened)
    try:
        with cancel_scope(token):
            yield
    finally:
        _opened.reset(reset)


def close_all(opened: list[httpx2.Response]) -> None:
    """Close every response the SDK opened (an unread body closes its connection, never pools it)."""
    while opened:
        with contextlib.suppress(Exception):
            opened.pop().close()


def _record(response: httpx2.Response) -> None:
    opened = _opened.get()
    if opened is not None:
        opened.append(response)


def build_client(
    api_key: str,
    *,
    base_url: str | None,
    api_version: str,
    connect_timeout: float,
    read_timeout: float,
) -> tuple[genai.Client, httpx2.Client]:
    """The SDK client (retries off, nothing from the environment) and the httpx2 client under it."""
    if not api_key:
        # An empty key would make the SDK fall back to GOOGLE_API_KEY / GEMINI_API_KEY.
        raise ValueError("a Gemini provider needs an API key")
    timeout = httpx2.Timeout(connect=connect_timeout, read=read_timeout, write=10.0, pool=10.0)
    timeouts = timeout.as_dict()

    def set_timeouts(request: httpx2.Request) -> None:
        request.extensions["timeout"] = timeouts

    http = httpx2.Client(
        transport=CancellableTransport(),
        timeout=timeout,
        trust_env=False,  # no proxies or .netrc from the environment
        event_hooks={"request": [set_timeouts], "response": [_record]},
    )
    # Unused (the adapters are synchronous), given so the SDK builds no client of its own from
    # SSL_CERT_FILE and friends.
    unused_async = httpx2.AsyncClient(trust_env=False)
    options = types.HttpOptions(
        base_url=base_url
        or DEFAULT_BASE_URL,  # never None: the SDK would read GOOGLE_GEMINI_BASE_URL
        api_version=api_version,
        httpx_client=http,
        httpx_async_client=unused_async,
        retry_options=types.HttpRetryOptions(attempts=1),  # generateContent and Interactions alike
    )
    try:
        client = genai.Client(
            api_key=api_key,
            vertexai=False,
            debug_config=genai.client.DebugConfig(
                client_mode=None, replays_directory=None, replay_id=None
            ),
            http_options=options,
        )
    except ImportError:
        # The one variable the SDK reads whatever it is given: GOOGLE_GENAI_HTTP_CLIENT=httpx
        # (httpx is not installed; the adapter runs over httpx2). A start error that says so.
        http.close()
        raise ValueError("GOOGLE_GENAI_HTTP_CLIENT must be unset or httpx2") from None
    return client, http


def interactions_of(client: genai.Client) -> Any:
    """The client's Interactions resource, with the SDK's debug logger silenced."""
    resource = client.interactions
    config = getattr(resource, "sdk_configuration", None)
    if config is not None and hasattr(config, "debug_logger"):
        config.debug_logger = _Silent()
    return resource
