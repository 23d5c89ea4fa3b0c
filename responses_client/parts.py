"""Neutral content parts of a request turn, in each protocol's own form (API.md "Attachments").

A turn's `content` (`ResponseRequest.input`) is a str or a list of neutral parts:
`{"type": "text", "text": str}` and `{"type": "image", "media_type": "image/png", "data":
"<base64 str>", "name": str}`. `convert` maps such a list with one protocol's `PartForm`; a str
content is returned unchanged, so a text-only turn's body is what it always was. A part of any
other type passes unchanged: it is already in the protocol's own form (e.g. the `input_text` parts
of a compacted Responses chain sent back as input). Assistant turns are replayed as plain text
(`text_of`). Empty text parts are left out (Anthropic and Gemini refuse them).

Imports no SDK and nothing of the app: each adapter picks its form here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# What one image is estimated to take of the context, in tokens, whatever its size: Anthropic's
# w*h/750 for about 1.15 megapixels, the most it bills after its own downscale (the app's context
# plan uses min(1600, w*h/750)). `responses_client.capabilities` counts this, never the base64.
IMAGE_TOKENS = 1600


@dataclass(frozen=True)
class PartForm:
    """One protocol's form of a text part (from its text) and of an image part (from the part)."""

    text: Callable[[str], dict[str, Any]]
    image: Callable[[dict[str, Any]], dict[str, Any]]


def is_image(part: Any) -> bool:
    """True for a neutral image part."""
    return isinstance(part, dict) and part.get("type") == "image"


def data_url(part: dict[str, Any]) -> str:
    """The `data:` URL of an image part (`data:<media_type>;base64,<data>`)."""
    media_type, data = _image_fields(part)
    return f"data:{media_type};base64,{data}"


def image_bytes(part: dict[str, Any]) -> bytes:
    """The raw bytes of an image part (its `data` decoded from base64); ValueError when not base64."""
    _, data = _image_fields(part)
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error:
        raise ValueError("an image part's data is not base64") from None


def _image_fields(part: dict[str, Any]) -> tuple[str, str]:
    media_type, data = part.get("media_type"), part.get("data")
    if not isinstance(media_type, str) or not media_type or not isinstance(data, str) or not data:
        # The app builds these parts itself: a broken one is a bug to see, not to send.
        raise ValueError("an image part needs a media_type and base64 data")
    return media_type, data


def text_of(content: Any) -> str:
    """A turn's content as plain text: a str as is, a part list's text parts joined (images left out)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
    )


def has_neutral(content: Any) -> bool:
    """True when `content` is a part list holding a neutral text or image part."""
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") in ("text", "image") for p in content
    )


def content_for(role: Any, content: Any, form: PartForm) -> Any:
    """A turn's content for the wire: neutral parts in `form`, an assistant's as plain text.

    Anything without neutral parts (a str, a list already in the protocol's form) is returned
    unchanged, the same object.
    """
    if not has_neutral(content):
        return content
    if role == "assistant":
        return text_of(content)
    return convert(content, form)


def convert(content: Any, form: PartForm) -> Any:
    """`content` with its neutral parts in `form`; a str (or anything but a list) unchanged."""
    if not isinstance(content, list):
        return content
    out: list[Any] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text = part.get("text")
            if isinstance(text, str) and text:
                out.append(form.text(text))
        elif kind == "image":
            out.append(form.image(part))
        else:
            out.append(part)  # already the protocol's own form
    return out


# -- the forms, one per protocol ------------------------------------------------------------------


def _anthropic_image(part: dict[str, Any]) -> dict[str, Any]:
    media_type, data = _image_fields(part)
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _gemini_image(part: dict[str, Any]) -> dict[str, Any]:
    # A `types.Part` as a dict: the SDK's Blob takes raw bytes and sends them as base64.
    return {"inline_data": {"mime_type": _image_fields(part)[0], "data": image_bytes(part)}}


def _interactions_image(part: dict[str, Any]) -> dict[str, Any]:
    media_type, data = _image_fields(part)
    return {"type": "image", "data": data, "mime_type": media_type}


RESPONSES = PartForm(
    text=lambda text: {"type": "input_text", "text": text},
    image=lambda part: {"type": "input_image", "image_url": data_url(part)},
)
CHAT_COMPLETIONS = PartForm(
    text=lambda text: {"type": "text", "text": text},
    image=lambda part: {"type": "image_url", "image_url": {"url": data_url(part)}},
)
ANTHROPIC = PartForm(text=lambda text: {"type": "text", "text": text}, image=_anthropic_image)
GEMINI = PartForm(text=lambda text: {"text": text}, image=_gemini_image)  # generateContent
GEMINI_INTERACTIONS = PartForm(
    text=lambda text: {"type": "text", "text": text}, image=_interactions_image
)
