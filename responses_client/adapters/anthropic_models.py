"""Read Anthropic's model list with the anthropic SDK: `GET /v1/models`, paged (`has_more`,
`first_id`, `last_id`; the SDK follows `after_id`), each ModelInfo as a plain dict.

The client is built here as the Messages adapter builds its own: key, base URL and version
explicit, retries off, the deployment's timeouts, `ANTHROPIC_CUSTOM_HEADERS` taken back out.
A failure is `model_lists.ListingFailed` with a short code, never upstream text. Used by
`responses_client.discovery` only; no SDK object or exception leaves this module.
"""

from __future__ import annotations

import os
from typing import Any

import anthropic
import httpx2

from responses_client.adapters.anthropic_errors import TRANSPORT_ERRORS, error_from_status
from responses_client.adapters.anthropic_messages import API_VERSION, DEFAULT_BASE_URL
from responses_client.adapters.transport import CancellableTransport
from responses_client.events import ResponseRequest
from responses_client.model_lists import MAX_MODELS, ListingFailed, ListTarget, code_for

PAGE_SIZE = 1000  # the API's largest page
_NOTHING = ResponseRequest(model="", input="", instructions=None)  # the classifier's context


def _headers(api_key: str) -> dict[str, Any]:
    # The SDK merges ANTHROPIC_CUSTOM_HEADERS into every request; omit what it would add and set
    # back what it would replace (as the Messages adapter does).
    headers: dict[str, Any] = {}
    raw = os.environ.get("ANTHROPIC_CUSTOM_HEADERS") or ""
    for line in raw.split("\n"):
        if ":" not in line:
            continue
        name = line[: line.find(":")].strip()
        headers[name] = f"Bearer {api_key}" if name.lower() == "authorization" else anthropic.omit
    headers["anthropic-version"] = API_VERSION
    return headers


def build_client(target: ListTarget) -> anthropic.Anthropic:
    """An SDK client for listing: retries off, nothing read from the environment."""
    if not target.api_key:
        raise ListingFailed("upstream_auth")  # without a key the SDK would look for credentials
    timeout = httpx2.Timeout(
        connect=target.connect_timeout, read=target.read_timeout, write=10.0, pool=10.0
    )
    return anthropic.Anthropic(
        api_key=target.api_key,
        base_url=target.base_url or DEFAULT_BASE_URL,
        timeout=timeout,
        max_retries=0,
        http_client=anthropic.DefaultHttpxClient(transport=CancellableTransport(), timeout=timeout),
        default_headers=_headers(target.api_key),
        open_telemetry={"traces": False, "propagation": False},
    )


def list_models(target: ListTarget) -> list[dict[str, Any]]:
    """Every model `target` lists, all pages, as plain dicts."""
    client = build_client(target)
    try:
        items: list[dict[str, Any]] = []
        for model in client.models.list(limit=PAGE_SIZE):
            items.append(model.to_dict())
            if len(items) > MAX_MODELS:
                raise ListingFailed("too_many_models")
        return items
    except anthropic.APIStatusError as exc:
        raise ListingFailed(code_for(error_from_status(exc, _NOTHING))) from None
    except anthropic.APIResponseValidationError:
        raise ListingFailed("bad_response") from None
    except (ValueError, TypeError, AttributeError):
        raise ListingFailed("bad_response") from None
    except TRANSPORT_ERRORS:
        raise ListingFailed("upstream_unavailable") from None
    finally:
        client.close()
