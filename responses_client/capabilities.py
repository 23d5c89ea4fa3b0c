"""What a provider can take, as data (`Capabilities`), and the check made before any call.

A figure that is not known is None, never a guess. Imports no SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from responses_client.errors import ContextTooLong
from responses_client.events import ResponseRequest
from responses_client.parts import IMAGE_TOKENS, is_image

ProtocolName = Literal["responses", "chat_completions", "anthropic", "gemini", "fake"]
CHARS_PER_TOKEN = 4  # the usual rough figure; the app's own counter passes exact counts


@dataclass(frozen=True)
class Capabilities:
    """A provider's protocol and limits; None means unknown (`input`: kinds such as "text", "image")."""

    protocol: ProtocolName
    stateful: bool
    context_window: int | None = None
    max_output_tokens: int | None = None
    input: tuple[str, ...] | None = None
    reasoning: tuple[str, ...] | None = None


def _chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if is_image(value):
        # A neutral image part: its base64 data is not text; it costs a fixed IMAGE_TOKENS.
        return IMAGE_TOKENS * CHARS_PER_TOKEN
    if isinstance(value, dict):
        return sum(_chars(v) for k, v in value.items() if k in ("content", "text"))
    if isinstance(value, list):
        return sum(_chars(v) for v in value)
    return 0


def estimate_input_tokens(request: ResponseRequest) -> int:
    """A rough count of the tokens the request's instructions and input take.

    Text at 4 characters a token; an image part at `parts.IMAGE_TOKENS` (1,600) whatever its
    size, never its base64 text.
    """
    chars = _chars(request.instructions) + _chars(request.input)
    return -(-chars // CHARS_PER_TOKEN)


def check_request(
    capabilities: Capabilities, request: ResponseRequest, *, input_tokens: int | None = None
) -> None:
    """Raise `ContextTooLong` before any call when the request cannot fit the model's window.

    The output reserved is the request's `max_output_tokens`, else the model's limit; the check is
    made only when the window and that output figure are both known. `input_tokens` is the
    caller's own count when it has one, else a rough estimate.
    """
    window = capabilities.context_window
    output = request.max_output_tokens or capabilities.max_output_tokens
    if window is None or output is None:
        return
    used = estimate_input_tokens(request) if input_tokens is None else input_tokens
    if used + output > window:
        raise ContextTooLong()  # no upstream was asked: no status, no upstream code
