"""One conversation with an image across the four protocols through `POST /chat` (API "Attachments"):
OpenAI Responses -> Anthropic -> Gemini -> DeepSeek (text-only by the providers file), each
upstream's fake recording what the real adapter and SDK sent: the image in each protocol's own form
(a GIF to Gemini as PNG), and the note to the text-only model."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.chat.test_attachment_chat import upload
from tests.conftest import chat, login
from tests.fake_upstream import FakeUpstream
from tests.fakes import anthropic as fake_anthropic
from tests.fakes import chat_completions as fake_chat
from tests.fakes import gemini as fake_gemini

NOTE = "[image: dot.gif not shown to this model]"
MODELS_FILE = """
[models."deepseek:deepseek-v4-flash"]
input = ["text"]
"""


def gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), (200, 30, 60)).save(buf, "GIF")
    return buf.getvalue()


@pytest.fixture
def anthropic_fake() -> Iterator[fake_anthropic.FakeAnthropic]:
    with fake_anthropic.running() as fake:
        yield fake


@pytest.fixture
def gemini_fake() -> Iterator[fake_gemini.FakeGemini]:
    with fake_gemini.running() as fake:
        yield fake


@pytest.fixture
def deepseek_fake() -> Iterator[fake_chat.FakeChat]:
    with fake_chat.running(fake_chat.FakeChat(style="deepseek")) as fake:
        yield fake


@pytest.fixture
def app(
    make_app: Callable[..., Any],
    tmp_path: Path,
    upstream: FakeUpstream,
    anthropic_fake: Any,
    gemini_fake: Any,
    deepseek_fake: Any,
) -> Any:
    path = tmp_path / "providers.toml"
    path.write_text(MODELS_FILE)
    return make_app(
        CHAT_PROVIDERS_FILE=str(path),
        ANTHROPIC_API_KEY="sk-ant-test-x",
        ANTHROPIC_BASE_URL=anthropic_fake.base_url,
        GEMINI_API_KEY="gemini-test-x",
        GEMINI_BASE_URL=gemini_fake.base_url,
        DEEPSEEK_API_KEY="sk-ds-test-x",
        DEEPSEEK_BASE_URL=deepseek_fake.root_url,
    )


@pytest.fixture
def client(app: Any) -> Any:
    return login(app.test_client(), app)


def test_an_image_goes_to_each_protocol_in_its_own_form(
    client, upstream, anthropic_fake, gemini_fake, deepseek_fake
):
    data = gif()
    b64 = base64.b64encode(data).decode("ascii")
    att = upload(client, data, "dot.gif", "image/gif")
    first = chat(client, message="What is this?", attachments=[att["id"]], provider="openai")
    assert first[-1].event == "done", first[-1].data
    cid = first[0].data["conversation_id"]
    assert upstream.responses_requests()[-1].body["input"] == [
        {
            "role": "user",
            "content": [
                {"type": "input_image", "image_url": f"data:image/gif;base64,{b64}"},
                {"type": "input_text", "text": "What is this?"},
            ],
        }
    ]
    second = chat(client, message="Sure?", conversation_id=cid, provider="anthropic")
    assert second[-1].event == "done", second[-1].data
    assert anthropic_fake.requests[-1].body["messages"][0] == {
        "role": "user",
        "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": b64}},
            {"type": "text", "text": "What is this?"},
        ],
    }
    third = chat(client, message="Really?", conversation_id=cid, provider="gemini")
    assert third[-1].event == "done", third[-1].data
    first_turn = gemini_fake.requests[-1].body["contents"][0]
    assert first_turn["role"] == "user"
    inline, words = first_turn["parts"]
    assert words == {"text": "What is this?"}
    assert inline["inlineData"]["mime_type"] == "image/png"  # Gemini takes no GIF
    png = base64.urlsafe_b64decode(inline["inlineData"]["data"])
    with Image.open(io.BytesIO(png)) as sent:
        assert sent.format == "PNG" and sent.size == (20, 10)
    fourth = chat(client, message="Words?", conversation_id=cid, provider="deepseek")
    assert fourth[-1].event == "done", fourth[-1].data
    messages = deepseek_fake.requests[-1].body["messages"]
    assert messages[1] == {
        "role": "user",
        "content": [{"type": "text", "text": NOTE}, {"type": "text", "text": "What is this?"}],
    }
    assert "image" not in str(messages).replace(NOTE, "")
