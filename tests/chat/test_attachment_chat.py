"""Attachments through `POST /chat` end to end (API "Attachments"): uploaded with POST /attachments,
named in a turn, and sent to the fake Responses upstream (the exact body); refused up front for a
text-only model (nothing sent); replayed to a text-only model as a note; a text file as a fenced
block; another user's id refused; `GET /chat` and the context preview with attachments."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.settings import DEFAULT_INSTRUCTIONS
from tests.conftest import chat, login, stored

# One stateful Responses provider on the fake, with a model that takes images and one that does not.
PROVIDERS = """
default = "plain:see-m"

[providers.plain]
protocol = "responses"
base_url = "{base_url}"
api_key_env = "PLAIN_KEY"
stateful = true
models = ["see-m", "text-m"]

[models."plain:see-m"]
input = ["text", "image"]

[models."plain:text-m"]
input = ["text"]
"""
NOTE = "[image: cat.png not shown to this model]"


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 60))
    for x in range(0, size[0], 3):
        image.putpixel((x, x % size[1]), (10, 200, 10))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


@pytest.fixture
def app(make_app: Any, tmp_path: Path, upstream: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = tmp_path / "providers.toml"
    path.write_text(PROVIDERS.format(base_url=upstream.base_url))
    monkeypatch.setenv("PLAIN_KEY", "sk-plain-test")
    return make_app(CHAT_PROVIDERS_FILE=str(path), OPENAI_API_KEY="")


@pytest.fixture
def client(app: Any) -> Any:
    return login(app.test_client(), app)


def upload(client: Any, data: bytes, name: str, content_type: str) -> dict[str, Any]:
    """POST /attachments with the page's CSRF header; the 201 answer."""
    page = client.get("/").data.decode()
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    response = client.post(
        "/attachments",
        data={"file": (io.BytesIO(data), name, content_type)},
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 201, response.data
    return response.get_json()


def test_an_image_turn_sends_the_exact_responses_body(client: Any, upstream: Any, data_dir: Path):
    data = png()
    att = upload(client, data, "cat.png", "image/png")
    assert att["kind"] == "image" and att["width"] == 40 and att["height"] == 30
    frames = chat(client, message="What is this?", attachments=[att["id"]])
    assert frames[-1].event == "done", frames[-1].data
    (request,) = upstream.responses_requests()
    assert request.body == {
        "model": "see-m",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_image", "image_url": data_url(data)},
                    {"type": "input_text", "text": "What is this?"},
                ],
            }
        ],
        "instructions": DEFAULT_INSTRUCTIONS,
        "max_output_tokens": 16000,
        "stream": True,
        "stream_options": {"include_obfuscation": False},
        "store": True,
    }
    cid = frames[0].data["conversation_id"]
    user_id = frames[0].data["user_message_id"]
    shown = client.get("/chat", query_string={"conversation_id": cid}).get_json()
    message = next(m for m in shown["messages"] if m["id"] == user_id)
    assert [
        {k: a[k] for k in ("id", "kind", "name", "media_type")} for a in message["attachments"]
    ] == [{"id": att["id"], "kind": "image", "name": "cat.png", "media_type": "image/png"}]
    on_disk = next(m for m in stored(data_dir, "alice", cid)["messages"] if m["id"] == user_id)
    assert on_disk["attachments"][0]["id"] == att["id"]


def test_a_text_only_model_is_refused_before_anything_is_sent(client: Any, upstream: Any):
    att = upload(client, png(), "cat.png", "image/png")
    response = client.post(
        "/chat", json={"message": "Look", "model": "text-m", "attachments": [att["id"]]}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "unsupported_input"
    assert upstream.requests == []
    assert client.get("/get-all-conversations").get_json()["conversations"] == []


def test_a_replay_to_a_text_only_model_has_the_note_and_no_image(client: Any, upstream: Any):
    att = upload(client, png(), "cat.png", "image/png")
    first = chat(client, message="What is this?", attachments=[att["id"]])
    cid = first[0].data["conversation_id"]
    second = chat(client, message="Describe it in words.", conversation_id=cid, model="text-m")
    assert second[-1].event == "done", second[-1].data
    assert second[-1].data["context_mode"] == "replayed"
    request = upstream.responses_requests()[-1]
    assert "previous_response_id" not in request.body
    assert request.body["model"] == "text-m"
    assert request.body["input"][0] == {
        "role": "user",
        "content": [
            {"type": "input_text", "text": NOTE},
            {"type": "input_text", "text": "What is this?"},
        ],
    }
    assert "input_image" not in str(request.body)
    assert request.body["input"][-1] == {"role": "user", "content": "Describe it in words."}


def test_a_text_file_goes_as_a_fenced_block(client: Any, upstream: Any):
    att = upload(client, b"def f():\n    return 1\n", "f.py", "text/x-python")
    assert att["kind"] == "text"
    frames = chat(client, message="", attachments=[att["id"]], model="text-m")
    assert frames[-1].event == "done", frames[-1].data
    (request,) = upstream.responses_requests()
    assert request.body["input"] == [
        {
            "role": "user",
            "content": [{"type": "input_text", "text": "```f.py\ndef f():\n    return 1\n```"}],
        }
    ]
    assert frames[0].data["chat_name"] == "f.py"  # an empty message: named from its file


def test_another_users_attachment_is_refused(app: Any, client: Any, upstream: Any):
    bob = login(app.test_client(), app, "bobby")
    theirs = upload(bob, png((8, 8)), "cat.png", "image/png")
    for ids in ([theirs["id"]], ["att_" + "0" * 24], ["../etc/passwd"]):
        response = client.post("/chat", json={"message": "hi", "attachments": ids})
        assert response.status_code == 400, ids
        assert response.get_json()["error"]["code"] == "bad_attachment"
    response = client.post("/chat", json={"message": "hi", "attachments": ["x"] * 11})
    assert response.status_code == 400  # at most 10
    assert upstream.requests == []


def test_an_empty_message_needs_attachments(client: Any, upstream: Any):
    response = client.post("/chat", json={"message": "  "})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "empty_message"


def test_a_regenerate_sends_the_image_again(client: Any, upstream: Any):
    data = png()
    att = upload(client, data, "cat.png", "image/png")
    first = chat(client, message="What is this?", attachments=[att["id"]])
    cid, user_id = first[0].data["conversation_id"], first[0].data["user_message_id"]
    chat(client, conversation_id=cid, parent_message_id=user_id, regenerate=True)
    again = upstream.responses_requests()[-1].body
    assert again["input"][0]["content"][0] == {"type": "input_image", "image_url": data_url(data)}
    refused = client.post(
        "/chat",
        json={
            "conversation_id": cid,
            "parent_message_id": user_id,
            "regenerate": True,
            "model": "text-m",
        },
    )
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "unsupported_input"


def test_the_context_preview_with_images_in_history(client: Any, upstream: Any):
    att = upload(client, png((300, 250)), "cat.png", "image/png")  # 100 tokens
    first = chat(client, message="", attachments=[att["id"]])
    cid, user_id = first[0].data["conversation_id"], first[0].data["user_message_id"]
    seen = client.get(f"/conversations/{cid}/context", query_string={"model": "text-m"})
    assert seen.status_code == 200, seen.data
    doc = seen.get_json()
    assert doc["context_mode"] == "replayed"  # a text-only model does not chain over the image
    tokens = {m["id"]: m["tokens"] for m in doc["messages"]}
    assert tokens[user_id] == 100 + 4
    chained = client.get(f"/conversations/{cid}/context").get_json()
    assert chained["context_mode"] == "chained"
