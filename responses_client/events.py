"""What a model call takes and what it yields: the request and the neutral stream events.

Plain frozen dataclasses; no SDK type appears here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class ResponseRequest:
    """One model call, the same for every protocol.

    `input` is a string or a list of turns `{"role": "user" | "assistant", "content": ...}`. A
    turn's `content` is a str, or (a user turn with attachments) a list of neutral parts:
    `{"type": "text", "text": str}` and `{"type": "image", "media_type": "image/png" | "image/jpeg"
    | "image/webp" | "image/gif", "data": "<base64 of the bytes sent>", "name": str}`. Each
    adapter puts them in its protocol's form (`responses_client.parts`: Responses `input_text` /
    `input_image` with a `data:` URL, Chat Completions `text` / `image_url`, Anthropic `text` /
    base64 `image` blocks, Gemini `text` / `inline_data`); a str content is sent as it always was,
    and an assistant turn is replayed as plain text. The image is the copy meant for that
    protocol (the app downscales and converts before). `previous_response_id` is the provider's own chain id
    (Responses `previous_response_id`, Gemini `previous_interaction_id`, an Anthropic thread's
    `previous_message_id`); an adapter whose chain is gone raises `PreviousResponseNotFound`.
    `options` are the user's per-model options (API.md "Options"), `provider_options` the
    operator's from the providers file (e.g. Gemini `safety_settings`); each adapter maps them.
    """

    model: str
    input: str | list[dict[str, Any]]
    instructions: str | None
    previous_response_id: str | None = None
    store: bool = True
    max_output_tokens: int | None = None
    reasoning: dict[str, Any] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    provider_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResponseStarted:
    """The upstream accepted the request; the response id is known at once (never empty).

    `metadata` holds the identifiers API.md keeps (`system_fingerprint`, `service_tier`, the
    rate-limit headers' remaining counts as `ratelimit_remaining_requests` / `..._tokens`), each
    already cleaned by the identifier rule.
    """

    response_id: str
    model: str | None
    request_id: str | None = None
    metadata: Mapping[str, str | int] = field(default_factory=dict)


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
    """The terminal event: `completed` or `incomplete` (then `reason` says why).

    `reason` is API.md's normalised code (`max_output_tokens`, `content_filter`, `refusal`,
    `context_window`, `other`); `finish_reason` is the provider's own value, kept only when it
    passes the identifier rule.

    `usage` is normalised the same for every provider: `input_tokens` (all input, cache reads
    and writes included), `cached_tokens` (cache reads), `cache_write_tokens`, `output_tokens`
    (reasoning included), `reasoning_tokens`, `total_tokens`. `cost_usd` is a cost the provider
    billed itself (OpenRouter's `usage.cost`), else None; `metadata` as on `ResponseStarted`
    (values learnt late in the stream, e.g. a Chat Completions `system_fingerprint`).
    """

    status: Literal["completed", "incomplete"]
    response_id: str | None
    usage: dict[str, int] | None
    model: str | None
    reason: str | None = None
    refusal: bool = False
    finish_reason: str | None = None
    cost_usd: float | None = None
    metadata: Mapping[str, str | int] = field(default_factory=dict)


Event = ResponseStarted | TextDelta | ReasoningDelta | Idle | Finished


@dataclass(frozen=True)
class Compacted:
    """A provider-side compaction of a chain (the Responses API's `POST /responses/compact`).

    `output` is the compacted item list as the provider returned it (the user messages, then one
    opaque `compaction` item): sent back as `input` to start a new chain, to this provider only.
    `usage` is normalised as on `Finished`.
    """

    response_id: str | None
    output: list[dict[str, Any]]
    usage: dict[str, int] | None
    request_id: str | None = None
