"""The anthropic SDK client the Anthropic adapters use: explicit settings only, nothing from the
environment.

anthropic 2.x merges `ANTHROPIC_CUSTOM_HEADERS` ("Name: value" lines) into every request whatever
the caller passes; `default_headers` takes each such header back out (an `Authorization:` line is
set back to the key given) and pins the API version. `build_client` passes the key and base URL
explicitly (so `ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`, `ANTHROPIC_BASE_URL` are never read),
runs over `transport.CancellableTransport`, with retries and telemetry off. Imported by the
`anthropic_*` adapter modules only (the Messages adapter and the model list).
"""

from __future__ import annotations

import os
from typing import Any

import anthropic
import httpx2

from responses_client.adapters.transport import CancellableTransport

DEFAULT_BASE_URL = "https://api.anthropic.com"  # a root: the SDK adds /v1/messages
API_VERSION = "2026-10-21"  # the version anthropic 2.x speaks (providers.md §1.1)


def env_header_names() -> tuple[str, ...]:
    """The header names `ANTHROPIC_CUSTOM_HEADERS` would add (the SDK's own parse of it)."""
    raw = os.environ.get("ANTHROPIC_CUSTOM_HEADERS")
    if not raw:
        return ()
    return tuple(line[: line.find(":")].strip() for line in raw.split("\n") if ":" in line)


def default_headers(api_key: str) -> dict[str, Any]:
    """The client's default headers: every header the environment would add omitted, one it
    would replace set back (`Authorization` to this key), and the API version pinned."""
    headers: dict[str, Any] = {}
    for header in env_header_names():
        headers[header] = (
            f"Bearer {api_key}" if header.lower() == "authorization" else anthropic.omit
        )
    headers["anthropic-version"] = API_VERSION
    return headers


def build_client(
    api_key: str, base_url: str | None, *, connect_timeout: float, read_timeout: float
) -> anthropic.Anthropic:
    """An SDK client for `base_url` (None: Anthropic's own): the key explicit, retries off."""
    timeout = httpx2.Timeout(connect=connect_timeout, read=read_timeout, write=10.0, pool=10.0)
    return anthropic.Anthropic(
        api_key=api_key,  # explicit: the SDK then reads no credential from the environment
        base_url=base_url or DEFAULT_BASE_URL,  # explicit: ANTHROPIC_BASE_URL is not read
        timeout=timeout,
        max_retries=0,  # always: retries are the app's (RetryPolicy), and a stop ends them
        http_client=anthropic.DefaultHttpxClient(transport=CancellableTransport(), timeout=timeout),
        default_headers=default_headers(api_key),
        open_telemetry={"traces": False, "propagation": False},  # whatever the environment
    )
