"""Attachments in turns (API "Attachments"), over in-process FakeProviders and the real attachment
store: what each candidate is sent (neutral parts), the note for a text-only model, the up-front
refusal, the fallback that skips a text-only model, the chained form, and the plan's token counts."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import conversation_manager as cm
import responses_client as rc
from app.attachments import AttachmentService, AttachmentSettings, BadAttachmentRequest
from app.context import TokenCounter, plan_context
from app.context.parts import attachment_ref, attachment_tokens
from app.turns import BadTurnRequest, EmptyMessage, TurnRequest, UnsupportedInputRequest
from app.turns.attachments import PartMaker
from conversation_manager.json.attachments import JsonAttachmentStore
from responses_client.adapters.fake import FakeProvider
from responses_client.registry import ModelInfo, ProviderSettings
from tests.chat.multi_provider import (
    USER,
    conversation_of,
    make_service,
    reply_of,
    run_turn,
    text_of,
)

NOTE = "[image: cat.png not shown to this model]"


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 60))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def image_part(data: bytes, name: str = "cat.png") -> dict[str, Any]:
    return {
        "type": "image",
        "media_type": "image/png",
        "data": base64.b64encode(data).decode("ascii"),
        "name": name,
    }


@pytest.fixture
def providers() -> tuple[FakeProvider, FakeProvider, FakeProvider]:
    return (
        FakeProvider(name="vision", stateful=True),
        FakeProvider(name="plain", stateful=False),
        FakeProvider(name="backup", stateful=False),
    )


SETTINGS = [
    ProviderSettings(
        name="vision",
        protocol="responses",
        stateful=True,
        models=("see-a",),
        fallback=(("plain", "text-a"), ("backup", "see-b")),
    ),
    ProviderSettings(name="plain", protocol="chat_completions", models=("text-a",)),
    ProviderSettings(name="backup", protocol="anthropic", models=("see-b",)),
]
MODELS = [
    ModelInfo(provider="vision", id="see-a", input=("text", "image")),
    ModelInfo(provider="plain", id="text-a", input=("text",)),
    ModelInfo(provider="vision", id="see-text", input=("text",)),  # text-only, same provider
    # backup:see-b: nothing known of its input, so images are sent (the upstream decides)
]


@pytest.fixture
def service(tmp_path: Path, providers: Any) -> Any:
    svc = make_service(
        tmp_path, providers, settings=SETTINGS, models=MODELS, default=("vision", "see-a")
    )
    for user in (USER, "bobby"):  # the accounts make each user's directory
        (tmp_path / "data" / user).mkdir(parents=True, exist_ok=True)
    svc.attachments = AttachmentService(
        JsonAttachmentStore(tmp_path / "data", lock_timeout=1.0),
        AttachmentSettings(),
        conversations=svc.store,
    )
    return svc


@pytest.fixture
def cat(service: Any) -> tuple[cm.Attachment, bytes]:
    data = png()
    return service.attachments.upload(USER, "cat.png", "image/png", data), data


def test_an_image_turn_sends_the_image_then_the_text(service, providers, cat):
    vision = providers[0]
    attachment, data = cat
    vision.enqueue_reply("A red square.")
    frames = run_turn(service, message="What is this?", attachments=(attachment.id,))
    assert text_of(frames) == "A red square."
    (request,) = vision.requests
    assert request.input == [
        {"role": "user", "content": [image_part(data), {"type": "text", "text": "What is this?"}]}
    ]
    user_message = conversation_of(service, frames).message(frames[0].data["user_message_id"])
    assert user_message.attachments == [attachment]
    assert user_message.text == "What is this?"


def test_a_message_may_be_empty_when_it_carries_attachments(service, providers, cat):
    vision = providers[0]
    attachment, data = cat
    vision.enqueue_reply("A picture.")
    frames = run_turn(service, message="  ", attachments=(attachment.id,))
    assert vision.requests[0].input == [{"role": "user", "content": [image_part(data)]}]
    conversation = conversation_of(service, frames)
    assert conversation.chat_name == "cat.png"  # named from its file
    assert conversation.message(frames[0].data["user_message_id"]).text == ""
    with pytest.raises(EmptyMessage):
        service.start(TurnRequest(user=USER, message="  "))


def test_a_text_file_goes_as_a_fenced_block(service, providers):
    vision = providers[0]
    notes = service.attachments.upload(USER, "notes.md", "text/markdown", b"# Title\nhello\n")
    vision.enqueue_reply("Noted.")
    run_turn(service, message="Summarise.", attachments=(notes.id,))
    assert vision.requests[0].input == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "```notes.md\n# Title\nhello\n```"},
                {"type": "text", "text": "Summarise."},
            ],
        }
    ]


def test_a_text_only_model_refuses_an_image_before_anything_is_sent(service, providers, cat):
    attachment, _ = cat
    with pytest.raises(UnsupportedInputRequest) as refused:
        service.start(
            TurnRequest(
                user=USER,
                message="Look",
                provider="plain",
                model="text-a",
                attachments=(attachment.id,),
            )
        )
    assert refused.value.code == "unsupported_input"
    assert all(not p.requests for p in providers)
    assert service.store.list(USER) == []  # nothing was created


def test_a_text_only_model_takes_a_text_file(service, providers):
    plain = providers[1]
    notes = service.attachments.upload(USER, "a.txt", "text/plain", b"abc")
    plain.enqueue_reply("Ok.")
    run_turn(service, message="Read", provider="plain", model="text-a", attachments=(notes.id,))
    assert plain.requests[0].input == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "```a.txt\nabc\n```"},
                {"type": "text", "text": "Read"},
            ],
        }
    ]


def test_another_users_attachment_is_refused(service, providers):
    theirs = service.attachments.upload("bobby", "cat.png", "image/png", png((8, 8)))
    with pytest.raises(BadAttachmentRequest):
        service.start(TurnRequest(user=USER, message="hi", attachments=(theirs.id,)))
    with pytest.raises(BadAttachmentRequest):
        service.start(TurnRequest(user=USER, message="hi", attachments=("att_" + "0" * 24,)))
    assert all(not p.requests for p in providers)


def test_a_replayed_image_becomes_a_note_for_a_text_only_model(service, providers, cat):
    vision, plain, _ = providers
    attachment, _ = cat
    vision.enqueue_reply("A red square.")
    first = run_turn(service, message="What is this?", attachments=(attachment.id,))
    plain.enqueue_reply("I cannot see it.")
    cid = first[0].data["conversation_id"]
    run_turn(service, message="And now?", conversation_id=cid, provider="plain", model="text-a")
    (request,) = plain.requests
    assert request.input == [
        {
            "role": "user",
            "content": [{"type": "text", "text": NOTE}, {"type": "text", "text": "What is this?"}],
        },
        {"role": "assistant", "content": "A red square."},
        {"role": "user", "content": "And now?"},
    ]


def test_a_text_only_model_of_the_same_provider_does_not_chain_over_images(service, providers, cat):
    vision = providers[0]
    attachment, _ = cat
    vision.enqueue_reply("A red square.")
    first = run_turn(service, message="What is this?", attachments=(attachment.id,))
    cid = first[0].data["conversation_id"]
    vision.enqueue_reply("Words only.")
    second = run_turn(service, message="And now?", conversation_id=cid, model="see-text")
    assert second[0].data["context_mode"] == "replayed"
    request = vision.requests[1]
    assert request.previous_response_id is None
    assert request.input[0]["content"][0] == {"type": "text", "text": NOTE}
    # Without images in the branch the same model chains as before.
    vision.enqueue_reply("Again.")
    third = run_turn(service, message="hi")
    vision.enqueue_reply("Chained.")
    fourth = run_turn(
        service, message="more", conversation_id=third[0].data["conversation_id"], model="see-text"
    )
    assert fourth[0].data["context_mode"] == "chained"
    assert vision.requests[3].previous_response_id == third[-1].data["response_id"]


def test_a_model_that_takes_images_does_not_chain_over_a_reply_that_got_notes(
    service, providers, cat
):
    vision = providers[0]
    attachment, data = cat
    vision.enqueue_reply("A red square.")
    first = run_turn(service, message="What is this?", attachments=(attachment.id,))
    cid = first[0].data["conversation_id"]
    vision.enqueue_reply("Words only.")
    second = run_turn(service, message="And now?", conversation_id=cid, model="see-text")
    reply = service.store.get(USER, cid).message(second[-1].data["message_id"])
    assert reply.metadata["images_omitted"] is True
    # The same provider's image model: its chain upstream holds the note, so the branch is
    # replayed with the image itself.
    vision.enqueue_reply("Red, as I can see.")
    third = run_turn(service, message="Look again", conversation_id=cid, model="see-a")
    assert third[0].data["context_mode"] == "replayed"
    request = vision.requests[2]
    assert request.previous_response_id is None
    assert request.input[0]["content"][0] == image_part(data)
    after = service.store.get(USER, cid).message(third[-1].data["message_id"])
    assert "images_omitted" not in after.metadata
    # That reply saw the image: a later image turn chains from it again.
    vision.enqueue_reply("Still red.")
    fourth = run_turn(service, message="Sure?", conversation_id=cid, model="see-a")
    assert fourth[0].data["context_mode"] == "chained"
    assert vision.requests[3].previous_response_id == third[-1].data["response_id"]


def test_a_hybrid_chain_that_sent_notes_marks_its_reply_too(service, providers, cat):
    vision, _, backup = providers
    attachment, data = cat
    vision.enqueue_reply("Hello.")
    first = run_turn(service, message="hi")
    cid = first[0].data["conversation_id"]
    backup.enqueue_reply("A red square.")
    run_turn(
        service,
        message="What is this?",
        conversation_id=cid,
        attachments=(attachment.id,),
        provider="backup",
        model="see-b",
    )
    # The text-only model chains from its provider's first reply (no image before it) and gets
    # the later image as a note beside the chain.
    vision.enqueue_reply("Words only.")
    third = run_turn(
        service, message="And now?", conversation_id=cid, provider="vision", model="see-text"
    )
    assert third[0].data["context_mode"] == "chained"
    assert vision.requests[1].previous_response_id == first[-1].data["response_id"]
    assert vision.requests[1].input[0]["content"][0] == {"type": "text", "text": NOTE}
    reply = service.store.get(USER, cid).message(third[-1].data["message_id"])
    assert reply.metadata["images_omitted"] is True
    # The image model replays rather than chain from that reply.
    vision.enqueue_reply("Red.")
    fourth = run_turn(
        service, message="Look", conversation_id=cid, provider="vision", model="see-a"
    )
    assert fourth[0].data["context_mode"] == "replayed"
    assert vision.requests[2].previous_response_id is None
    assert vision.requests[2].input[2]["content"][0] == image_part(data)


def test_a_replay_to_a_model_that_takes_images_sends_them_again(service, providers, cat):
    vision, _, backup = providers
    attachment, data = cat
    vision.enqueue_reply("A red square.")
    first = run_turn(service, message="What is this?", attachments=(attachment.id,))
    backup.enqueue_reply("Still red.")
    cid = first[0].data["conversation_id"]
    run_turn(service, message="Sure?", conversation_id=cid, provider="backup", model="see-b")
    assert backup.requests[0].input[0] == {
        "role": "user",
        "content": [image_part(data), {"type": "text", "text": "What is this?"}],
    }


def test_a_chained_turn_sends_the_new_message_with_attachments_as_one_turn(service, providers, cat):
    vision = providers[0]
    attachment, data = cat
    vision.enqueue_reply("Hello.")
    first = run_turn(service, message="hi")
    vision.enqueue_reply("A red square.")
    second = run_turn(
        service,
        message="This?",
        conversation_id=first[0].data["conversation_id"],
        attachments=(attachment.id,),
    )
    assert second[0].data["context_mode"] == "chained"
    request = vision.requests[1]
    assert request.previous_response_id == first[-1].data["response_id"]
    assert request.input == [
        {"role": "user", "content": [image_part(data), {"type": "text", "text": "This?"}]}
    ]


def test_a_regenerate_reuses_the_user_messages_attachments(service, providers, cat):
    vision = providers[0]
    attachment, data = cat
    vision.enqueue_reply("One.")
    first = run_turn(service, message="What is this?", attachments=(attachment.id,))
    vision.enqueue_reply("Two.")
    user_id = first[0].data["user_message_id"]
    cid = first[0].data["conversation_id"]
    run_turn(service, conversation_id=cid, parent_message_id=user_id, regenerate=True)
    assert vision.requests[1].input == vision.requests[0].input
    assert image_part(data) in vision.requests[1].input[0]["content"]
    # A regenerate takes no attachments of its own, and one to a text-only model is refused.
    with pytest.raises(BadTurnRequest) as refused:
        service.start(
            TurnRequest(
                user=USER,
                message=None,
                conversation_id=cid,
                parent_message_id=user_id,
                regenerate=True,
                attachments=(attachment.id,),
            )
        )
    assert getattr(refused.value, "code", None) == "bad_request"
    with pytest.raises(UnsupportedInputRequest):
        service.start(
            TurnRequest(
                user=USER,
                message=None,
                conversation_id=cid,
                parent_message_id=user_id,
                regenerate=True,
                provider="plain",
                model="text-a",
            )
        )
    assert len(providers[1].requests) == 0


def test_fallback_skips_a_text_only_candidate_when_the_turn_carries_an_image(
    service, providers, cat
):
    vision, plain, backup = providers
    attachment, data = cat
    vision.enqueue_error(rc.RateLimited(status=429))
    backup.enqueue_reply("From the backup.")
    frames = run_turn(service, message="What is this?", attachments=(attachment.id,))
    assert text_of(frames) == "From the backup."
    assert not plain.requests
    assert backup.requests[0].input == [
        {"role": "user", "content": [image_part(data), {"type": "text", "text": "What is this?"}]}
    ]
    reply = reply_of(service, frames)
    assert reply.provider == "backup"
    assert reply.fallback_from == [
        {"provider": "vision", "model": "see-a", "code": "rate_limited"},
        {"provider": "plain", "model": "text-a", "code": "unsupported_input"},
    ]


def test_fallback_to_a_text_only_model_for_old_images_gets_the_note(service, providers, cat):
    vision, plain, _ = providers
    attachment, _ = cat
    vision.enqueue_reply("A red square.")
    first = run_turn(service, message="What is this?", attachments=(attachment.id,))
    vision.enqueue_error(rc.RateLimited(status=429))
    plain.enqueue_reply("Text only.")
    frames = run_turn(service, message="More?", conversation_id=first[0].data["conversation_id"])
    assert text_of(frames) == "Text only."
    sent = plain.requests[0].input
    assert sent[0]["content"][0] == {"type": "text", "text": NOTE}
    kinds = [
        p["type"] for turn in sent if isinstance(turn["content"], list) for p in turn["content"]
    ]
    assert kinds == ["text", "text"]  # the note and the first message's text: no image


# -- the plan itself (pure) -------------------------------------------------------------------


def record(kind: str = "image", **fields: Any) -> cm.Attachment:
    base: dict[str, Any] = {
        "id": "att_" + "a" * 24,
        "kind": kind,
        "name": "cat.png" if kind == "image" else "a.txt",
        "media_type": "image/png" if kind == "image" else "text/plain",
        "bytes": 1000,
    }
    base.update(fields)
    return cm.Attachment(**base)


def test_the_token_estimate_of_attachments():
    assert attachment_tokens([record(width=300, height=250)]) == 100  # 75,000 px / 750
    assert attachment_tokens([record(width=4000, height=3000)]) == 1600  # capped
    assert attachment_tokens([record()]) == 1600  # size unknown: the most
    assert attachment_tokens([record("text", bytes=1001)]) == 251  # bytes / 4, rounded up


def conversation_with(messages: list[cm.Message]) -> cm.Conversation:
    return cm.Conversation(
        id="c_" + "1" * 12,
        chat_name="t",
        created_at=1.0,
        last_update=1.0,
        model="local",
        provider="plain",
        instructions="",
        messages=messages,
        current_message_id=messages[-1].id if messages else None,
    )


def test_the_plan_holds_references_and_counts_them():
    image = record(width=300, height=250)
    text_file = record("text", id="att_" + "b" * 24, bytes=400)
    user = cm.Message(
        id="m_u1", parent_id=None, role="user", text="", timestamp=1.0, attachments=[image]
    )
    reply = cm.Message(
        id="m_a1",
        parent_id="m_u1",
        role="assistant",
        text="ok",
        timestamp=1.0,
        status="completed",
    )
    conversation = conversation_with([user, reply])
    counter = TokenCounter()
    plan = plan_context(
        conversation,
        "m_a1",
        "next",
        provider="plain",
        stateful=False,
        counter=counter,
        new_attachments=[text_file],
    )
    assert plan.context_mode == "replayed"
    assert plan.input == [
        {"role": "user", "content": [attachment_ref(image)]},  # the message had no text
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [attachment_ref(text_file), {"type": "text", "text": "next"}]},
    ]
    assert attachment_ref(image) == {
        "type": "attachment",
        "id": image.id,
        "kind": "image",
        "name": "cat.png",
    }
    tokens = {m.id: m.tokens for m in plan.messages}
    assert tokens["m_u1"] == 100 + 4  # the image and a turn's framing
    assert plan.message_tokens == counter.text("next") + 100  # 400 bytes / 4
    assert [m.state for m in plan.messages] == ["sent", "sent"]


def test_a_first_message_with_attachments_is_one_user_turn():
    image = record(width=75, height=10)
    plan = plan_context(
        conversation_with([]),
        None,
        "hi",
        provider="plain",
        stateful=False,
        counter=TokenCounter(),
        new_attachments=[image],
    )
    assert plan.context_mode == "first"
    assert plan.input == [
        {"role": "user", "content": [attachment_ref(image), {"type": "text", "text": "hi"}]}
    ]
    # Without attachments the input stays the plain string.
    plain = plan_context(conversation_with([]), None, "hi", provider="plain", stateful=False)
    assert plain.input == "hi"


def test_the_preview_counts_the_images_in_history(service, providers, cat):
    vision = providers[0]
    attachment, _ = cat  # 40 x 30: 2 tokens
    vision.enqueue_reply("A red square.")
    frames = run_turn(service, message="", attachments=(attachment.id,))
    preview = service.preview(USER, frames[0].data["conversation_id"], provider="backup")
    tokens = {m.id: m.tokens for m in preview.context.messages}
    assert tokens[frames[0].data["user_message_id"]] == 2 + 4
    assert preview.context.context_mode == "replayed"


def test_parts_are_made_per_protocol_and_a_lost_file_is_a_note(service, tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), (1, 2, 3)).save(buf, "GIF")
    gif = service.attachments.upload(USER, "anim.gif", "image/gif", buf.getvalue())
    lost = record(id="att_" + "c" * 24, name="lost.png", width=10, height=10)
    maker = PartMaker(service.attachments, USER, {gif.id: gif, lost.id: lost})
    as_gemini = maker.part(attachment_ref(gif), "gemini", True)
    as_responses = maker.part(attachment_ref(gif), "responses", True)
    assert as_gemini["media_type"] == "image/png"  # Gemini takes no GIF
    assert as_responses["media_type"] == "image/gif"
    assert base64.b64decode(as_responses["data"]) == buf.getvalue()
    assert maker.part(attachment_ref(gif), "responses", False) == {
        "type": "text",
        "text": "[image: anim.gif not shown to this model]",
    }
    assert maker.part(attachment_ref(lost), "responses", True) == {
        "type": "text",
        "text": "[attachment: lost.png is no longer available]",
    }
