"""The openai SDK's exceptions -> `ProviderError`s, most specific first (imported by the openai adapters only).

Only codes and header values pass, through `identifiers.clean_token` with the adapter's secrets;
the upstream's message text is read (to recognise a stale `previous_response_id`) but never kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx2
import openai

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
from responses_client.responses_events import QUOTA_CODES

AUTH_CODES = frozenset({"invalid_api_key", "incorrect_api_key", "invalid_authentication"})
# How a 400 says "bad key" where no code does (xAI: `{"code": "Client specified an invalid
# argument", "error": "Incorrect API key provided: xa***…"}`); read, never kept.
BAD_KEY_WORDS = ("incorrect api key", "invalid api key")
# The `cause` of an `upstream_unavailable` by status (API.md `error` frame).
STATUS_CAUSES = {408: "timeout", 503: "overloaded", 504: "timeout", 529: "overloaded"}
# What reaching the upstream or reading its answer can raise (status errors are caught before).
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (openai.OpenAIError, httpx2.HTTPError, OSError)


def request_id_from(headers: Mapping[str, str] | None, secrets: Iterable[str] = ()) -> str | None:
    """The `x-request-id` header, kept only when it passes the identifier rule."""
    return clean_token((headers or {}).get("x-request-id"), secrets)


def error_from_status(
    exc: openai.APIStatusError, request: ResponseRequest, secrets: Iterable[str] = ()
) -> ProviderError:
    """Classify a non-2xx answer: the body's code first, then the status."""
    secrets = tuple(secrets)
    status = exc.status_code
    code = clean_token(exc.code, secrets)
    etype = clean_token(exc.type, secrets)
    param = exc.param if isinstance(exc.param, str) else None
    body = exc.body if isinstance(exc.body, dict) else {}
    message = str(body.get("message") or "")
    headers = exc.response.headers
    fields: dict[str, Any] = {
        "status": status,
        "request_id": request_id_from(headers, secrets),
        "retry_after": retry_after_from(headers),
        "should_retry": should_retry_from(headers),
        "upstream_code": code or etype,
    }
    if code in QUOTA_CODES or etype in QUOTA_CODES:
        return QuotaExceeded(**fields)
    if code == "previous_response_not_found" or param == "previous_response_id":
        return PreviousResponseNotFound(**fields)
    if (
        status == 400
        and request.previous_response_id is not None
        and "previous_response_id" in message
    ):
        return PreviousResponseNotFound(**fields)
    raw_text = exc.body if isinstance(exc.body, str) else message
    chain = request.previous_response_id
    if status in (400, 404) and chain and len(chain) >= 8 and chain in raw_text:
        # The refusal names the chain id (xAI's flat `{"code", "error": "<text>"}` body has no
        # param): the stored response is gone, whatever the wording.
        return PreviousResponseNotFound(**fields)
    if code == "context_length_exceeded":
        return ContextTooLong(**fields)
    if code == "model_not_found":
        return UnknownModel(**fields)
    if status in (401, 403) or code in AUTH_CODES:
        return AuthFailed(**fields)
    text = raw_text.lower()
    if status == 400 and any(words in text for words in BAD_KEY_WORDS):
        return AuthFailed(**fields)
    if status == 402:  # DeepSeek's insufficient balance, OpenRouter's insufficient credits
        return QuotaExceeded(**fields)
    if status == 429:
        return RateLimited(**fields)
    if status == 404:
        return UnknownModel(**fields)
    if status in (408, 409) or status >= 500:
        return UpstreamUnavailable(**fields, cause=STATUS_CAUSES.get(status, "server_error"))
    return BadRequest(**fields)
