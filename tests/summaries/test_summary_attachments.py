"""A summary's input holds the messages' attachments: `[image: <name>]` for an image, a text file's
fenced block (cut to a share of the budget), counted in what one call takes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import conversation_manager as cm
import responses_client as rc
from app.turns import ChatSettings
from app.turns.summarise import FILE_CHARS, fitted, summarise, summary_input
from responses_client.adapters.fake import FakeProvider
from responses_client.pricing import Quote

CAT = cm.Attachment(
    id="att_" + "1" * 24, kind="image", name="cat.png", media_type="image/png", bytes=100
)
NOTES = cm.Attachment(
    id="att_" + "2" * 24, kind="text", name="notes.txt", media_type="text/plain", bytes=30
)


def message(
    mid: str, role: str, text: str, parent: str | None, attachments: Sequence[cm.Attachment] = ()
) -> cm.Message:
    return cm.Message(
        id=mid,
        parent_id=parent,
        role=role,
        text=text,
        timestamp=1.0,
        attachments=list(attachments),
    )


def blocks(files: dict[str, str]) -> Callable[[cm.Attachment], str]:
    def text_block(attachment: cm.Attachment) -> str:
        if attachment.id not in files:
            raise cm.NotFound("attachment")
        return f"```{attachment.name}\n{files[attachment.id]}\n```"

    return text_block


def test_images_are_named_and_text_files_go_in_as_their_blocks() -> None:
    msgs = [
        message("m1", "user", "", None, [CAT]),  # an image alone: no text at all
        message("m2", "assistant", "A cat.", "m1"),
        message("m3", "user", "Read this", "m2", [NOTES]),
    ]
    got = summary_input(None, msgs, blocks({NOTES.id: "the budget is 40k"}))
    assert got == (
        "Conversation:\n\n"
        "User: [image: cat.png]\n\n"
        "Assistant: A cat.\n\n"
        "User: ```notes.txt\nthe budget is 40k\n```\n\nRead this"
    )
    # A file that cannot be read (or no reader) is still named.
    assert "User: [file: notes.txt]\n\nRead this" in summary_input(None, msgs, blocks({}))
    assert "User: [file: notes.txt]\n\nRead this" in summary_input(None, msgs)


def test_a_long_file_is_cut_and_closed_by_its_fence() -> None:
    text = "line of text\n" * 20_000  # 260,000 characters
    got = summary_input(None, [message("m1", "user", "", None, [NOTES])], blocks({NOTES.id: text}))
    assert FILE_CHARS <= len(got) < FILE_CHARS + 200
    assert "\n```\n[the rest of notes.txt, " in got and got.endswith("characters, left out]")


def test_the_files_count_in_what_one_call_takes() -> None:
    files = {f"att_{i:024x}": "word " * 4000 for i in range(4)}  # 20,000 characters each
    msgs = [
        message(
            f"m{i}",
            "user",
            "short",
            None,
            [NOTES.model_copy(update={"id": aid})],
        )
        for i, aid in enumerate(files)
    ]
    kept = fitted(None, msgs, budget=12_000, text_block=blocks(files))
    assert 1 <= len(kept) < 4  # about 5,000 tokens a message: two fit, never all four
    assert fitted(None, msgs, budget=100_000, text_block=blocks(files)) == msgs


def test_the_summary_call_is_sent_the_files() -> None:
    conv = cm.Conversation(
        id="c_1",
        chat_name="t",
        created_at=1.0,
        last_update=1.0,
        model="m",
        provider="fake",
        messages=[
            message("m1", "user", "see", None, [CAT, NOTES]),
            message("m2", "assistant", "Seen.", "m1"),
        ],
    )
    writer = FakeProvider(name="fake")
    writer.enqueue_reply("A cat and notes.")
    registry = rc.ProviderRegistry.of([writer])
    settings = ChatSettings(default_model="m", default_provider="fake", instructions="")
    summarise(
        conv,
        ["m1", "m2"],
        (writer, "m"),
        registry,
        settings,
        lambda *a, **k: Quote(None, None),
        rc.CancelToken(),
        text_block=blocks({NOTES.id: "budget: 40k"}),
    )
    (request,) = writer.requests
    assert request.input == (
        "Conversation:\n\nUser: [image: cat.png]\n\n```notes.txt\nbudget: 40k\n```\n\nsee"
        "\n\nAssistant: Seen."
    )


def test_a_turn_s_summary_call_reads_the_text_files_it_summarises(
    make_app: Any, tmp_path: Path, upstream: Any, monkeypatch: Any
) -> None:
    from tests.attachments.conftest import upload
    from tests.conftest import chat, login
    from tests.summaries.helpers import PROVIDERS, is_summary_call, summary_reply, words

    path = tmp_path / "providers.toml"
    path.write_text(PROVIDERS.format(base_url=upstream.base_url))
    monkeypatch.setenv("PLAIN_KEY", "sk-plain-test")
    upstream.reply = summary_reply
    app = make_app(CHAT_PROVIDERS_FILE=str(path), OPENAI_API_KEY="", CHAT_SUMMARIES=True)
    client = login(app.test_client(), app)
    aid = upload(client, b"the budget is 40k\n", "notes.txt").get_json()["id"]
    first = chat(client, message=words("alpha", 2000), attachments=[aid])
    cid = first[0].data["conversation_id"]
    for word in ("beta", "gamma", "delta"):
        chat(client, message=words(word, 2000), conversation_id=cid)
    calls = [r for r in upstream.responses_requests() if is_summary_call(r.body)]
    assert calls, "the fourth turn summarises the first ones"
    assert (
        calls[0]
        .body["input"]
        .startswith(
            f"Conversation:\n\nUser: ```notes.txt\nthe budget is 40k\n```\n\n{words('alpha', 2000)}"
        )
    )
