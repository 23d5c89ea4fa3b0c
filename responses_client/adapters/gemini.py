"""The Gemini adapter over the google-genai SDK: generateContent streaming (`v1beta`), typed chunks in, neutral events out.

One upstream request per `stream()`: the SDK's retries, automatic continuation and tool loop are
off. The SDK runs over `CancellableTransport` (see `gemini_client`), so the turn's CancelToken
stops the request while connecting, waiting for the headers or streaming, and every response
the SDK opened is closed when the stream ends for whatever reason. Chunks are read through the
SDK's typed iterator (API.md: Gemini's budget is the SDK's own cost). Configured `stateful=True`,
the provider speaks the Interactions API instead (`gemini_interactions`). No google-genai or
httpx2 object or exception leaves this module.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import httpx2
from google.genai import errors as genai_errors
from google.genai import types

from responses_client import parts
from responses_client.adapters.gemini_client import (
    DEFAULT_API_VERSION,
    build_client,
    call_scope,
    close_all,
    interactions_of,
)
from responses_client.adapters.gemini_errors import (
    error_after_200,
    error_from_status,
    request_id_from,
)
from responses_client.adapters.gemini_interactions import InteractionsCall
from responses_client.adapters.gemini_options import generate_config
from responses_client.adapters.http_errors import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DRAIN_ERRORS,
    log_provider_error,
    stream_lost,
)
from responses_client.adapters.transport import drain
from responses_client.cancel import CancelToken
from responses_client.capabilities import Capabilities, check_request
from responses_client.errors import (
    BadRequest,
    ContentBlocked,
    Interrupted,
    ProviderError,
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
from responses_client.responses_events import malformed_error

logger = logging.getLogger("responses_client")  # one logger name for the whole package

IDLE = Idle()
# What reading the answer can raise besides the SDK's APIError: the transport's errors, and
# ValueError for a chunk that is not JSON or fails the SDK's validation (a bad thoughtSignature).
READ_ERRORS: tuple[type[BaseException], ...] = (httpx2.HTTPError, OSError, ValueError)
_CONFIG_FIELDS = frozenset(types.GenerateContentConfig.model_fields)
# The SDK's chunk iterator also raises its APIError and ValueError (an unreadable chunk).
_DRAIN_ERRORS: tuple[type[BaseException], ...] = (*DRAIN_ERRORS, genai_errors.APIError, ValueError)

# Gemini finishReason -> API.md's incomplete reason; STOP is a completed reply, the rest "other".
FINISH_REASONS = {
    "MAX_TOKENS": "max_output_tokens",
    # Automatic continuation is off: the per-request decode limit cut the reply (continuable).
    "CONTINUATION": "max_output_tokens",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
}


def _value(enum_or_str: Any) -> Any:
    return getattr(enum_or_str, "value", enum_or_str)


def contents_of(value: str | list[dict[str, Any]]) -> list[types.ContentDict]:
    """The request's input as Gemini `contents` (assistant turns are the `model` role).

    A user turn's neutral parts become `text` and `inline_data` parts (a Blob of the image's raw
    bytes, which the SDK sends as base64 `inlineData`); an assistant turn is plain text.
    """
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"text": value}]}]
    out: list[types.ContentDict] = []
    for turn in value:
        content = turn.get("content")
        wire: list[types.PartDict]
        if turn.get("role") == "assistant" or not parts.has_neutral(content):
            text = parts.text_of(content)  # other parts: only their text is replayed
            wire = [{"text": text}] if text else []
        else:
            wire = parts.convert(content, parts.GEMINI)
        if not wire:
            continue  # an empty part is refused by the API
        role = "model" if turn.get("role") == "assistant" else "user"
        out.append({"role": role, "parts": wire})
    return out


def usage_of(u: Any) -> dict[str, int] | None:
    """Neutral usage from `usageMetadata` (prompt includes cached; candidates exclude thoughts)."""
    if u is None:
        return None
    prompt = u.prompt_token_count or 0
    tool = u.tool_use_prompt_token_count or 0
    candidates = u.candidates_token_count or 0
    thoughts = u.thoughts_token_count or 0
    return {
        "input_tokens": prompt + tool,
        "cached_tokens": u.cached_content_token_count or 0,
        "cache_write_tokens": 0,
        "output_tokens": candidates + thoughts,
        "reasoning_tokens": thoughts,
        "total_tokens": u.total_token_count or prompt + tool + candidates + thoughts,
    }


class GenerateState:
    """One generateContent stream's typed chunks -> neutral events; raises `ProviderError`s."""

    def __init__(self, request_id: str | None, secrets: Iterable[str] = ()) -> None:
        self.request_id = request_id
        self.secrets = tuple(secrets)
        self.response_id: str | None = None
        self.model: str | None = None
        self.usage: Any = None
        self.text_seen = False
        self.finished = False

    def _clean(self, value: Any) -> str | None:
        return clean_token(value, self.secrets)

    def handle(self, chunk: Any) -> list[Event]:
        """The events one chunk carries, in order (a finishReason ends with `Finished`)."""
        out: list[Event] = []
        candidates = chunk.candidates
        if self.response_id is None:
            feedback = chunk.prompt_feedback
            if not candidates and feedback is not None and feedback.block_reason is not None:
                # HTTP 200 and no candidates: the prompt itself was refused.
                raise ContentBlocked(
                    request_id=self.request_id,
                    upstream_code=self._clean(_value(feedback.block_reason)),
                )
            response_id = self._clean(chunk.response_id)
            if response_id is None:
                raise malformed_error("missing_response_id", self.request_id, text_seen=False)
            self.response_id = response_id
            self.model = self._clean(chunk.model_version)
            out.append(ResponseStarted(response_id, self.model, self.request_id))
        if chunk.usage_metadata is not None:
            self.usage = chunk.usage_metadata  # cumulative: the last one counts
        if not candidates:
            return out
        candidate = candidates[0]
        content = candidate.content
        if content is not None and content.parts:
            for part in content.parts:
                text = part.text
                if text:
                    if part.thought:
                        out.append(ReasoningDelta(text))
                    else:
                        self.text_seen = True
                        out.append(TextDelta(text))
        if candidate.finish_reason is not None:
            out.append(self._finished(candidate.finish_reason, chunk))
        return out

    def _finished(self, finish_reason: Any, chunk: Any) -> Finished:
        self.finished = True
        raw = self._clean(_value(finish_reason))
        metadata: dict[str, str | int] = {}
        tier = self._clean(_value(getattr(self.usage, "traffic_type", None)))
        if tier:
            metadata["service_tier"] = tier
        reason = None
        if raw != "STOP":
            reason = FINISH_REASONS.get(raw or "", "other")
        elif not self.text_seen:
            reason = "other"  # STOP with no answer at all: never an empty success
        return Finished(
            status="completed" if reason is None else "incomplete",
            response_id=self.response_id,
            usage=usage_of(self.usage),
            model=self._clean(chunk.model_version) or self.model,
            reason=reason,
            finish_reason=raw,
            metadata=metadata,
        )

    def lost(self, exc: BaseException) -> ProviderError:
        """The connection failed or a chunk was unreadable: `Interrupted` after text."""
        if isinstance(exc, ValueError):
            return malformed_error("malformed_event", self.request_id, text_seen=self.text_seen)
        return stream_lost(exc, self.request_id, text_seen=self.text_seen)

    def ended_early(self) -> ProviderError:
        """The stream closed before a chunk with a finishReason."""
        err_cls = Interrupted if self.text_seen else UpstreamUnavailable
        return err_cls(request_id=self.request_id, upstream_code="stream_ended_early")


