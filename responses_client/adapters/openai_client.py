"""The openai SDK client the openai adapters use: explicit settings only, nothing from the environment.

openai 3.57 reads `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID` and `OPENAI_CUSTOM_HEADERS` even when the key
and base URL are passed, sends them to whatever host the base URL names (DeepSeek, xAI, a local
server), and an `Authorization:` line in `OPENAI_CUSTOM_HEADERS` replaces the key given. So the
client gets its `Authorization` explicitly and a request hook drops every header the SDK itself
does not set. Its transport is `transport.CancellableTransport` (a CancelToken stops every stage)
and its retries are off. Imported by the `openai_*` adapters only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx2
import openai

from responses_client.adapters.transport import CancellableTransport

# The headers the SDK itself sets (besides `x-stainless-*`); anything else came from the environment.
SDK_HEADERS = frozenset(
    {
        "host",
        "accept",
        "accept-encoding",
        "connection",
        "content-type",
        "content-length",
        "user-agent",
        "authorization",
        "idempotency-key",
    }
)


def only_headers(allowed: frozenset[str]) -> Callable[[httpx2.Request], None]:
    """An httpx2 request hook dropping every header not in `allowed` (lower-case) or `x-stainless-*`."""

    def hook(request: httpx2.Request) -> None:
        for name in list(request.headers.keys()):
            low = name.lower()
            if low not in allowed and not low.startswith("x-stainless-"):
                del request.headers[name]

    return hook


def isolated_client(
    api_key: str,
    *,
    base_url: str | None,
    connect_timeout: float,
    read_timeout: float,
    headers: Mapping[str, str] | None = None,
) -> openai.OpenAI:
    """An `openai.OpenAI` over the cancellable transport, retries off, deaf to the environment.

    `base_url` None means OpenAI's own (`https://api.openai.com/v1`), never `OPENAI_BASE_URL`;
    `headers` are further headers the operator wants sent (e.g. OpenRouter's attribution).
    """
    extra = dict(headers or {})
    allowed = SDK_HEADERS | {k.lower() for k in extra}
    timeout = openai.Timeout(connect=connect_timeout, read=read_timeout, write=10.0, pool=10.0)
    http_client = openai.DefaultHttpxClient(
        transport=CancellableTransport(),
        timeout=timeout,
        event_hooks={"request": [only_headers(allowed)]},
    )
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url or "https://api.openai.com/v1",
        timeout=timeout,
        max_retries=0,  # always: retries are the app's (RetryPolicy), and a stop ends them
        # Explicit, so an `Authorization` line in OPENAI_CUSTOM_HEADERS cannot replace the key.
        default_headers={"Authorization": f"Bearer {api_key}", **extra},
        http_client=http_client,
    )
