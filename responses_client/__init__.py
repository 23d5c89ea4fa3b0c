"""The provider layer: a request in, neutral events or `ProviderError`s out, whatever the service.

Imports no Flask; the only files it reads are the providers file (`configure`) and the model-list
cache it writes on a refresh (`model_cache`); no SDK object or exception leaves this package.
`events` (request, neutral events), `errors` (the ProviderError tree, SDK-free), `identifiers` (the
rule for upstream strings), `cancel` (CancelToken), `capabilities` (what a provider takes, checked
before a call), `provider` (the Protocol), `retry` (the app's retry policy), `sse` (the layered SSE
parser), `responses_events` (the Responses API's state machine), `registry` (the providers, their
models, defaults and fallback), `configure` (building it from the environment and the providers
file: `providers_file`, `toml_lines`, `toml_checks`), `catalog` (built-in model facts), `pricing`
(honest cost), `discovery` (reading the providers' model lists on a refresh: `model_lists` the
shapes, `model_cache` the cache file), the raw parsers `chat_events`, `anthropic_events`,
`gemini_events`; `adapters/` holds one module per SDK (`openai_*`, `anthropic_*`, `gemini*`), the
shared cancellable `transport` and the in-process fake.
"""

from responses_client.adapters.fake import FakeProvider
from responses_client.adapters.http_errors import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
from responses_client.adapters.openai_responses import OpenAIProvider
from responses_client.cancel import CancelToken
from responses_client.capabilities import Capabilities, check_request, estimate_input_tokens
from responses_client.configure import ConfigError, ProvidersFileError, build_registry
from responses_client.errors import (
    AuthFailed,
    BadRequest,
    ContentBlocked,
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
from responses_client.identifiers import clean_token
from responses_client.provider import Provider
from responses_client.registry import (
    ModelInfo,
    ModelRef,
    ProviderRegistry,
    ProviderSettings,
    split_ref,
)
from responses_client.responses_events import QUOTA_CODES, RATE_CODES
from responses_client.retry import RetryPolicy, stream_with_retries

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "QUOTA_CODES",
    "RATE_CODES",
    "AuthFailed",
    "BadRequest",
    "CancelToken",
    "Capabilities",
    "ConfigError",
    "ContentBlocked",
    "ContextTooLong",
    "Event",
    "FakeProvider",
    "Finished",
    "Idle",
    "Interrupted",
    "ModelInfo",
    "ModelRef",
    "OpenAIProvider",
    "PreviousResponseNotFound",
    "Provider",
    "ProviderError",
    "ProviderRegistry",
    "ProviderSettings",
    "ProvidersFileError",
    "QuotaExceeded",
    "RateLimited",
    "ReasoningDelta",
    "ResponseRequest",
    "ResponseStarted",
    "RetryPolicy",
    "TextDelta",
    "UnknownModel",
    "UpstreamFailed",
    "UpstreamUnavailable",
    "build_registry",
    "check_request",
    "clean_token",
    "estimate_input_tokens",
    "split_ref",
    "stream_with_retries",
]
