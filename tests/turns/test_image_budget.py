"""The image budget of one request (providers.md §1.7): per protocol a count and bytes of base64;
the newest images are sent, the older ones become a note, and the plan's estimate counts notes."""

from __future__ import annotations

import math

import conversation_manager as cm
import responses_client as rc
from app.context import ContextPlan
from app.context.parts import attachment_ref, attachment_tokens
from app.turns.attachments import (
    DEFAULT_IMAGE_BUDGET,
    LEFT_OUT_NOTE,
    ImageBudget,
    PartMaker,
    image_budget,
)
from app.turns.candidates import Candidate
from responses_client.adapters.fake import FakeProvider

MB = 1000 * 1000


def image(n: int) -> cm.Attachment:
    return cm.Attachment(
        id=f"att_{n:024x}",
        kind="image",
        name=f"im{n}.png",
        media_type="image/png",
        bytes=100,
        width=1000,
        height=1000,
    )


class Source:
    """Image copies of known sizes; counts what was read."""

    def __init__(self, size: int = 30) -> None:
        self.size = size
        self.reads: list[str] = []

    def resolve(self, user: str, ids: list[str]) -> list[cm.Attachment]:
        raise AssertionError("not used")

    def image_for(self, user: str, attachment: cm.Attachment, protocol: str) -> tuple[str, bytes]:
        self.reads.append(attachment.id)
        return "image/png", b"x" * self.size

    def text_block(self, user: str, attachment: cm.Attachment) -> str:
        return "```a.txt\nhi\n```"


def turns(images: list[cm.Attachment]) -> list[dict]:
    """One user turn per image (its reference, then words), each answered."""
    out: list[dict] = []
    for attachment in images:
        out.append(
            {
                "role": "user",
                "content": [attachment_ref(attachment), {"type": "text", "text": "and this?"}],
            }
        )
        out.append({"role": "assistant", "content": "Seen."})
    return out


def sent(made: list[dict]) -> list[str]:
    """Per image turn: `image` or the note's text."""
    firsts = [t["content"][0] for t in made if t["role"] == "user"]
    return [p["type"] if p["type"] == "image" else p["text"] for p in firsts]


def test_each_protocol_has_a_budget():
    assert image_budget("anthropic", 200_000) == ImageBudget(100, 30 * MB)
    assert image_budget("anthropic", None).count == 100
    assert image_budget("anthropic", 1_000_000) == ImageBudget(600, 30 * MB)
    assert image_budget("gemini", 1_000_000).base64_bytes <= 20 * MB
    for protocol in ("responses", "chat_completions", "fake"):
        assert image_budget(protocol, 400_000) == DEFAULT_IMAGE_BUDGET == ImageBudget(50, 20 * MB)


def test_past_the_count_the_oldest_images_become_notes():
    images = [image(n) for n in range(6)]
    source = Source()
    maker = PartMaker(source, "alice", {a.id: a for a in images})
    made, omitted = maker.made(turns(images), "responses", True, ImageBudget(4, 10 * MB))
    notes = [LEFT_OUT_NOTE.format(name=f"im{n}.png") for n in (0, 1)]
    assert sent(made) == [*notes, "image", "image", "image", "image"]
    assert [a.id for a in omitted] == [images[1].id, images[0].id]
    assert notes[0] == "[image: im0.png left out to fit the request]"
    # The images left out past the count were never read.
    assert sorted(source.reads) == sorted(a.id for a in images[2:])


def test_past_the_bytes_the_oldest_images_become_notes():
    images = [image(n) for n in range(4)]
    source = Source(size=300)  # 400 characters of base64 each
    maker = PartMaker(source, "alice", {a.id: a for a in images})
    made, _ = maker.made(turns(images), "anthropic", True, ImageBudget(100, 2 * 400 + 399))
    assert sent(made)[2:] == ["image", "image"]
    assert all(s.endswith("left out to fit the request]") for s in sent(made)[:2])
    # No budget (the default `input`): everything goes.
    assert sent(maker.input(turns(images), "anthropic", True)) == ["image"] * 4


def test_a_candidate_is_held_to_its_protocol_s_budget_and_its_estimate_agrees():
    images = [image(n) for n in range(DEFAULT_IMAGE_BUDGET.count + 5)]
    raw = 5000 + attachment_tokens(images)
    context = ContextPlan(
        input=[*turns(images), {"role": "user", "content": "last one"}],
        previous_response_id=None,
        context_mode="replayed",
        estimated_input_tokens=raw,
        raw_input_tokens=raw,
    )
    provider = FakeProvider(name="fake")
    registry = rc.ProviderRegistry.of([provider])
    maker = PartMaker(Source(), "alice", {a.id: a for a in images})
    out = maker.candidate(registry, Candidate(provider, "m", context))
    assert out.context is not None
    made = sent(out.context.input[:-1])
    assert made.count("image") == DEFAULT_IMAGE_BUDGET.count
    assert made[:5] == [LEFT_OUT_NOTE.format(name=f"im{n}.png") for n in range(5)]
    # The estimate counts five notes where it counted five images.
    notes = sum(math.ceil(len(LEFT_OUT_NOTE.format(name=f"im{n}.png")) / 4) for n in range(5))
    dropped = attachment_tokens(images[:5])
    assert out.context.raw_input_tokens == raw - dropped + notes
    assert out.context.estimated_input_tokens == raw - dropped + notes
