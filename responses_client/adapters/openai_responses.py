"""The OpenAI Responses API adapter over the openai SDK: SDK calls in, neutral events or errors out.

No openai/httpx2 object or exception leaves this module.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx2
import openai

from responses_client.cancel import CancelToken
from responses_client.errors import (
    Interrupted,
    ProviderError,
    UpstreamUnavailable,
    _from_status,
)
from responses_client.events import Event, Idle, ResponseRequest
from responses_client.provider import Provider
from responses_client.sse import _SSEState

logger = logging.getLogger("responses_client")  # one logger name for the whole package

DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_MAX_RETRIES = 2


class OpenAIProvider(Provider):
    """The OpenAI Responses API, or any server speaking it at `base_url`."""

    def __init__(
        self,
        api_key: str,
        *,
        name: str = "openai",
        base_url: str | None = None,
        stateful: bool = True,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        send_stream_options: bool = True,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.stateful = stateful
        self.read_timeout = read_timeout
        self.max_retries = max_retries
        self.send_stream_options = send_stream_options
        timeout = openai.Timeout(connect=connect_timeout, read=read_timeout, write=10.0, pool=10.0)
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    def __repr__(self) -> str:
        return (
            f"OpenAIProvider(name={self.name!r}, base_url={self.base_url!r}, "
            f"stateful={self.stateful!r}, read_timeout={self.read_timeout!r}, "
            f"max_retries={self.max_retries!r})"
        )

    def close(self) -> None:
        """Close the SDK client and its connection pool."""
        self._client.close()

    def request_params(self, request: ResponseRequest) -> dict[str, Any]:
        """The JSON fields sent for `request` (instructions on every turn)."""
        params: dict[str, Any] = {
            "model": request.model,
            "input": request.input,
            "stream": True,
            "store": bool(request.store and self.stateful),
        }
        if request.instructions is not None:
            params["instructions"] = request.instructions
        if request.previous_response_id:
            params["previous_response_id"] = request.previous_response_id
        if request.max_output_tokens is not None:
            params["max_output_tokens"] = request.max_output_tokens
        if request.reasoning is not None:
            params["reasoning"] = request.reasoning
        if self.send_stream_options:
            params["stream_options"] = {"include_obfuscation": False}
        return params

    def stream(
        self, request: ResponseRequest, cancel: CancelToken | None = None
    ) -> Iterator[Event]:
        """Open the upstream stream (SDK retries apply until it opens) and relay its events."""
        cancel = cancel or CancelToken()
        if cancel.cancelled:
            return
        params = self.request_params(request)
        try:
            opener = self._client.responses.with_streaming_response.create(**params)
            with opener as resp:
                yield from self._relay(resp, cancel)
        except ProviderError as err:
            logger.warning(
                "upstream error provider=%s code=%s status=%s upstream_code=%s request_id=%s",
                self.name,
                err.code,
                err.status,
                err.upstream_code,
                err.request_id,
            )
            raise
        except openai.APIStatusError as exc:
            err = _from_status(exc, request)
            logger.warning(
                "upstream refused provider=%s code=%s status=%s upstream_code=%s request_id=%s",
                self.name,
                err.code,
                err.status,
                err.upstream_code,
                err.request_id,
            )
            raise err from exc
        except (openai.OpenAIError, httpx2.HTTPError, OSError) as exc:
            if cancel.cancelled:
                return
            logger.warning(
                "upstream unreachable provider=%s kind=%s", self.name, type(exc).__name__
            )
            raise UpstreamUnavailable(upstream_code=type(exc).__name__) from exc

    def _relay(self, resp: Any, cancel: CancelToken) -> Iterator[Event]:
        request_id = resp.headers.get("x-request-id")
        network = resp.http_response.extensions.get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        if not cancel._attach(sock):
            return  # stopped while the request was opening: the `with` closes it
        state = _SSEState(request_id)
        handle = state.handle
        buf = b""
        data: list[bytes] = []
        try:
            try:
                for chunk in resp.iter_bytes():
                    if cancel.cancelled:
                        return
                    buf += chunk
                    if b"\n" not in chunk:
                        continue
                    lines = buf.split(b"\n")
                    buf = lines.pop()
                    for raw_line in lines:
                        line = raw_line[:-1] if raw_line.endswith(b"\r") else raw_line
                        if not line:
                            if not data:
                                continue
                            payload = data[0] if len(data) == 1 else b"\n".join(data)
                            data = []
                            if payload == b"[DONE]":
                                break
                            try:
                                ev = json.loads(payload)
                            except ValueError as exc:
                                raise Interrupted(
                                    request_id=request_id, upstream_code="malformed_event"
                                ) from exc
                            out = handle(ev)
                            if out is not None:
                                yield out
                                if state.finished:
                                    return
                        elif line.startswith(b"data:"):
                            value = line[5:]
                            data.append(value[1:] if value.startswith(b" ") else value)
                        # `event:`, `id:`, `retry:` and `:` comments carry nothing we need:
                        # dispatch is on the JSON `type`.
                    else:
                        yield Idle()
                        continue
                    break  # [DONE]
            except (httpx2.HTTPError, openai.OpenAIError, OSError) as exc:
                if cancel.cancelled:
                    return
                err_cls = Interrupted if state.text_seen else UpstreamUnavailable
                raise err_cls(request_id=request_id, upstream_code=type(exc).__name__) from exc
            if cancel.cancelled:
                return
            err_cls = Interrupted if state.text_seen else UpstreamUnavailable
            raise err_cls(request_id=request_id, upstream_code="stream_ended_early")
        finally:
            cancel._detach()
