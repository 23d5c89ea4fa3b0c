"""The anthropic SDK's exceptions -> `ProviderError`s (imported by the anthropic adapter only).

Classified from the status and the body's `error.type` and `error.details.error_code` (stable
codes), not from the SDK's exception classes (2.15 has a hundred, and they move). The upstream's
message text is read in two cases the API gives no code for (a too-long prompt and a too-low
credit balance, both HTTP 400) but never kept; the header values pass `identifiers.clean_token`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import anthropic
import httpx2

from responses_client.adapters.http_errors import retry_after_from, should_retry_from
from responses_client.errors import (
    AuthFailed,
    BadRequest,
    ContextTooLong,
    PreviousResponseNotFound,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UnknownModel,
    UpstreamUnavailable,
)
from responses_client.events import ResponseRequest
from responses_client.identifiers import clean_token

# What reaching the upstream or reading its answer can raise (status errors are caught before).
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    anthropic.AnthropicError,
    httpx2.HTTPError,
    OSError,
)
# A continue whose thread the server no longer holds, or cannot continue: replay with `create`
# (the SDK's own thread helper replays on exactly these, lib/threads/_thread_state.py).
THREAD_GONE_CODES = frozenset(
    {"thread_not_found", "thread_already_continued", "thread_continue_in_flight"}
)
QUOTA_CODES = frozenset(
    {
        "contract_spend_limit_reached",
        "enforced_spend_limit_reached",
        "linked_organization_spend_limit_reached",
        "linked_organization_billing_unavailable",
    }
)
# `error.type` -> API.md's `cause` for an upstream_unavailable.
CAUSES = {"overloaded_error": "overloaded", "timeout_error": "timeout", "api_error": "server_error"}


def request_id_from(headers: Mapping[str, str] | None, secrets: Iterable[str] = ()) -> str | None:
    """The `request-id` header (Anthropic's `req_…`), kept only when it passes the identifier rule."""
    return clean_token((headers or {}).get("request-id"), secrets)


def _error_fields(body: Any) -> tuple[Any, Any, str]:
    """(error.type, error.details.error_code, error.message) of an error body, each maybe None."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return None, None, ""
    details = err.get("details")
    code = details.get("error_code") if isinstance(details, dict) else None
    message = err.get("message")
    return err.get("type"), code, message if isinstance(message, str) else ""


def error_from_status(
    exc: anthropic.APIStatusError,
    request: ResponseRequest,
    secrets: Iterable[str] = (),
    *,
    continuing: bool = False,
) -> ProviderError:
    """Classify a non-2xx answer: the body's codes first, then the status.

    `continuing`: the request continued a message thread (then a 404 is the thread gone).
    """
    secrets = tuple(secrets)
    status = exc.status_code
    raw_type, raw_code, message = _error_fields(exc.body)
    etype = clean_token(raw_type, secrets)
    code = clean_token(raw_code, secrets)
    headers = exc.response.headers
    body = exc.body if isinstance(exc.body, dict) else {}
    fields: dict[str, Any] = {
        "status": status,
        "request_id": request_id_from(headers, secrets)
        or clean_token(body.get("request_id"), secrets),
        "retry_after": retry_after_from(headers),
        "should_retry": should_retry_from(headers),
        "upstream_code": code or etype,
    }
    lowered = message.lower()
    if code in THREAD_GONE_CODES or (status == 404 and continuing):
        # A continue on an expired thread (the API says 404): replay the history (API.md rule 3).
        return PreviousResponseNotFound(**fields)
    if code in QUOTA_CODES or etype == "billing_error" or status == 402:
        return QuotaExceeded(**fields)
    if status == 400 and "credit balance" in lowered:
        return QuotaExceeded(**fields)  # Anthropic's "credit balance is too low" is a plain 400
    if status == 413 or etype == "request_too_large":
        return ContextTooLong(**fields)
    if status == 400 and "prompt is too long" in lowered:
        return ContextTooLong(**fields)
    if status in (401, 403) or etype in ("authentication_error", "permission_error"):
        return AuthFailed(**fields)
    if status == 429 or etype == "rate_limit_error":
        return RateLimited(**fields)
    if status == 404:
        return UnknownModel(**fields)
    if status == 529 or etype == "overloaded_error":
        return UpstreamUnavailable(cause="overloaded", **fields)
    if status in (408, 504):
        return UpstreamUnavailable(cause="timeout", **fields)
    if status == 409 or status >= 500:
        return UpstreamUnavailable(cause=CAUSES.get(etype or "", "server_error"), **fields)
    return BadRequest(**fields)
