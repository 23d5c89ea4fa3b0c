"""The Anthropic Messages API adapter over the anthropic SDK: SDK calls in, neutral events out.

One upstream request per `stream()` (the SDK's retries are off; the app's policy is
`responses_client.retry`). The SDK runs over an httpx2 client on `transport.CancellableTransport`
(the SDK refuses `httpx` objects), so the turn's CancelToken stops the request while connecting,
waiting for the headers or streaming. The raw stream is read with `responses_client.sse` and
`responses_client.anthropic_events` (not the SDK's typed events: the relay's CPU budget). With
`stateful=True` replies chain through message threads (beta `message-threads-2026-08-12`): the
reply's `msg_…` id is the chain id, a continue sends only the new messages and no `system` (the
thread keeps it), and a thread the server no longer holds is `PreviousResponseNotFound`.

Never sent: `temperature`, `top_p`, `top_k` (refused with 400 under anthropic-version
2026-10-21), nor anything the environment says (the key, base URL, version and headers are
this module's). No anthropic/httpx2 object or exception leaves this module.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import anthropic

from responses_client import parts
from responses_client.adapters.anthropic_client import (
    DEFAULT_BASE_URL,
    build_client,
)
from responses_client.adapters.anthropic_errors import (
    TRANSPORT_ERRORS,
    error_from_status,
    request_id_from,
)
from responses_client.adapters.http_errors import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    error_from_transport,
    log_provider_error,
)
from responses_client.adapters.raw_relay import relay_raw
from responses_client.adapters.transport import cancel_scope
from responses_client.anthropic_events import AnthropicState
from responses_client.cancel import CancelToken
from responses_client.capabilities import Capabilities, check_request
from responses_client.errors import ProviderError
from responses_client.events import Event, ResponseRequest

logger = logging.getLogger("responses_client")  # one logger name for the whole package

THREADS_BETA = "message-threads-2026-08-12"
DEFAULT_MAX_TOKENS = 8192
MIN_THINKING_BUDGET = 1024  # the API's floor for a manual thinking budget
# Never sent, even from the operator's provider options: the 2026-10-21 API refuses them (400).
REFUSED_FIELDS = frozenset({"temperature", "top_p", "top_k"})
# Fields this adapter sets itself: provider options cannot replace them.
OWN_FIELDS = frozenset({"model", "messages", "max_tokens", "stream", "system", "thread"})
# API.md's reasoning efforts -> output_config.effort (Anthropic has no "minimal").
EFFORTS = {e: e for e in ("low", "medium", "high", "xhigh", "max")} | {"minimal": "low"}
# Models before Claude 4.6 take a thinking budget (`enabled`), later ones `adaptive` only.
_BUDGET_THINKING = re.compile(
    r"^claude-(?:3(?:-|$)|(?:opus|sonnet|haiku)-4(?:-[0-5](?:-|$)|-\d{8}|$))"
)
# The Claude 5.5 family thinks (adaptive) by default; Sonnet 5.5 is switched off another way.
_THINKS_BY_DEFAULT = re.compile(r"^claude-(?:opus|sonnet|haiku)-5-5(?:-|$)")
_SONNET_5_5 = re.compile(r"^claude-sonnet-5-5(?:-|$)")
_RATE_HEADERS = (
    ("anthropic-ratelimit-requests-remaining", "ratelimit_remaining_requests"),
    ("anthropic-ratelimit-tokens-remaining", "ratelimit_remaining_tokens"),
)


def messages_from(value: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The request's input as Messages turns, empty turns left out (the API refuses them).

    A user turn's neutral parts become `text` and base64 `image` blocks; an assistant turn's,
    plain text.
    """
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    out: list[dict[str, Any]] = []
    for turn in value:
        role = "assistant" if turn.get("role") == "assistant" else "user"
        content = parts.content_for(role, turn.get("content"), parts.ANTHROPIC)
        if not isinstance(content, (str, list)) or not content:
            continue
        out.append({"role": role, "content": content})
    return out


