"""Gemini's Interactions API (a `stateful` Gemini provider): one streamed interaction per call, chained by id.

`previous_interaction_id` is the request's `previous_response_id`; the server keeps the history, so
only the new turns are sent (the app decides which). A 404 for a chained request (or a
`not_found` error event) is `PreviousResponseNotFound`, so the app replays the branch once. The
SDK's typed events (`interaction.created`, `step.start`/`step.delta`/`step.stop`,
`interaction.completed`, `error`, then `[DONE]`) become neutral events. Retries and automatic
continuation are off. The Interactions client raises its own error classes (not
`google.genai.errors.APIError`): they are read by their `status_code` and `body`. No SDK object or
exception leaves this module.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import httpx2

from responses_client.adapters.gemini_client import call_scope, close_all
from responses_client.adapters.gemini_errors import (
    error_after_200,
    error_from_status,
    error_from_transport,
    request_id_from,
)
from responses_client.adapters.gemini_options import (
    bare_model,
    interactions_generation_config,
    interactions_safety,
)
from responses_client.cancel import CancelToken
from responses_client.errors import (
    BadRequest,
    Interrupted,
    ProviderError,
    QuotaExceeded,
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

logger = logging.getLogger("responses_client")

IDLE = Idle()
# An interaction's final status -> (Finished status, API.md reason); others are errors.
_ENDINGS: dict[str, tuple[Literal["completed", "incomplete"], str | None]] = {
    "completed": ("completed", None),
    "incomplete": ("incomplete", "other"),
    # Automatic continuation is off: the per-request decode limit cut the reply (continuable).
    "requires_continuation": ("incomplete", "max_output_tokens"),
    "requires_action": ("incomplete", "other"),
}


def steps_of(value: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """The request's input as Interactions input: a string, or `user_input`/`model_output` steps."""
    if isinstance(value, str):
        return value
    steps = []
    for turn in value:
        content = turn.get("content")
        if isinstance(content, list):
            content = "".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
        if not content:
            continue
        kind = "model_output" if turn.get("role") == "assistant" else "user_input"
        steps.append({"type": kind, "content": [{"type": "text", "text": str(content)}]})
    return steps


def usage_of(u: Any) -> dict[str, int] | None:
    """Neutral usage from an interaction's `usage` (output excludes thoughts; input includes cached)."""
    if u is None:
        return None
    given = u.total_input_tokens or 0
    tool = u.total_tool_use_tokens or 0
    output = u.total_output_tokens or 0
    thoughts = u.total_thought_tokens or 0
    return {
        "input_tokens": given + tool,
        "cached_tokens": u.total_cached_tokens or 0,
        "cache_write_tokens": 0,
        "output_tokens": output + thoughts,
        "reasoning_tokens": thoughts,
        "total_tokens": u.total_tokens or given + tool + output + thoughts,
    }


