"""Provider adapters over the openai SDK: a request in, neutral events or `ProviderError`s out.

Imports no Flask and touches no files; no openai/httpx2 object or exception leaves this package.
`events` (request, neutral events), `errors` (the ProviderError tree, translation from the SDK's),
`cancel` (CancelToken), `sse` (the raw parser state), `provider` (the interface), `openai_provider`,
`registry` (providers from the environment).
"""

from responses_client.adapters.openai_responses import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_READ_TIMEOUT,
    OpenAIProvider,
)
from responses_client.cancel import CancelToken
from responses_client.errors import (
    QUOTA_CODES,
    RATE_CODES,
    AuthFailed,
    BadRequest,
    ContextTooLong,
    Interrupted,
    PreviousResponseNotFound,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UnknownModel,
    UpstreamFailed,
    UpstreamUnavailable,
)
from responses_client.events import (
    Event,
    Finished,
    Idle,
    ReasoningDelta,
    ResponseRequest,
    ResponseStarted,
    TextDelta,
)
from responses_client.provider import Provider
from responses_client.registry import providers_from_env

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_READ_TIMEOUT",
    "QUOTA_CODES",
    "RATE_CODES",
    "AuthFailed",
    "BadRequest",
    "CancelToken",
    "ContextTooLong",
    "Event",
    "Finished",
    "Idle",
    "Interrupted",
    "OpenAIProvider",
    "PreviousResponseNotFound",
    "Provider",
    "ProviderError",
    "QuotaExceeded",
    "RateLimited",
    "ReasoningDelta",
    "ResponseRequest",
    "ResponseStarted",
    "TextDelta",
    "UnknownModel",
    "UpstreamFailed",
    "UpstreamUnavailable",
    "providers_from_env",
]
