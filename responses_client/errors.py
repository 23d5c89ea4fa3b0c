"""The provider errors: root `ProviderError`, data fields only, the same for every adapter.

Imports no SDK: each adapter translates its SDK's exceptions into these (most specific first).
No upstream message text is kept on them (it can echo a key); the string fields pass the
identifier rule (`identifiers.clean_token`).
"""

from __future__ import annotations

from typing import ClassVar

from responses_client.identifiers import clean_token

CAUSES = frozenset({"server_error", "timeout", "unreachable", "overloaded"})


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
        should_retry: bool | None = None,
        cause: str | None = None,
    ) -> None:
        super().__init__()
        self.status = status
        # The adapter has already redacted its secrets; this is the pattern rule once more, so an
        # error built anywhere never carries upstream text.
        self.request_id = clean_token(request_id)
        self.retry_after = retry_after
        self.upstream_code = clean_token(upstream_code)
        self.retryable = self.default_retryable if retryable is None else retryable
        # The upstream's `x-should-retry` header: False forbids a retry, None says nothing.
        self.should_retry = should_retry
        # What lies behind an `upstream_unavailable` (API.md's `cause`, so the page can word it):
        # `server_error`, `timeout`, `unreachable` or `overloaded`; None when unknown.
        self.cause = cause if cause in CAUSES else None

    def __str__(self) -> str:
        return self.safe_message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"request_id={self.request_id!r}, retry_after={self.retry_after!r}, "
            f"upstream_code={self.upstream_code!r}, retryable={self.retryable!r}, "
            f"should_retry={self.should_retry!r}, cause={self.cause!r})"
        )


class RateLimited(ProviderError):
    """429 (or a rate-limit error event): the app's retry policy may try again."""

    code = "rate_limited"
    safe_message = "The model service is rate limiting requests; try again shortly."


class UpstreamUnavailable(ProviderError):
    """5xx, timeout or refused connection before the first text."""

    code = "upstream_unavailable"
    safe_message = "The model service is temporarily unavailable."


class ContentBlocked(ProviderError):
    """The provider refused the prompt before any output (a Gemini `promptFeedback.blockReason`)."""

    code = "content_blocked"
    default_retryable = False
    safe_message = "The model service refused this request's content."


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