class InteractionsState:
    """One interaction stream's typed events -> neutral events; raises `ProviderError`s."""

    def __init__(self, request_id: str | None, chained: bool, secrets: Iterable[str]) -> None:
        self.request_id = request_id
        self.chained = chained
        self.secrets = tuple(secrets)
        self.response_id: str | None = None
        self.model: str | None = None
        self.steps: dict[int, str] = {}
        self.text_seen = False
        self.finished = False

    def _clean(self, value: Any) -> str | None:
        return clean_token(value, self.secrets)

    def handle(self, ev: Any) -> Event | None:
        """The neutral event for one SDK event (None when it carries nothing for us)."""
        kind = getattr(ev, "event_type", None)
        if kind == "step.delta":
            delta = ev.delta
            dtype = getattr(delta, "type", None)
            if dtype == "text":
                if self.steps.get(ev.index, "model_output") != "model_output":
                    return None
                text = delta.text or ""
                self.text_seen = self.text_seen or bool(text)
                return TextDelta(text)
            if dtype == "thought_summary":
                content = getattr(delta, "content", None)
                return ReasoningDelta(getattr(content, "text", None) or "")
            return None  # thought signatures, tool deltas
        if kind == "step.start":
            self.steps[ev.index] = str(getattr(ev.step, "type", ""))
            return None
        if kind == "interaction.created":
            interaction = ev.interaction
            response_id = self._clean(interaction.id)
            if response_id is None:
                raise Interrupted(request_id=self.request_id, upstream_code="missing_response_id")
            self.response_id = response_id
            self.model = self._clean(interaction.model)
            metadata: dict[str, str | int] = {}
            tier = self._clean(interaction.service_tier)
            if tier:
                metadata["service_tier"] = tier
            return ResponseStarted(response_id, self.model, self.request_id, metadata)
        if kind == "interaction.completed":
            return self._finished(ev.interaction)
        if kind == "error":
            err = ev.error
            body = {
                "error": {
                    "code": getattr(err, "code", None),
                    "message": getattr(err, "message", None),
                }
            }
            raise error_after_200(
                None, body, self.request_id, chained=self.chained, secrets=self.secrets
            )
        return None  # status updates, step.stop, unknown events

    def _finished(self, interaction: Any) -> Finished:
        status = str(interaction.status)
        if status == "failed":
            raise UpstreamFailed(request_id=self.request_id, upstream_code="failed")
        if status == "budget_exceeded":
            raise QuotaExceeded(request_id=self.request_id, upstream_code=status)
        if status not in _ENDINGS:
            raise Interrupted(request_id=self.request_id, upstream_code=self._clean(status))
        final, reason = _ENDINGS[status]
        if final == "completed" and not self.text_seen:
            final, reason = "incomplete", "other"  # never an empty success
        self.finished = True
        metadata: dict[str, str | int] = {}
        tier = self._clean(interaction.service_tier)
        if tier:
            metadata["service_tier"] = tier
        return Finished(
            status=final,
            response_id=self.response_id or self._clean(interaction.id),
            usage=usage_of(interaction.usage),
            model=self._clean(interaction.model) or self.model,
            reason=reason,
            finish_reason=None if status == "completed" else self._clean(status),
            metadata=metadata,
        )


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
            "generation_config": interactions_generation_config(request),
        }
        if request.instructions:
            body["system_instruction"] = request.instructions
        if request.previous_response_id:
            body["previous_interaction_id"] = request.previous_response_id
        settings = interactions_safety(operator.get("safety_settings"))
        if settings:
            body["safety_settings"] = settings
        if isinstance(operator.get("service_tier"), str):
            body["service_tier"] = operator["service_tier"]
        return body

    def stream(
        self, request: ResponseRequest, cancel: CancelToken, operator: Mapping[str, Any]
    ) -> Iterator[Event]:
        """Create the interaction and relay its events; a stop at any stage simply ends it."""
        opened: list[httpx2.Response] = []
        chained = bool(request.previous_response_id)
        state = InteractionsState(None, chained, self._secrets)
        events: Any = None
        try:
            try:
                with call_scope(cancel, opened):  # connect, send, wait for the headers
                    events = self._resource.create(
                        automatic_continuation=False, **self.body(request, operator)
                    )
            except Exception as exc:  # the SDK's own error classes: read by their fields
                if cancel.cancelled:
                    return
                raise self._refused(exc, opened, chained) from None
            if opened:
                state.request_id = request_id_from(opened[-1].headers, self._secrets)
            while True:
                try:
                    with call_scope(cancel, opened):
                        ev = next(events)
                except StopIteration:
                    break
                except Exception as exc:
                    if cancel.cancelled:
                        return
                    raise self._lost(exc, state) from None
                if cancel.cancelled:
                    return
                out = state.handle(ev)
                if out is not None:
                    yield out
                    if state.finished:
                        return
                    yield IDLE  # one event handed over: let the coalescing stage flush
            if cancel.cancelled:
                return
            err_cls = Interrupted if state.text_seen else UpstreamUnavailable
            raise err_cls(request_id=state.request_id, upstream_code="stream_ended_early")
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
        finally:
            cancel.detach_socket()
            close_all(opened)
            if events is not None and hasattr(events, "close"):
                # Closing a dead stream must not mask the outcome.
                with contextlib.suppress(Exception):
                    events.close()

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

    def _lost(self, exc: BaseException, state: InteractionsState) -> ProviderError:
        if isinstance(exc, ProviderError):
            return exc
        if state.text_seen:
            return Interrupted(request_id=state.request_id, upstream_code=type(exc).__name__)
        return error_from_transport(exc, state.request_id)
