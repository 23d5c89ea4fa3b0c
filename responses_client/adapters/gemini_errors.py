"""Gemini's error answers -> `ProviderError`s, for generateContent and Interactions alike.

Works on plain data (HTTP status, the parsed error body, the headers), so both SDK surfaces
(`google.genai.errors.APIError` and the Interactions client's own error classes, which are not
subclasses of it) map the same way. Only codes and header values are kept, through
`identifiers.clean_token`; the message text is read (to recognise an over-long input) but never
kept. Imported by the gemini adapters only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from responses_client.adapters.http_errors import retry_after_from
from responses_client.errors import (
    AuthFailed,
    BadRequest,
    ContextTooLong,
    PreviousResponseNotFound,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UnknownModel,
    UpstreamFailed,
    UpstreamUnavailable,
)
from responses_client.identifiers import clean_token

# google.rpc.ErrorInfo reasons that mean "the key is not accepted" (sent with HTTP 400).
AUTH_REASONS = frozenset(
    {"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED", "ACCESS_TOKEN_EXPIRED"}
)
AUTH_STATUSES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})
QUOTA_REASONS = frozenset({"BILLING_DISABLED", "INSUFFICIENT_BALANCE", "PREPAYMENT_DEPLETED"})
RATE_CODES = frozenset({"RESOURCE_EXHAUSTED", "resource_exhausted", "rate_limit_exceeded"})
# What the message says when the input does not fit (read, never kept).
_TOO_LONG = re.compile(r"token count.*exceeds|exceeds the maximum number of tokens|too long", re.I)
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")
REQUEST_ID_HEADERS = ("x-request-id", "x-goog-request-id")


def request_id_from(headers: Mapping[str, str] | None, secrets: Iterable[str] = ()) -> str | None:
    """The request-id header (`x-request-id`, else `x-goog-request-id`), cleaned."""
    if not headers:
        return None
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return clean_token(value, secrets)
    return None


def _inner(body: Any) -> dict[str, Any]:
    """The error object of a body `{"error": {...}}` (or the body itself, or {})."""
    if not isinstance(body, dict):
        return {}
    inner = body.get("error")
    return inner if isinstance(inner, dict) else body


def _details(body: Any) -> tuple[str | None, list[dict[str, Any]], str]:
    """(status, details, message) of a Google error body `{"error": {...}}` (or its inner dict)."""
    inner = _inner(body)
    status = inner.get("status")
    details = [d for d in inner.get("details") or () if isinstance(d, dict)]
    message = inner.get("message")
    return (
        status if isinstance(status, str) else None,
        details,
        message if isinstance(message, str) else "",
    )


def error_code_of(body: Any) -> str | None:
    """The error's own code: an Interactions string code (`not_found`), else None."""
    code = _inner(body).get("code")
    return code if isinstance(code, str) else None


def _reason(details: list[dict[str, Any]]) -> str | None:
    for d in details:
        if str(d.get("@type", "")).endswith("google.rpc.ErrorInfo") and isinstance(
            d.get("reason"), str
        ):
            return str(d["reason"])
    return None


def retry_delay_from(details: list[dict[str, Any]]) -> float | None:
    """Seconds to wait from a `google.rpc.RetryInfo` detail (`"12s"`), when the headers say none."""
    for d in details:
        if str(d.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DELAY.match(str(d.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _retry_after(headers: Mapping[str, str] | None, details: list[dict[str, Any]]) -> float | None:
    value = retry_after_from(headers)  # the headers first (a 0 says "now"), then RetryInfo
    return value if value is not None else retry_delay_from(details)


def error_from_status(
    status: int,
    body: Any,
    headers: Mapping[str, str] | None,
    *,
    chained: bool = False,
    secrets: Iterable[str] = (),
) -> ProviderError:
    """Classify a non-200 answer; `chained`: the request named a previous interaction."""
    secrets = tuple(secrets)
    gstatus, details, message = _details(body)
    reason = _reason(details)
    code = error_code_of(body)
    fields: dict[str, Any] = {
        "status": status,
        "request_id": request_id_from(headers, secrets),
        "retry_after": _retry_after(headers, details),
        "upstream_code": clean_token(reason or gstatus or code, secrets),
    }
    if reason in AUTH_REASONS or status in (401, 403) or gstatus in AUTH_STATUSES:
        return AuthFailed(**fields)
    if reason in QUOTA_REASONS or status == 402:
        return QuotaExceeded(**fields)
    if status == 429:
        return RateLimited(**fields)
    if status == 404:
        if chained:
            return PreviousResponseNotFound(**fields)
        return UnknownModel(**fields)
    if status == 400 and _TOO_LONG.search(message):
        return ContextTooLong(**fields)
    if status >= 500 or status in (408, 409):
        cause = {503: "overloaded", 504: "timeout", 408: "timeout"}.get(status, "server_error")
        return UpstreamUnavailable(cause=cause, **fields)
    return BadRequest(**fields)


def error_after_200(
    status: int | None,
    body: Any,
    request_id: str | None,
    *,
    secrets: Iterable[str] = (),
) -> ProviderError:
    """An error chunk inside a generateContent stream the upstream had accepted (HTTP 200)."""
    secrets = tuple(secrets)
    gstatus, details, message = _details(body)
    code = error_code_of(body)
    raw = _reason(details) or gstatus or code
    fields: dict[str, Any] = {
        "status": None,
        "request_id": request_id,
        "upstream_code": clean_token(raw, secrets),
    }
    if status == 429 or raw in RATE_CODES:
        return RateLimited(retry_after=retry_delay_from(details), **fields)
    if status == 400 and _TOO_LONG.search(message):
        return ContextTooLong(**fields)
    return UpstreamFailed(**fields)
