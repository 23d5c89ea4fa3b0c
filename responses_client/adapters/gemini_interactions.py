"""Gemini's Interactions API (a `stateful` Gemini provider): one streamed interaction per call, chained by id.

`previous_interaction_id` is the request's `previous_response_id`; the server keeps the history, so
only the new turns are sent (the app decides which). A 404 for a chained request (or a
`not_found` error event) is `PreviousResponseNotFound`, so the app replays the branch once.
The SDK sends the request (its retries and automatic continuation off) and checks the status;
the body is then read raw, through `responses_client.sse` and `responses_client.gemini_events`
(the SDK's own event parser scans byte by byte: about 0.6 ms per delta). The Interactions client
raises its own error classes (not `google.genai.errors.APIError`): they are read by their
`status_code` and `body`. No SDK object or exception leaves this module.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx2
from google.genai import errors as genai_errors

# The Interactions client's root error class: not under google.genai.errors, re-exported only by
# this private package (the SDK's compat layer wraps its generated errors into subclasses of it).
from google.genai._interactions import GeminiNextGenAPIClientError

from responses_client import parts
from responses_client.adapters.gemini_client import call_scope, close_all
from responses_client.adapters.gemini_errors import error_from_status, request_id_from
from responses_client.adapters.gemini_options import (
    bare_model,
    interactions_generation_config,
    interactions_safety,
)
from responses_client.adapters.http_errors import (
    error_from_transport,
    log_provider_error,
)
from responses_client.adapters.raw_relay import relay_raw
from responses_client.cancel import CancelToken
from responses_client.errors import BadRequest, ProviderError, UpstreamUnavailable
from responses_client.events import Event, ResponseRequest
from responses_client.gemini_events import InteractionsState

logger = logging.getLogger("responses_client")
# Body fields the adapter owns: an operator option never replaces them (dropped with a warning).
OWNED_FIELDS = frozenset(
    {
        "model",
        "input",
        "stream",
        "store",
        "system_instruction",
        "previous_interaction_id",
        "generation_config",
        "automatic_continuation",
        "extra_body",
        "extra_headers",
        "extra_query",
        "timeout",
    }
)
# What create() raises for the upstream's refusal or an unreachable upstream (ValueError: the
# SDK's validation of an operator option). Anything else is our bug and must not be disguised.
CREATE_ERRORS: tuple[type[BaseException], ...] = (
    GeminiNextGenAPIClientError,
    genai_errors.APIError,
    httpx2.HTTPError,
    OSError,
    ValueError,
)


def steps_of(value: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """The request's input as Interactions input: a string, or `user_input`/`model_output` steps.

    A user turn's neutral parts become `text` and base64 `image` content blocks; a model turn is
    plain text.
    """
    if isinstance(value, str):
        return value
    steps = []
    for turn in value:
        content = turn.get("content")
        if turn.get("role") == "assistant" or not parts.has_neutral(content):
            text = parts.text_of(content)  # other parts: only their text is replayed
            blocks = [{"type": "text", "text": text}] if text else []
        else:
            blocks = parts.convert(content, parts.GEMINI_INTERACTIONS)
        if not blocks:
            continue
        kind = "model_output" if turn.get("role") == "assistant" else "user_input"
        steps.append({"type": kind, "content": blocks})
    return steps


class InteractionsCall:
    """Streams one interaction through the SDK's Interactions resource (`client.interactions`)."""

    def __init__(self, resource: Any, *, name: str, secrets: Iterable[str]) -> None:
        self._resource = resource
        self.name = name
        self._secrets = tuple(secrets)

    def body(self, request: ResponseRequest, operator: Mapping[str, Any]) -> dict[str, Any]:
        """The create() arguments for `request` (instructions and settings on every turn)."""
        body: dict[str, Any] = {
            "model": bare_model(request.model),
            "input": steps_of(request.input),
            "stream": True,
            "store": bool(request.store),
        }
        generation = interactions_generation_config(request)
        if generation:
            body["generation_config"] = generation
        if request.instructions:
            body["system_instruction"] = request.instructions
        if request.previous_response_id:
            body["previous_interaction_id"] = request.previous_response_id
        extra: dict[str, Any] = {}
        for key, value in operator.items():
            if key == "safety_settings":
                settings = interactions_safety(value)
                if settings:
                    body["safety_settings"] = settings
            elif key in OWNED_FIELDS:
                # What the adapter sends itself (the turn's content, its chain, the stream).
                logger.warning("gemini provider option left out key=%s", key)
            else:
                extra[key] = value  # the operator's (`service_tier`, `tools`, ...), as given
        if extra:
            # In the JSON body as given: the SDK's typed arguments would refuse a field it
            # does not know yet, and the upstream is the judge of the operator's fields.
            body["extra_body"] = extra
        return body

    def stream(
        self, request: ResponseRequest, cancel: CancelToken, operator: Mapping[str, Any]
    ) -> Iterator[Event]:
        """Create the interaction and relay its events; a stop at any stage simply ends it."""
        opened: list[httpx2.Response] = []
        chained = bool(request.previous_response_id)
        events: Any = None
        try:
            try:
                with call_scope(cancel, opened):  # connect, send, wait for the headers
                    events = self._resource.create(
                        automatic_continuation=False, **self.body(request, operator)
                    )
            except CREATE_ERRORS as exc:  # the SDK's own error classes: read by their fields
                if cancel.cancelled:
                    return
                raise self._refused(exc, opened, chained) from None
            if cancel.cancelled:
                return
            response = getattr(events, "response", None)
            if not isinstance(response, httpx2.Response):  # not a stream: never asked for
                raise UpstreamUnavailable(upstream_code="not_a_stream")
            request_id = request_id_from(response.headers, self._secrets)
            yield from self._relay(response, InteractionsState(
                request_id, chained=chained, secrets=self._secrets), cancel)  # fmt: skip
        except ProviderError as err:
            log_provider_error(self.name, "upstream error", err)
            raise
        finally:
            cancel.detach_socket()
            close_all(opened)
            if events is not None and hasattr(events, "close"):
                # Closing a dead stream must not mask the outcome.
                with contextlib.suppress(Exception):
                    events.close()

    def _relay(
        self, response: httpx2.Response, state: InteractionsState, cancel: CancelToken
    ) -> Iterator[Event]:
        # The socket stays attached to the token from the wait for the headers (as in the
        # Responses adapter): no scope is held across the yields. Only transport errors count
        # as a lost stream (never our own bugs).
        yield from relay_raw(
            response.iter_bytes(), state, cancel, state.request_id, (httpx2.HTTPError, OSError)
        )

    def _refused(
        self, exc: BaseException, opened: list[httpx2.Response], chained: bool
    ) -> ProviderError:
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            response = getattr(exc, "response", None)
            headers = getattr(response, "headers", None)
            if headers is None and opened:
                headers = opened[-1].headers
            body = getattr(exc, "body", None)
            return error_from_status(status, body, headers, chained=chained, secrets=self._secrets)
        if isinstance(exc, ValueError) and not opened:
            # The SDK's validation refused the request before sending it (an operator option).
            return BadRequest(upstream_code="invalid_request")
        return error_from_transport(exc)
