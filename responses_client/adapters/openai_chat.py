"""The Chat Completions adapter over the openai SDK: DeepSeek, OpenRouter, Ollama, vLLM, any compatible server.

One upstream request per `stream()` (SDK retries off; the app's policy is `responses_client.retry`),
over `transport.CancellableTransport` so the turn's CancelToken stops the request while
connecting, waiting for the headers or streaming. The raw body is read with
`responses_client.chat_events` (no typed SDK chunks: the relay's CPU budget is per delta).
Stateless: `previous_response_id` is never sent; the input turns become `messages`, the
instructions the first `system` message. The SDK client comes from `openai_client.isolated_client`
(nothing of the environment reaches the request). No openai/httpx2 object or exception leaves
this module.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import openai

from responses_client import parts
from responses_client.adapters.http_errors import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DRAIN_ERRORS,
    error_from_transport,
    log_provider_error,
    stream_lost,
)
from responses_client.adapters.openai_client import isolated_client
from responses_client.adapters.openai_errors import (
    TRANSPORT_ERRORS,
    error_from_status,
    request_id_from,
)
from responses_client.adapters.transport import cancel_scope, drain
from responses_client.cancel import CancelToken
from responses_client.capabilities import Capabilities, check_request
from responses_client.chat_events import ChatState
from responses_client.errors import (
    ContentBlocked,
    ContextTooLong,
    ProviderError,
    UnknownModel,
)
from responses_client.events import Event, ResponseRequest
from responses_client.identifiers import clean_token
from responses_client.responses_events import ratelimit_metadata

logger = logging.getLogger("responses_client")  # one logger name for the whole package

Flavour = Literal["deepseek", "openrouter", "ollama", "generic"]
DEFAULT_BASE_URLS: dict[str, str | None] = {
    "deepseek": "https://api.deepseek.com",  # DeepSeek's own: no /v1 needed
    "openrouter": "https://openrouter.ai/api/v1",
    "ollama": None,  # off until OLLAMA_BASE_URL is set
    "generic": None,
}
# A local server may check no key (Ollama never does; `api_key_env` is optional for an extra
# provider), but the SDK insists on one: a placeholder, never a secret, never logged.
PLACEHOLDER_KEYS = {"ollama": "ollama", "generic": "no-key"}
# API.md reasoning efforts -> DeepSeek's (low, high, max; its docs map the rest the same way).
DEEPSEEK_EFFORT = {
    "minimal": "low",
    "low": "low",
    "medium": "high",
    "high": "high",
    "xhigh": "high",
    "max": "max",
}
# 400 bodies that say what codes do not (read, never kept): DeepSeek, vLLM, OpenRouter wording.
_CONTEXT_WORDS = ("maximum context length", "context length", "context_length_exceeded")
_MODEL_WORDS = ("model not exist", "not a valid model", "model_not_found", "does not exist")


def messages_from(request: ResponseRequest) -> list[dict[str, Any]]:
    """The `messages` for `request`: instructions first as `system`, then the turns.

    A user turn's neutral parts become `text`/`image_url` parts (the image as a `data:` URL); an
    assistant turn's, plain text.
    """
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    if isinstance(request.input, str):
        messages.append({"role": "user", "content": request.input})
        return messages
    for turn in request.input:
        role = turn.get("role")
        content = turn.get("content", "")
        messages.append(
            {
                "role": role if role in ("user", "assistant", "system") else "user",
                "content": parts.content_for(role, content, parts.CHAT_COMPLETIONS),
            }
        )
    return messages


class ChatCompletionsProvider:
    """`POST {base_url}/chat/completions`, streamed; `flavour` picks the host's dialect.

    `deepseek`: `reasoning_effort` low/high/max and `thinking`; `openrouter`: `reasoning`, its
    billed `usage.cost`, the `X-Generation-Id` header; `ollama`: no key (a placeholder is sent);
    `generic`: the OpenAI spelling, the key optional (a local vLLM or llama.cpp server).
    The operator's fields come with each request as its `provider_options` (sent as given);
    `max_tokens_field` names the output cap's field;
    `send_stream_options=False` leaves out `stream_options` for a host that refuses it (usage is
    then whatever the host sends unasked, as OpenRouter always does).
    """

    def __init__(
        self,
        api_key: str | None,
        *,
        name: str = "chat",
        base_url: str | None = None,
        flavour: Flavour = "generic",
        stateful: bool = False,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        capabilities: Capabilities | None = None,
        secrets: Iterable[str] = (),
        max_tokens_field: str = "max_tokens",
        headers: Mapping[str, str] | None = None,
        send_stream_options: bool = True,
    ) -> None:
        if flavour not in DEFAULT_BASE_URLS:
            raise ValueError(f"unknown Chat Completions flavour {flavour!r}")
        if stateful:
            raise ValueError("a Chat Completions provider is stateless")
        base_url = base_url or DEFAULT_BASE_URLS[flavour]
        if not base_url:
            raise ValueError(f"the {flavour} provider needs a base URL")
        if not api_key:
            if flavour not in PLACEHOLDER_KEYS:
                raise ValueError(f"the {flavour} provider needs an API key")
            api_key = PLACEHOLDER_KEYS[flavour]
        self.name = name
        self.base_url = base_url
        self.flavour: Flavour = flavour
        self.stateful = False
        self.read_timeout = read_timeout
        self.capabilities = capabilities or Capabilities(
            protocol="chat_completions", stateful=False
        )
        self.max_tokens_field = max_tokens_field
        self.send_stream_options = send_stream_options
        placeholder = api_key == PLACEHOLDER_KEYS.get(flavour)
        self._secrets = tuple(s for s in ("" if placeholder else api_key, *secrets) if s)
        self._client = isolated_client(
            api_key,
            base_url=base_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            headers=headers,
        )

    def __repr__(self) -> str:
        return (
            f"ChatCompletionsProvider(name={self.name!r}, flavour={self.flavour!r}, "
            f"base_url={self.base_url!r}, read_timeout={self.read_timeout!r})"
        )

    def close(self) -> None:
        """Close the SDK client and its connection pool."""
        self._client.close()

    # -- the request ------------------------------------------------------------------------------
    def request_params(self, request: ResponseRequest) -> dict[str, Any]:
        """The JSON body sent for `request` (stateless: never a previous response id)."""
        opts = request.options
        params: dict[str, Any] = {
            "model": request.model,
            "messages": messages_from(request),
            "stream": True,
        }
        if self.send_stream_options:  # some hosts refuse the field ("Argument not supported")
            params["stream_options"] = {"include_usage": True}
        cap = request.max_output_tokens
        wanted = opts.get("max_output_tokens")
        if isinstance(wanted, int) and wanted > 0:
            cap = wanted if cap is None else min(cap, wanted)
        if cap is not None:
            params[self.max_tokens_field] = cap
        for key in ("temperature", "top_p"):
            if opts.get(key) is not None:
                params[key] = opts[key]
        effort = opts.get("reasoning_effort")
        if effort is None and isinstance(request.reasoning, dict):
            effort = request.reasoning.get("effort")
        self._reasoning_params(params, effort, opts.get("thinking"), opts.get("reasoning_summary"))
        if self.flavour == "generic" and opts.get("verbosity") is not None:
            params["verbosity"] = opts["verbosity"]
        for key, value in request.provider_options.items():
            params[key] = value  # the operator's, sent as given
        return params

    def _reasoning_params(
        self, params: dict[str, Any], effort: Any, thinking: Any, summary: Any = None
    ) -> None:
        flavour = self.flavour
        if flavour == "deepseek":
            if thinking == "off":
                params["thinking"] = {"type": "disabled"}
                return
            if thinking in ("on", "adaptive"):
                params["thinking"] = {"type": "enabled"}
            if effort in DEEPSEEK_EFFORT:
                params["reasoning_effort"] = DEEPSEEK_EFFORT[effort]
        elif flavour == "openrouter":
            reasoning: dict[str, Any] = {}
            if thinking == "off":
                reasoning["enabled"] = False
            elif effort is not None:
                reasoning["effort"] = effort
            elif thinking in ("on", "adaptive"):
                reasoning["enabled"] = True
            if summary == "none" and thinking != "off":
                reasoning["exclude"] = True  # thinks, but leaves the reasoning out of the reply
            if reasoning:
                params["reasoning"] = reasoning
        elif thinking == "off" and flavour == "ollama":
            params["reasoning_effort"] = "none"
        elif effort is not None:
            params["reasoning_effort"] = effort

    # -- the stream -------------------------------------------------------------------------------
    def _refused(self, exc: openai.APIStatusError, request: ResponseRequest) -> ProviderError:
        err = error_from_status(exc, request, self._secrets)
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        text = str(body.get("message") or "").lower()
        fields: dict[str, Any] = {
            "status": status,
            "request_id": err.request_id,
            "retry_after": err.retry_after,
            "should_retry": err.should_retry,
            "upstream_code": err.upstream_code,
        }
        if (
            self.flavour == "openrouter"
            and status == 403
            and isinstance(body.get("metadata"), dict)
        ):
            return ContentBlocked(**fields)  # its moderation flagged the input
        if err.code == "bad_request" and status in (400, 422):
            if any(words in text for words in _CONTEXT_WORDS):
                return ContextTooLong(**fields)
            if "model" in text and any(words in text for words in _MODEL_WORDS):
                return UnknownModel(**fields)
        return err

    def stream(
        self, request: ResponseRequest, cancel: CancelToken | None = None
    ) -> Iterator[Event]:
        """Send one request and relay its events; a stop at any stage simply ends the stream."""
        cancel = cancel or CancelToken()
        if cancel.cancelled:
            return
        check_request(self.capabilities, request)
        params = self.request_params(request)
        manager = self._client.chat.completions.with_streaming_response.create(
            model=params.pop("model"),
            messages=params.pop("messages"),
            stream=True,
            extra_body=params,  # the rest as built (the SDK merges it into the JSON body)
        )
        try:
            with cancel_scope(cancel):  # connect, send, wait for the headers: all stoppable
                resp = manager.__enter__()
        except openai.APIStatusError as exc:
            if cancel.cancelled:
                return
            err = self._refused(exc, request)
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

    def _state(self, headers: Mapping[str, str]) -> ChatState:
        secrets = self._secrets
        generation = clean_token(headers.get("x-generation-id"), secrets)
        request_id = request_id_from(headers, secrets) or generation
        return ChatState(
            request_id,
            secrets,
            fallback_id=generation,
            metadata=ratelimit_metadata(headers),
            billed_cost=self.flavour == "openrouter",
        )

    def _relay(self, resp: Any, cancel: CancelToken) -> Iterator[Event]:
        state = self._state(resp.headers)
        if cancel.cancelled:
            return
        raw = resp.iter_bytes()
        try:
            yield from state.relay(raw, cancel)
            if state.finished:
                # Read what follows `[DONE]` (the body's end) so the connection goes back to
                # the pool: a body left unread closes it, and every turn would reconnect.
                drain(raw, cancel, DRAIN_ERRORS)
        except TRANSPORT_ERRORS as exc:
            if cancel.cancelled:
                return
            raise stream_lost(exc, state.request_id, text_seen=state.text_seen) from None
