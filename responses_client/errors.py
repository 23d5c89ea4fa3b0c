"""The adapter's errors (root `ProviderError`, data fields only) and their translation from the SDK's.

No upstream message text is kept on them (it can echo a key).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import openai

from responses_client.events import ResponseRequest

QUOTA_CODES = frozenset(
    {"insufficient_quota", "credit_balance_exhausted", "billing_hard_limit_reached"}
)
RATE_CODES = frozenset({"rate_limit_exceeded", "too_many_requests", "rate_limited"})


class ProviderError(Exception):
    """Root of the adapter's errors: data fields only, never upstream message text."""

    code: ClassVar[str] = "upstream_error"
    default_retryable: ClassVar[bool] = True
    safe_message: ClassVar[str] = "The model service returned an error."

    def __init__(
        self,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        upstream_code: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__()
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        self.upstream_code = upstream_code
        self.retryable = self.default_retryable if retryable is None else retryable

    def __str__(self) -> str:
        return self.safe_message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"request_id={self.request_id!r}, retry_after={self.retry_after!r}, "
            f"upstream_code={self.upstream_code!r}, retryable={self.retryable!r})"
        )


class RateLimited(ProviderError):
    """429 from the upstream after the SDK's retries."""

    code = "rate_limited"
    safe_message = "The model service is rate limiting requests; try again shortly."


class UpstreamUnavailable(ProviderError):
    """5xx, timeout or refused connection before the first text."""

    code = "upstream_unavailable"
    safe_message = "The model service is temporarily unavailable."


class Interrupted(ProviderError):
    """The stream dropped, stalled or sent a malformed line mid-answer."""

    code = "interrupted"
    safe_message = "The model's answer was interrupted."


class UpstreamFailed(ProviderError):
    """An `error` event or `response.failed` from the upstream."""

    code = "upstream_error"
    safe_message = "The model service reported an error."


class AuthFailed(ProviderError):
    """401/403: the key or organisation is not accepted."""

    code = "upstream_auth"
    default_retryable = False
    safe_message = "The model service rejected the app's credentials."


class QuotaExceeded(ProviderError):
    """Insufficient quota or credit: retrying does not help."""

    code = "quota_exceeded"
    default_retryable = False
    safe_message = "The model service quota is exhausted."


class ContextTooLong(ProviderError):
    """The input does not fit the model's context window."""

    code = "context_too_long"
    default_retryable = False
    safe_message = "The conversation is too long for this model."


class UnknownModel(ProviderError):
    """404 or `model_not_found`."""

    code = "unknown_model"
    default_retryable = False
    safe_message = "The model is unknown to the model service."


class BadRequest(ProviderError):
    """Another 4xx the upstream refused."""

    code = "bad_request"
    default_retryable = False
    safe_message = "The model service refused the request."


class PreviousResponseNotFound(BadRequest):
    """The `previous_response_id` is unknown, expired or unstored: replay the history instead."""

    safe_message = "The previous response is no longer stored upstream."


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def _from_status(exc: openai.APIStatusError, request: ResponseRequest) -> ProviderError:
    status = exc.status_code
    code = exc.code if isinstance(exc.code, str) else None
    param = exc.param if isinstance(exc.param, str) else None
    body = exc.body if isinstance(exc.body, dict) else {}
    message = str(body.get("message") or "")
    etype = exc.type if isinstance(exc.type, str) else None
    fields: dict[str, Any] = {
        "status": status,
        "request_id": exc.request_id,
        "retry_after": _retry_after(exc.response.headers),
        "upstream_code": code or etype,
    }
    if status == 429:
        if code in QUOTA_CODES or etype in QUOTA_CODES:
            return QuotaExceeded(**fields)
        return RateLimited(**fields)
    if status in (401, 403):
        return AuthFailed(**fields)
    if code == "previous_response_not_found" or param == "previous_response_id":
        return PreviousResponseNotFound(**fields)
    if (
        status == 400
        and request.previous_response_id is not None
        and "previous_response_id" in message
    ):
        return PreviousResponseNotFound(**fields)
    if code == "context_length_exceeded":
        return ContextTooLong(**fields)
    if status == 404 or code == "model_not_found":
        return UnknownModel(**fields)
    if status in (408, 409) or status >= 500:
        return UpstreamUnavailable(**fields)
    return BadRequest(**fields)


def _from_event_code(code: str | None, request_id: str | None) -> ProviderError:
    if code in QUOTA_CODES:
        return QuotaExceeded(upstream_code=code, request_id=request_id)
    if code in RATE_CODES:
        return RateLimited(upstream_code=code, request_id=request_id)
    if code == "context_length_exceeded":
        return ContextTooLong(upstream_code=code, request_id=request_id)
    return UpstreamFailed(upstream_code=code, request_id=request_id)
