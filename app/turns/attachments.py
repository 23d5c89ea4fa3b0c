"""Attachments in a turn (API "Attachments"): resolve the ids a turn names, and turn the context
plan's references (`{"type": "attachment", "id", "kind", "name"}`, app/context/parts.py) into the
neutral parts a request carries, for one candidate just before its request goes out.

An image becomes `{"type": "image", "media_type", "data" (base64), "name"}` from the copy made for
the candidate's protocol; to a text-only model (its known `input` lacks `image`) an image replayed
from history becomes the text `[image: <name> not shown to this model]` (the new message's image
never reaches one: the plan refused or skipped it). A text file becomes a text part holding its
fenced block. The adapters turn neutral parts into each protocol's form.

Reads attachment content through an `AttachmentSource` (app.attachments.AttachmentService).
Imports no Flask and no SDK.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import conversation_manager as cm
import responses_client as rc
from app.attachments.errors import AttachmentRefused, BadAttachmentRequest
from app.context.parts import ATTACHMENT_PART

from .plan import Candidate, takes_images

log = logging.getLogger(__name__)

IMAGE_NOTE = "[image: {name} not shown to this model]"
# A file gone from the store (it cannot be while a conversation uses it; a damaged store): the
# turn goes on without it, and says so to the model.
GONE_NOTE = "[attachment: {name} is no longer available]"


class AttachmentSource(Protocol):
    """The attachments as a turn uses them (app.attachments.AttachmentService)."""

    def resolve(self, user: str, ids: list[str]) -> list[cm.Attachment]:
        """The user's attachments for these ids, in order; `BadAttachmentRequest` for another."""
        ...

    def image_for(self, user: str, attachment: cm.Attachment, protocol: str) -> tuple[str, bytes]:
        """(media_type, data) of the image copy sent to a provider of `protocol`."""
        ...

    def text_block(self, user: str, attachment: cm.Attachment) -> str:
        """A text attachment as the fenced block the model reads."""
        ...


def resolve(source: AttachmentSource | None, user: str, ids: Sequence[str]) -> list[cm.Attachment]:
    """The attachments a turn names, checked as this user's (400 `bad_attachment` otherwise)."""
    if not ids:
        return []
    if source is None:  # a deployment without an attachment store knows no id
        raise BadAttachmentRequest("this server keeps no attachments")
    return source.resolve(user, list(ids))


def protocol_of(registry: rc.ProviderRegistry, provider: rc.Provider) -> str:
    """The protocol a provider speaks (which form of image it is sent)."""
    own = registry.settings.get(provider.name)
    if own is not None:
        return own.protocol
    return str(getattr(getattr(provider, "capabilities", None), "protocol", "fake"))


def holds_references(value: Any) -> bool:
    """Whether a request input holds an attachment reference anywhere in its turns."""
    if not isinstance(value, list):
        return False
    for turn in value:
        content = turn.get("content") if isinstance(turn, dict) else None
        if isinstance(content, list) and any(
            isinstance(p, dict) and p.get("type") == ATTACHMENT_PART for p in content
        ):
            return True
    return False


def known_attachments(
    conversation: cm.Conversation, extra: Iterable[cm.Attachment] = ()
) -> dict[str, cm.Attachment]:
    """The records behind every reference a plan of `conversation` may hold, by id."""
    known = {a.id: a for m in conversation.messages for a in m.attachments}
    known.update((a.id, a) for a in extra)
    return known


@dataclass
class PartMaker:
    """Makes one turn's neutral parts from references, once per attachment and protocol (a
    fallback to a provider of the same protocol reuses the copy)."""

    source: AttachmentSource
    user: str
    known: dict[str, cm.Attachment]
    _images: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _texts: dict[str, str] = field(default_factory=dict)

    def part(self, ref: dict[str, Any], protocol: str, images: bool) -> dict[str, Any]:
        """The neutral part for one reference."""
        name = str(ref.get("name") or "")
        attachment = self.known.get(str(ref.get("id")))
        if ref.get("kind") == "image" and not images:
            return {"type": "text", "text": IMAGE_NOTE.format(name=name)}
        try:
            if attachment is None:
                raise cm.NotFound("attachment")
            if attachment.kind == "image":
                return self._image(attachment, protocol)
            return {"type": "text", "text": self._text(attachment)}
        except (cm.NotFound, AttachmentRefused, ValueError, OSError):
            log.warning("attachment_unavailable id=%s", ref.get("id"))
            return {"type": "text", "text": GONE_NOTE.format(name=name)}

    def _image(self, attachment: cm.Attachment, protocol: str) -> dict[str, Any]:
        key = (attachment.id, protocol)
        part = self._images.get(key)
        if part is None:
            media_type, data = self.source.image_for(self.user, attachment, protocol)
            part = {
                "type": "image",
                "media_type": media_type,
                "data": base64.b64encode(data).decode("ascii"),
                "name": attachment.name,
            }
            self._images[key] = part
        return part

    def _text(self, attachment: cm.Attachment) -> str:
        text = self._texts.get(attachment.id)
        if text is None:
            text = self._texts[attachment.id] = self.source.text_block(self.user, attachment)
        return text

    def input(self, value: Any, protocol: str, images: bool) -> Any:
        """A request input with every reference made a neutral part (other items unchanged)."""
        if not holds_references(value):
            return value
        out: list[Any] = []
        for turn in value:
            content = turn.get("content") if isinstance(turn, dict) else None
            if isinstance(content, list):
                parts = [
                    self.part(p, protocol, images)
                    if isinstance(p, dict) and p.get("type") == ATTACHMENT_PART
                    else p
                    for p in content
                ]
                out.append({**turn, "content": parts})
            else:
                out.append(turn)
        return out

    def candidate(self, registry: rc.ProviderRegistry, candidate: Candidate) -> Candidate:
        """`candidate` with its context's input holding neutral parts, for its protocol and for
        whether its model takes images."""
        context = candidate.context
        if context is None or not holds_references(context.input):
            return candidate
        protocol = protocol_of(registry, candidate.provider)
        images = takes_images(registry, candidate.provider.name, candidate.model)
        made = self.input(context.input, protocol, images)
        return replace(candidate, context=replace(context, input=made))
