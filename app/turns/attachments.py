"""Attachments in a turn (API "Attachments"): resolve the ids a turn names, and turn the context
plan's references (`{"type": "attachment", "id", "kind", "name"}`, app/context/parts.py) into the
neutral parts a request carries, for one candidate just before its request goes out.

An image becomes `{"type": "image", "media_type", "data" (base64), "name"}` from the copy made for
the candidate's protocol; to a text-only model (its known `input` lacks `image`) an image replayed
from history becomes the text `[image: <name> not shown to this model]` (the new message's image
never reaches one: the plan refused or skipped it). One request carries at most its protocol's
`ImageBudget` (a count and bytes of base64): the newest images are sent, the older ones become
`[image: <name> left out to fit the request]`, and the plan's estimate counts those notes. A text file becomes a text part holding its
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

from .candidates import Candidate, takes_images

log = logging.getLogger(__name__)

IMAGE_NOTE = "[image: {name} not shown to this model]"
# An image past the protocol's budget of images per request (the newest are sent).
LEFT_OUT_NOTE = "[image: {name} left out to fit the request]"
MB = 1000 * 1000


@dataclass(frozen=True)
class ImageBudget:
    """How many images, and how many bytes of their base64, one request of a protocol carries."""

    count: int
    base64_bytes: int


# providers.md §1.7: Anthropic takes 32 MB per request and 100 images for models of a 200k window
# (600 for larger ones); room is left for the text. Gemini's inline data is about 20 MB a request.
# The others publish no figure: 20 MB and 50 images, conservatively.
IMAGE_BUDGETS = {
    "anthropic": ImageBudget(100, 30 * MB),
    "gemini": ImageBudget(50, 18 * MB),
}
DEFAULT_IMAGE_BUDGET = ImageBudget(50, 20 * MB)
ANTHROPIC_SMALL_WINDOW = 200_000  # models up to this window take 100 images, larger ones 600
ANTHROPIC_LARGE_WINDOW_IMAGES = 600


def image_budget(protocol: str, window: int | None) -> ImageBudget:
    """The image budget of one request to a model of `protocol` with context `window`."""
    budget = IMAGE_BUDGETS.get(protocol, DEFAULT_IMAGE_BUDGET)
    if protocol == "anthropic" and window is not None and window > ANTHROPIC_SMALL_WINDOW:
        return replace(budget, count=ANTHROPIC_LARGE_WINDOW_IMAGES)
    return budget


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

    def part(
        self, ref: dict[str, Any], protocol: str, images: bool, *, left_out: bool = False
    ) -> dict[str, Any]:
        """The neutral part for one reference (`left_out`: an image past the request's budget)."""
        name = str(ref.get("name") or "")
        attachment = self.known.get(str(ref.get("id")))
        if ref.get("kind") == "image" and not images:
            return {"type": "text", "text": IMAGE_NOTE.format(name=name)}
        if ref.get("kind") == "image" and left_out:
            return {"type": "text", "text": LEFT_OUT_NOTE.format(name=name)}
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

    def _left_out(
        self, value: list[Any], protocol: str, budget: ImageBudget
    ) -> tuple[set[tuple[int, int]], list[cm.Attachment]]:
        """The places (turn, part) of the images past `budget`, newest kept: from the last image
        back, each counts and its copy's base64 adds up; the first that does not fit goes, and so
        do all older ones. Returns them with their records (for the estimate)."""
        places: list[tuple[int, int, cm.Attachment]] = []
        for t, turn in enumerate(value):
            content = turn.get("content") if isinstance(turn, dict) else None
            for p, part in enumerate(content if isinstance(content, list) else ()):
                if not isinstance(part, dict) or part.get("type") != ATTACHMENT_PART:
                    continue
                attachment = self.known.get(str(part.get("id")))
                if part.get("kind") == "image" and attachment is not None:
                    places.append((t, p, attachment))
        count = size = 0
        full = False
        out: set[tuple[int, int]] = set()
        omitted: list[cm.Attachment] = []
        for t, p, attachment in reversed(places):
            full = full or count + 1 > budget.count  # past the count: not even read
            if not full:
                try:
                    data = len(self._image(attachment, protocol)["data"])
                except (cm.NotFound, AttachmentRefused, ValueError, OSError):
                    continue  # sent as the note that it is gone (`part`), counted as nothing
                full = size + data > budget.base64_bytes
                count, size = count + 1, size + data
            if full:
                out.add((t, p))
                omitted.append(attachment)
        return out, omitted

    def made(
        self, value: Any, protocol: str, images: bool, budget: ImageBudget | None = None
    ) -> tuple[Any, list[cm.Attachment]]:
        """A request input with every reference made a neutral part (other items unchanged),
        with the images left out past `budget` (None: no budget) as notes, and those images."""
        if not holds_references(value):
            return value, []
        left_out, omitted = (
            self._left_out(value, protocol, budget) if images and budget else (set(), [])
        )
        out: list[Any] = []
        for t, turn in enumerate(value):
            content = turn.get("content") if isinstance(turn, dict) else None
            if isinstance(content, list):
                parts = [
                    self.part(part, protocol, images, left_out=(t, p) in left_out)
                    if isinstance(part, dict) and part.get("type") == ATTACHMENT_PART
                    else part
                    for p, part in enumerate(content)
                ]
                out.append({**turn, "content": parts})
            else:
                out.append(turn)
        return out, omitted

    def input(
        self, value: Any, protocol: str, images: bool, budget: ImageBudget | None = None
    ) -> Any:
        """A request input with every reference made a neutral part (`made` without the list)."""
        return self.made(value, protocol, images, budget)[0]

    def candidate(self, registry: rc.ProviderRegistry, candidate: Candidate) -> Candidate:
        """`candidate` with its context's input holding neutral parts, for its protocol, for
        whether its model takes images and within its protocol's image budget (the estimate
        then counts the notes of the images left out)."""
        context = candidate.context
        if context is None or not holds_references(context.input):
            return candidate
        protocol = protocol_of(registry, candidate.provider)
        images = takes_images(registry, candidate.provider.name, candidate.model)
        budget = image_budget(protocol, candidate.window[0])
        made, omitted = self.made(context.input, protocol, images, budget)
        if omitted:
            log.info("images_left_out count=%d protocol=%s", len(omitted), protocol)
        notes = [LEFT_OUT_NOTE.format(name=a.name) for a in omitted]
        context = replace(context, input=made).with_notes(omitted, notes)
        return replace(candidate, context=context)
