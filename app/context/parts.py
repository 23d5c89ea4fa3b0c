"""A message's content as the context plan holds it (API "Attachments"): its text alone, or, when it
carries attachments, a list of parts with a reference per attachment (`{"type": "attachment", "id",
"kind", "name"}`) beside a text part, and the token estimate of those attachments.

The references become the neutral image and text parts only just before a candidate's request
goes out (app/turns/attachments.py), so a plan stays cheap and says nothing of any protocol.
Pure functions over records; imports neither Flask nor an SDK.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from conversation_manager import Attachment, Message
from responses_client.parts import IMAGE_TOKENS

__all__ = [
    "ATTACHMENT_PART",
    "attachment_ref",
    "attachment_tokens",
    "content_of",
    "has_content",
    "holds_image",
    "images_in",
    "new_input",
]

ATTACHMENT_PART = "attachment"
# An image costs about (width x height) / 750 tokens, at most about 1,600 (the providers' own
# rules of thumb: the copy sent is at most 1,568 px on its long edge); one of unknown size the most.
# The one figure is responses_client's, which counts images the same way.
IMAGE_MAX_TOKENS = IMAGE_TOKENS
PIXELS_PER_TOKEN = 750
# A text file goes in as a fenced block: about four bytes a token.
TEXT_BYTES_PER_TOKEN = 4


def attachment_ref(attachment: Attachment) -> dict[str, Any]:
    """The plan's reference to one attachment (the content is read only when it is sent)."""
    return {
        "type": ATTACHMENT_PART,
        "id": attachment.id,
        "kind": attachment.kind,
        "name": attachment.name,
    }


def attachment_tokens(attachments: Iterable[Attachment]) -> int:
    """The estimated tokens of `attachments` as sent (raw: before any calibration)."""
    total = 0
    for attachment in attachments:
        if attachment.kind == "image":
            if attachment.width and attachment.height:
                pixels = attachment.width * attachment.height
                total += min(IMAGE_MAX_TOKENS, math.ceil(pixels / PIXELS_PER_TOKEN))
            else:
                total += IMAGE_MAX_TOKENS
        else:
            total += math.ceil(attachment.bytes / TEXT_BYTES_PER_TOKEN)
    return total


def content_of(text: str, attachments: Sequence[Attachment]) -> str | list[dict[str, Any]]:
    """A message's content: `text` itself, or with attachments their references, then the text
    (images before the words about them, as the providers advise)."""
    if not attachments:
        return text
    parts: list[dict[str, Any]] = [attachment_ref(a) for a in attachments]
    if text:
        parts.append({"type": "text", "text": text})
    return parts


def new_input(text: str, attachments: Sequence[Attachment]) -> str | list[dict[str, Any]]:
    """A request's input holding only the new message: its text, or one user turn of parts."""
    if not attachments:
        return text
    return [{"role": "user", "content": content_of(text, attachments)}]


def has_content(message: Message) -> bool:
    """Whether a message has anything to send (text, or attachments)."""
    return bool(message.text or message.attachments)


def images_in(messages: Iterable[Message]) -> list[Attachment]:
    """The images the messages carry, in order."""
    return [a for m in messages for a in m.attachments if a.kind == "image"]


def holds_image(attachments: Iterable[Attachment]) -> bool:
    """Whether any of `attachments` is an image."""
    return any(a.kind == "image" for a in attachments)