class AnthropicProvider:
    """Anthropic's Messages API, or any server speaking it at `base_url` (a root URL).

    `max_tokens` is always sent: the smallest known of the user's option, the request's cap and
    the model's output limit (`output_limit(model)`, e.g. from the registry, else
    `capabilities.max_output_tokens`), else `default_max_tokens`. The operator's request fields from the providers file come
    with each request as its `provider_options` (e.g. `metadata`, `service_tier`); a field the user's options set (`thinking`, `output_config`) is theirs, and
    `temperature`/`top_p`/`top_k` are never sent. `secrets` are further values that must never
    come back out of an upstream string.
    """

    def __init__(
        self,
        api_key: str,
        *,
        name: str = "anthropic",
        base_url: str | None = None,
        stateful: bool = False,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        capabilities: Capabilities | None = None,
        secrets: Iterable[str] = (),
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
        output_limit: Callable[[str], int | None] | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url or DEFAULT_BASE_URL
        self.stateful = stateful
        self.read_timeout = read_timeout
        self.capabilities = capabilities or Capabilities(protocol="anthropic", stateful=stateful)
        self.default_max_tokens = default_max_tokens
        self.output_limit = output_limit
        self._secrets = tuple(s for s in (api_key, *secrets) if s)
        self._client = build_client(
            api_key, self.base_url, connect_timeout=connect_timeout, read_timeout=read_timeout
        )

    def __repr__(self) -> str:
        return (
            f"AnthropicProvider(name={self.name!r}, base_url={self.base_url!r}, "
            f"stateful={self.stateful!r}, read_timeout={self.read_timeout!r})"
        )

    def close(self) -> None:
        """Close the SDK client and its connection pool."""
        self._client.close()

    # -- the request -----------------------------------------------------------------------------
    def max_tokens_for(self, request: ResponseRequest) -> int:
        """The `max_tokens` sent: the smallest known of the option, the cap and the model's limit."""
        # The model's limit bounds the app's cap too: a max_tokens above it is a 400.
        limit = self.output_limit(request.model) if self.output_limit else None
        limit = limit or self.capabilities.max_output_tokens
        known = [
            n
            for n in (request.options.get("max_output_tokens"), request.max_output_tokens, limit)
            if isinstance(n, int) and not isinstance(n, bool) and n > 0
        ]
        return min(known) if known else self.default_max_tokens

    def _thinking(self, request: ResponseRequest, max_tokens: int) -> dict[str, Any] | None:
        mode = request.options.get("thinking")
        if mode == "off":
            # Sonnet 5.5 turns thinking off with `between_tools` (providers.md §1.8).
            return {"type": "between_tools" if _SONNET_5_5.match(request.model) else "disabled"}
        summary = request.options.get("reasoning_summary")
        if mode is None and summary is not None and _THINKS_BY_DEFAULT.match(request.model):
            mode = "adaptive"  # it thinks anyway: the summary setting says how it is shown
        if mode not in ("on", "adaptive"):
            return None
        if summary is None and isinstance(request.reasoning, dict):
            summary = request.reasoning.get("summary")
        display = "omitted" if summary == "none" else "summarized"
        if mode == "on" and _BUDGET_THINKING.match(request.model):
            budget = min(max(MIN_THINKING_BUDGET, max_tokens // 2), max_tokens - 1)
            if budget < MIN_THINKING_BUDGET:
                return None  # the cap leaves no room for the API's smallest budget
            return {"type": "enabled", "budget_tokens": budget, "display": display}
        return {"type": "adaptive", "display": display}

    def request_params(self, request: ResponseRequest) -> dict[str, Any]:
        """The SDK keyword arguments for `request` (`stream=True`; a thread when stateful)."""
        max_tokens = self.max_tokens_for(request)
        params: dict[str, Any] = {
            "model": request.model,
            "max_tokens": max_tokens,
            "messages": messages_from(request.input),
            "stream": True,
        }
        continuing = bool(self.stateful and request.store and request.previous_response_id)
        if request.instructions and not continuing:
            params["system"] = request.instructions  # a continued thread keeps its own
        thinking = self._thinking(request, max_tokens)
        if thinking is not None:
            params["thinking"] = thinking
        effort = request.options.get("reasoning_effort")
        if effort is None and isinstance(request.reasoning, dict):
            effort = request.reasoning.get("effort")
        if isinstance(effort, str) and effort in EFFORTS:
            params["output_config"] = {"effort": EFFORTS[effort]}
        extra = {
            k: v
            for k, v in request.provider_options.items()
            if k not in REFUSED_FIELDS and k not in OWN_FIELDS and k not in params
        }
        if extra:
            params["extra_body"] = extra
        if self.stateful and request.store:
            params["betas"] = [THREADS_BETA]
            if continuing:
                params["thread"] = {
                    "type": "continue",
                    "previous_message_id": request.previous_response_id,
                }
            else:
                params["thread"] = {"type": "create"}
        return params

    # -- the stream ------------------------------------------------------------------------------
    def stream(
        self, request: ResponseRequest, cancel: CancelToken | None = None
    ) -> Iterator[Event]:
        """Send one request and relay its events; a stop at any stage simply ends the stream."""
        cancel = cancel or CancelToken()
        if cancel.cancelled:
            return
        check_request(self.capabilities, request)
        params = self.request_params(request)
        if "thread" in params:
            manager = self._client.beta.messages.with_streaming_response.create(**params)
        else:
            manager = self._client.messages.with_streaming_response.create(**params)
        try:
            with cancel_scope(cancel):  # connect, send, wait for the headers: all stoppable
                resp = manager.__enter__()
        except anthropic.APIStatusError as exc:
            if cancel.cancelled:
                return  # stopped while the refusal came in: a stopped stream simply ends
            continuing = params.get("thread", {}).get("type") == "continue"
            err = error_from_status(exc, request, self._secrets, continuing=continuing)
            log_provider_error(self.name, "upstream refused", err)
            raise err from None
        except TRANSPORT_ERRORS as exc:
            cancel.detach_socket()
            if cancel.cancelled:
                return
            logger.warning(
                "upstream unreachable provider=%s kind=%s", self.name, type(exc).__name__
            )
            raise error_from_transport(exc) from None
        try:
            yield from self._relay(resp, cancel)
        except ProviderError as err:
            log_provider_error(self.name, "upstream error", err)
            raise
        finally:
            # Before the response is closed: a stop from now on must not reach a pooled socket.
            cancel.detach_socket()
            manager.__exit__(None, None, None)

    def _metadata(self, headers: Mapping[str, str]) -> dict[str, str | int]:
        out: dict[str, str | int] = {}
        for header, key in _RATE_HEADERS:
            value = headers.get(header)
            if value is not None and value.isdigit():
                out[key] = int(value)
        return out

    def _relay(self, resp: Any, cancel: CancelToken) -> Iterator[Event]:
        headers = resp.headers
        request_id = request_id_from(headers, self._secrets)
        if cancel.cancelled:
            return
        state = AnthropicState(request_id, self._secrets, self._metadata(headers))
        yield from relay_raw(resp.iter_bytes(), state, cancel, request_id, TRANSPORT_ERRORS)
