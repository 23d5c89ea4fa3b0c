"""Provider adapters over the openai SDK: a request in, neutral events or `ProviderError`s out.

Imports no Flask and touches no files; no openai/httpx2 object or exception leaves this module.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import httpx2
import openai

logger = logging.getLogger(__name__)

DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_MAX_RETRIES = 2
QUOTA_CODES = frozenset(
    {"insufficient_quota", "credit_balance_exhausted", "billing_hard_limit_reached"}
)
RATE_CODES = frozenset({"rate_limit_exceeded", "too_many_requests", "rate_limited"})

# -- requests and neutral events -----------------------------------------------------------------


@dataclass(frozen=True)
class ResponseRequest:
    """One model call: `input` is a string or a list of `{"role", "content"}` turns."""

    model: str
    input: str | list[dict[str, Any]]
    instructions: str | None
    previous_response_id: str | None = None
    store: bool = True
    max_output_tokens: int | None = None
    reasoning: dict[str, Any] | None = None


@dataclass(frozen=True)
class ResponseStarted:
    """The upstream accepted the request; the response id is known at once."""

    response_id: str
    model: str
    request_id: str | None = None


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer (refusal text included)."""

    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the reasoning summary (parts separated by a blank line)."""

    text: str


@dataclass(frozen=True)
class Idle:
    """The upstream's buffered data is used up: a good moment to flush."""


@dataclass(frozen=True)
class Finished:
    """The terminal event: `completed` or `incomplete` (then `reason` says why)."""

    status: Literal["completed", "incomplete"]
    response_id: str | None
    usage: dict[str, int] | None
    model: str | None
    reason: str | None = None
    refusal: bool = False


Event = ResponseStarted | TextDelta | ReasoningDelta | Idle | Finished

# -- errors --------------------------------------------------------------------------------------


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
    ) -> None:
        super().__init__()
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        self.upstream_code = upstream_code
        self.retryable = self.default_retryable if retryable is None else retryable

    def __str__(self) -> str:
        return self.safe_message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"request_id={self.request_id!r}, retry_after={self.retry_after!r}, "
            f"upstream_code={self.upstream_code!r}, retryable={self.retryable!r})"
        )


class RateLimited(ProviderError):
    """429 from the upstream after the SDK's retries."""

    code = "rate_limited"
    safe_message = "The model service is rate limiting requests; try again shortly."


class UpstreamUnavailable(ProviderError):
    """5xx, timeout or refused connection before the first text."""

    code = "upstream_unavailable"
    safe_message = "The model service is temporarily unavailable."


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


# -- cancellation --------------------------------------------------------------------------------


class CancelToken:
    """Thread-safe stop switch: `cancel()` shuts the upstream socket down at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._sock: socket.socket | None = None

    @property
    def cancelled(self) -> bool:
        """True once `cancel()` was called."""
        return self._event.is_set()

    def cancel(self) -> None:
        """Stop the stream: a blocked read in another thread returns at once."""
        with self._lock:
            self._event.set()
            # Under the lock: the stream detaches before its connection can go back to the pool,
            # so this never shuts down a socket that another request is using.
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or `timeout`; return whether cancelled."""
        return self._event.wait(timeout)

    def _attach(self, sock: socket.socket | None) -> bool:
        with self._lock:
            if self._event.is_set():
                return False
            self._sock = sock
            return True

    def _detach(self) -> None:
        with self._lock:
            self._sock = None


# -- error translation ---------------------------------------------------------------------------


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def _from_status(exc: openai.APIStatusError, request: ResponseRequest) -> ProviderError:
    status = exc.status_code
    code = exc.code if isinstance(exc.code, str) else None
    param = exc.param if isinstance(exc.param, str) else None
    body = exc.body if isinstance(exc.body, dict) else {}
    message = str(body.get("message") or "")
    etype = exc.type if isinstance(exc.type, str) else None
    fields: dict[str, Any] = {
        "status": status,
        "request_id": exc.request_id,
        "retry_after": _retry_after(exc.response.headers),
        "upstream_code": code or etype,
    }
    if status == 429:
        if code in QUOTA_CODES or etype in QUOTA_CODES:
            return QuotaExceeded(**fields)
        return RateLimited(**fields)
    if status in (401, 403):
        return AuthFailed(**fields)
    if code == "previous_response_not_found" or param == "previous_response_id":
        return PreviousResponseNotFound(**fields)
    if (
        status == 400
        and request.previous_response_id is not None
        and "previous_response_id" in message
    ):
        return PreviousResponseNotFound(**fields)
    if code == "context_length_exceeded":
        return ContextTooLong(**fields)
    if status == 404 or code == "model_not_found":
        return UnknownModel(**fields)
    if status in (408, 409) or status >= 500:
        return UpstreamUnavailable(**fields)
    return BadRequest(**fields)


def _from_event_code(code: str | None, request_id: str | None) -> ProviderError:
    if code in QUOTA_CODES:
        return QuotaExceeded(upstream_code=code, request_id=request_id)
    if code in RATE_CODES:
        return RateLimited(upstream_code=code, request_id=request_id)
    if code == "context_length_exceeded":
        return ContextTooLong(upstream_code=code, request_id=request_id)
    return UpstreamFailed(upstream_code=code, request_id=request_id)