class GeminiProvider:
    """Gemini's Developer API (`generateContent`, or Interactions when `stateful`), at `base_url`.

    `base_url` is a root (the SDK adds `/{api_version}/...`); the operator's options (e.g.
    `safety_settings`) come with each request as its `provider_options`. `secrets` are further
    values (besides the key) that must never come back out of an upstream string.
    """

    def __init__(
        self,
        api_key: str,
        *,
        name: str = "gemini",
        base_url: str | None = None,
        stateful: bool = False,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        capabilities: Capabilities | None = None,
        secrets: Iterable[str] = (),
        api_version: str = DEFAULT_API_VERSION,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.stateful = stateful
        self.api_version = api_version
        self.read_timeout = read_timeout
        self.capabilities = capabilities or Capabilities(protocol="gemini", stateful=stateful)
        self._secrets = tuple(s for s in (api_key, *secrets) if s)
        self._client, self._http = build_client(
            api_key,
            base_url=base_url,
            api_version=api_version,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self._interactions = (
            InteractionsCall(interactions_of(self._client), name=name, secrets=self._secrets)
            if stateful
            else None
        )

    def __repr__(self) -> str:
        return (
            f"GeminiProvider(name={self.name!r}, base_url={self.base_url!r}, "
            f"stateful={self.stateful!r}, api_version={self.api_version!r}, "
            f"read_timeout={self.read_timeout!r})"
        )

    def close(self) -> None:
        """Close the connection pool (the SDK leaves a client it was given open)."""
        self._client.close()
        self._http.close()

    def request_config(self, request: ResponseRequest) -> dict[str, Any]:
        """The `GenerateContentConfig` fields sent for `request` (instructions on every turn)."""
        return generate_config(request, request.provider_options or {}, _CONFIG_FIELDS)

    def stream(
        self, request: ResponseRequest, cancel: CancelToken | None = None
    ) -> Iterator[Event]:
        """Send one request and relay its events; a stop at any stage simply ends the stream."""
        cancel = cancel or CancelToken()
        if cancel.cancelled:
            return
        check_request(self.capabilities, request)
        if self._interactions is not None:
            yield from self._interactions.stream(request, cancel, request.provider_options or {})
            return
        yield from self._generate(request, cancel)

    def _generate(self, request: ResponseRequest, cancel: CancelToken) -> Iterator[Event]:
        opened: list[httpx2.Response] = []
        chunks = self._client.models.generate_content_stream(
            model=request.model,
            contents=contents_of(request.input),
            config=self.request_config(request),  # type: ignore[arg-type]
        )
        state = GenerateState(None, self._secrets)
        try:
            while True:
                try:
                    with call_scope(cancel, opened):  # connect, send, headers, each read
                        chunk = next(chunks)
                except StopIteration:
                    break
                except genai_errors.APIError as exc:
                    if cancel.cancelled:
                        return  # stopped while the refusal came in: a stopped stream simply ends
                    raise self._api_error(exc, opened, state) from None
                except READ_ERRORS as exc:
                    if cancel.cancelled:
                        return
                    cancel.detach_socket()
                    if not opened and isinstance(exc, ValueError):
                        # The SDK refused the request itself (an operator option of the wrong
                        # type) before sending anything: not the upstream's fault.
                        raise BadRequest(upstream_code="invalid_request") from None
                    raise state.lost(exc) from None
                if cancel.cancelled:
                    return
                if state.response_id is None and opened:
                    state.request_id = request_id_from(opened[-1].headers, self._secrets)
                yield from state.handle(chunk)
                if state.finished:
                    # Read past the last chunk so the connection goes back to the pool.
                    drain(chunks, cancel, _DRAIN_ERRORS)
                    return
                yield IDLE  # one chunk handed over: let the coalescing stage flush
            if cancel.cancelled:
                return
            raise state.ended_early()
        except ProviderError as err:
            log_provider_error(self.name, "upstream error", err)
            raise
        finally:
            # Before the responses are closed: a stop from now on must not reach a pooled socket.
            cancel.detach_socket()
            close = getattr(chunks, "close", None)  # a generator: its body's cleanup runs now
            if close is not None:
                close()
            close_all(opened)

    def _api_error(
        self,
        exc: genai_errors.APIError,
        opened: list[httpx2.Response],
        state: GenerateState,
    ) -> ProviderError:
        status = exc.code if isinstance(exc.code, int) else None
        accepted = bool(opened) and opened[-1].status_code == 200
        if accepted:  # an error chunk inside the stream the upstream had accepted
            request_id = state.request_id or request_id_from(opened[-1].headers, self._secrets)
            return error_after_200(status, exc.details, request_id, secrets=self._secrets)
        headers = getattr(exc.response, "headers", None)
        return error_from_status(status or 0, exc.details, headers, secrets=self._secrets)
