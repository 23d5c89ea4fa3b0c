"""The OpenAI Responses API adapter over the openai SDK: SDK calls in, neutral events or errors out.

One upstream request per `stream()` (the SDK's retries are off; the app's policy is
`responses_client.retry`). The SDK runs over `transport`, so the turn's CancelToken stops the
request while connecting, waiting for the headers or streaming. The raw stream is read with
`responses_client.sse` and `responses_client.responses_events`. No openai/httpx2 object or
exception leaves this module.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import openai

from responses_client import parts
from responses_client.adapters.http_errors import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    error_from_transport,
    log_provider_error,
)
from responses_client.adapters.openai_client import isolated_client
from responses_client.adapters.openai_errors import (
    TRANSPORT_ERRORS,
    error_from_status,
    request_id_from,
)
from responses_client.adapters.raw_relay import relay_raw
from responses_client.adapters.transport import cancel_scope
from responses_client.cancel import CancelToken
from responses_client.capabilities import Capabilities, check_request
from responses_client.errors import Interrupted, ProviderError, UpstreamUnavailable
from responses_client.events import Compacted, Event, ResponseRequest
from responses_client.identifiers import clean_token
from responses_client.responses_events import (
    ResponsesState,
    ratelimit_metadata,
    usage_from,
)

logger = logging.getLogger("responses_client")  # one logger name for the whole package


def input_of(value: str | list[dict[str, Any]]) -> str | list[Any]:
    """The request's input as Responses `input`: neutral parts as `input_text`/`input_image`.

    A str, a text turn and an item already in the Responses form (a compacted chain's) go as
    given; an assistant turn's parts as plain text.
    """
    if isinstance(value, str):
        return value
    out: list[Any] = []
    for item in value:
        if not isinstance(item, dict) or not parts.has_neutral(item.get("content")):
            out.append(item)
            continue
        wire = parts.content_for(item.get("role"), item["content"], parts.RESPONSES)
        out.append({**item, "content": wire})
    return out


class OpenAIProvider:
    """The OpenAI Responses API, or any server speaking it at `base_url`.

    The SDK itself never retries (the turn's `RetryPolicy` does, through `stream_with_retries`).
    `secrets` are further values (besides the key) that must never come back out of an
    upstream string.
    """

    def __init__(
        self,
        api_key: str,
        *,
        name: str = "openai",
        base_url: str | None = None,
        stateful: bool = True,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        send_stream_options: bool = True,
        capabilities: Capabilities | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.stateful = stateful
        self.read_timeout = read_timeout
        self.send_stream_options = send_stream_options
        self.capabilities = capabilities or Capabilities(protocol="responses", stateful=stateful)
        self._secrets = tuple(s for s in (api_key, *secrets) if s)
        # Explicit settings only: the SDK alone would send OPENAI_ORG_ID, OPENAI_PROJECT_ID and
        # OPENAI_CUSTOM_HEADERS (even an Authorization line) to whatever host base_url names.
        self._client = isolated_client(
            api_key, base_url=base_url, connect_timeout=connect_timeout, read_timeout=read_timeout
        )

    def __repr__(self) -> str:
        return (
            f"OpenAIProvider(name={self.name!r}, base_url={self.base_url!r}, "
            f"stateful={self.stateful!r}, read_timeout={self.read_timeout!r})"
        )

    def close(self) -> None:
        """Close the SDK client and its connection pool."""
        self._client.close()

    def request_params(self, request: ResponseRequest) -> dict[str, Any]:
        """The JSON fields sent for `request` (instructions on every turn)."""
        params: dict[str, Any] = {
            "model": request.model,
            "input": input_of(request.input),
            "stream": True,
            "store": bool(request.store and self.stateful),
        }
        if request.instructions is not None:
            params["instructions"] = request.instructions
        if request.previous_response_id:
            params["previous_response_id"] = request.previous_response_id
        opts = request.options
        cap = opts.get("max_output_tokens") or request.max_output_tokens
        if request.max_output_tokens and cap:
            cap = min(cap, request.max_output_tokens)  # the app's cap bounds the user's option
        if cap is not None:
            params["max_output_tokens"] = cap
        reasoning = dict(request.reasoning or {})
        if opts.get("reasoning_effort") is not None:
            reasoning["effort"] = opts["reasoning_effort"]
        summary = opts.get("reasoning_summary")
        if summary == "none":
            reasoning.pop("summary", None)  # no summary: the API takes auto|concise|detailed only
        elif summary is not None:
            reasoning["summary"] = summary
        if reasoning:
            params["reasoning"] = reasoning
        if opts.get("verbosity") is not None:
            params["text"] = {"verbosity": opts["verbosity"]}
        for key in ("temperature", "top_p"):
            if opts.get(key) is not None:
                params[key] = opts[key]
        if self.send_stream_options:
            params["stream_options"] = {"include_obfuscation": False}
        if request.provider_options:
            # The operator's options from the providers file, sent as given on every call.
            params["extra_body"] = dict(request.provider_options)
        return params

    def stream(
        self, request: ResponseRequest, cancel: CancelToken | None = None
    ) -> Iterator[Event]:
        """Send one request and relay its events; a stop at any stage simply ends the stream."""
        cancel = cancel or CancelToken()
        if cancel.cancelled:
            return
        check_request(self.capabilities, request)
        manager = self._client.responses.with_streaming_response.create(
            **self.request_params(request)
        )
        try:
            with cancel_scope(cancel):  # connect, send, wait for the headers: all stoppable
                resp = manager.__enter__()
        except openai.APIStatusError as exc:
            if cancel.cancelled:
                return  # stopped while the refusal came in: a stopped stream simply ends
            err = error_from_status(exc, request, self._secrets)
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

    def compact(self, request: ResponseRequest, cancel: CancelToken | None = None) -> Compacted:
        """Compact a chain with `POST /responses/compact` (model, input, instructions and
        `previous_response_id` as given); raise `ProviderError`, `Interrupted` when stopped."""
        cancel = cancel or CancelToken()
        params: dict[str, Any] = {"model": request.model}
        if request.input:
            params["input"] = input_of(request.input)
        if request.instructions is not None:
            params["instructions"] = request.instructions
        if request.previous_response_id:
            params["previous_response_id"] = request.previous_response_id
        manager = self._client.responses.with_streaming_response.compact(**params)
        try:
            with cancel_scope(cancel):  # connect, send, read the body: all stoppable
                resp = manager.__enter__()
                try:
                    body = resp.read()
                finally:
                    cancel.detach_socket()  # before the connection can go back to the pool
                    manager.__exit__(None, None, None)
        except openai.APIStatusError as exc:
            err = error_from_status(exc, request, self._secrets)
            log_provider_error(self.name, "compaction refused", err)
            raise err from None
        except TRANSPORT_ERRORS as exc:
            cancel.detach_socket()
            if cancel.cancelled:
                raise Interrupted() from None
            raise error_from_transport(exc) from None
        request_id = request_id_from(resp.headers, self._secrets)
        return compacted_from(body, request_id, self._secrets)

    def _relay(self, resp: Any, cancel: CancelToken) -> Iterator[Event]:
        request_id = request_id_from(resp.headers, self._secrets)
        if cancel.cancelled:
            return
        state = ResponsesState(request_id, self._secrets, ratelimit_metadata(resp.headers))
        yield from relay_raw(resp.iter_bytes(), state, cancel, request_id, TRANSPORT_ERRORS)


def compacted_from(body: bytes, request_id: str | None, secrets: Iterable[str] = ()) -> Compacted:
    """A `CompactedResponse` body to `Compacted`; a body without an item list is malformed."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    output = data.get("output") if isinstance(data, dict) else None
    if not isinstance(output, list) or not all(isinstance(item, dict) for item in output):
        raise UpstreamUnavailable(request_id=request_id, cause="server_error")
    assert isinstance(data, dict)
    return Compacted(
        response_id=clean_token(data.get("id"), secrets),
        output=output,
        usage=usage_from(data.get("usage")),
        request_id=request_id,
    )