def _usage(raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, dict):
        return None

    def num(obj: Any, key: str) -> int:
        value = obj.get(key) if isinstance(obj, dict) else None
        return value if isinstance(value, int) else 0

    out = {
        "input_tokens": num(raw, "input_tokens"),
        "cached_tokens": num(raw.get("input_tokens_details"), "cached_tokens"),
        "output_tokens": num(raw, "output_tokens"),
        "reasoning_tokens": num(raw.get("output_tokens_details"), "reasoning_tokens"),
        "total_tokens": num(raw, "total_tokens"),
    }
    if not out["total_tokens"]:
        out["total_tokens"] = out["input_tokens"] + out["output_tokens"]
    return out


# -- the SSE state machine -----------------------------------------------------------------------


class _SSEState:
    """Turns raw SSE events (JSON dicts) into neutral events; raises `ProviderError`s."""

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self.response_id: str | None = None
        self.model: str | None = None
        self.text_seen = False
        self.refusal = False
        self.finished = False
        self.last_seq: int | None = None
        self.items: dict[str, tuple[str, str | None]] = {}  # item id -> (type, phase)
        self.reasoning_key: tuple[Any, ...] | None = None

    def _reasoning(self, key: tuple[Any, ...], delta: str) -> ReasoningDelta:
        if self.reasoning_key is not None and key != self.reasoning_key:
            delta = "\n\n" + delta
        self.reasoning_key = key
        return ReasoningDelta(delta)

    def handle(self, ev: Any) -> Event | None:
        """Return the neutral event for one upstream event (None when it carries nothing for us)."""
        if not isinstance(ev, dict):
            raise Interrupted(request_id=self.request_id, upstream_code="malformed_event")
        seq = ev.get("sequence_number")
        if isinstance(seq, int):
            last = self.last_seq
            if last is not None and seq <= last:
                logger.warning("upstream_sequence_duplicate seq=%d last=%d", seq, last)
                return None
            if last is not None and seq != last + 1:
                logger.warning("upstream_sequence_gap seq=%d last=%d", seq, last)
            self.last_seq = seq
        etype = ev.get("type")
        if etype == "response.output_text.delta":
            kind, phase = self.items.get(ev.get("item_id"), ("message", None))
            if kind != "message":
                return None
            if phase == "commentary":
                # gpt-5.x preambles are not the answer: shown with the reasoning, never mixed in.
                return self._reasoning(("commentary", ev.get("item_id")), ev.get("delta") or "")
            self.text_seen = True
            return TextDelta(ev.get("delta") or "")
        if etype == "response.reasoning_summary_text.delta":
            key = ("summary", ev.get("item_id"), ev.get("summary_index"))
            return self._reasoning(key, ev.get("delta") or "")
        if etype == "response.reasoning_text.delta":
            key = ("raw", ev.get("item_id"), ev.get("content_index"))
            return self._reasoning(key, ev.get("delta") or "")
        if etype == "response.refusal.delta":
            self.text_seen = True
            self.refusal = True
            return TextDelta(ev.get("delta") or "")
        if etype == "response.output_item.added":
            item = ev.get("item") or {}
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                self.items[item["id"]] = (str(item.get("type")), item.get("phase"))
            return None
        if etype == "response.created":
            resp = ev.get("response") or {}
            self.response_id = resp.get("id")
            self.model = resp.get("model")
            return ResponseStarted(str(self.response_id), str(self.model), self.request_id)
        if etype in ("response.completed", "response.incomplete"):
            resp = ev.get("response") or {}
            self.finished = True
            details = resp.get("incomplete_details")
            status: Literal["completed", "incomplete"] = (
                "incomplete" if etype == "response.incomplete" else "completed"
            )
            return Finished(
                status=status,
                response_id=resp.get("id") or self.response_id,
                usage=_usage(resp.get("usage")),
                model=resp.get("model") or self.model,
                reason=details.get("reason") if isinstance(details, dict) else None,
                refusal=self.refusal,
            )
        if etype == "response.failed":
            resp = ev.get("response") or {}
            err = resp.get("error") if isinstance(resp.get("error"), dict) else {}
            code = err.get("code")
            raise UpstreamFailed(request_id=self.request_id, upstream_code=code)
        if etype == "error":
            nested = ev.get("error")
            if isinstance(nested, dict):
                code = nested.get("code") or nested.get("type")
            else:
                code = ev.get("code")
            raise _from_event_code(code if isinstance(code, str) else None, self.request_id)
        return None


# -- providers -----------------------------------------------------------------------------------


class Provider:
    """A model service: `stream(request, cancel)` yields neutral events."""

    name: str = "provider"
    stateful: bool = False

    def stream(
        self, request: ResponseRequest, cancel: CancelToken | None = None
    ) -> Iterator[Event]:
        """Yield neutral events for one request; raise `ProviderError` on failure."""
        raise NotImplementedError

    def close(self) -> None:
        """Release pooled connections."""


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


# -- registry ------------------------------------------------------------------------------------


def _number(environ: Mapping[str, str], key: str, default: float) -> float:
    raw = environ.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{key} must be a number") from None
    if value < 0:
        raise ValueError(f"{key} must not be negative")
    return value


def providers_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Provider]:
    """Build the configured providers (empty when no `OPENAI_API_KEY`)."""
    env = os.environ if environ is None else environ
    key = env.get("OPENAI_API_KEY", "").strip()
    if not key:
        return {}
    provider = OpenAIProvider(
        key,
        base_url=env.get("OPENAI_BASE_URL", "").strip() or None,
        read_timeout=_number(env, "CHAT_UPSTREAM_READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
        max_retries=int(_number(env, "CHAT_UPSTREAM_MAX_RETRIES", DEFAULT_MAX_RETRIES)),
    )
    return {provider.name: provider}
