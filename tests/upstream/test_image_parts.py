"""Neutral image parts on the wire: each protocol's real SDK, through its adapter, against its fake.

For every protocol the exact JSON the fake received for a turn with text and an image, for a
replayed history whose first user turn carried an image (assistant turns stay plain text), and
for a text-only request (unchanged by the parts code). Plus the token estimate of an image.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from responses_client import OpenAIProvider, estimate_input_tokens, parts
from responses_client.adapters.anthropic_messages import AnthropicProvider
from responses_client.adapters.gemini import GeminiProvider
from responses_client.adapters.openai_chat import ChatCompletionsProvider
from responses_client.adapters.openai_responses import input_of
from responses_client.events import ResponseRequest, TextDelta
from tests.fake_upstream import FakeUpstream
from tests.fakes import anthropic as fake_anthropic_module
from tests.fakes import chat_completions as fake_chat_module
from tests.fakes import gemini as fake_gemini_module


def _png(colour: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (3, 2), colour).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


PNG = _png((200, 30, 30))
JPEG_LIKE = _png((30, 30, 200))  # a second image (sent as declared: the adapter never sniffs)
IMAGE = {"type": "image", "media_type": "image/png", "data": PNG, "name": "red.png"}
IMAGE2 = {"type": "image", "media_type": "image/webp", "data": JPEG_LIKE, "name": "blue.webp"}

# A new turn: text and an image.
NEW_TURN = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, IMAGE]}]
# A replayed history: the first user turn carried an image (before its text), then a reply.
HISTORY = [
    {"role": "user", "content": [IMAGE, {"type": "text", "text": "Describe it."}]},
    {"role": "assistant", "content": "A red square."},
    {"role": "user", "content": [{"type": "text", "text": "And this one?"}, IMAGE2]},
]
TEXT_ONLY = [
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Again"},
]


def req(model: str, turns: Any, **kw: Any) -> ResponseRequest:
    return ResponseRequest(model=model, input=turns, instructions="Be brief.", **kw)


def answered(provider: Any, request: ResponseRequest) -> None:
    events = list(provider.stream(request))
    assert any(isinstance(e, TextDelta) for e in events)  # the fake took the body and answered


# -- Responses (openai SDK, tests/fake_upstream.py) -------------------------------------------


@pytest.fixture
def responses(fake_upstream: FakeUpstream) -> Iterator[OpenAIProvider]:
    p = OpenAIProvider("sk-test-IMG", base_url=fake_upstream.base_url, read_timeout=2.0)
    yield p
    p.close()


def _responses_body(turns: Any) -> dict[str, Any]:
    return {
        "model": "gpt-5.5",
        "input": turns,
        "stream": True,
        "store": True,
        "instructions": "Be brief.",
        "stream_options": {"include_obfuscation": False},
    }


def test_responses_image_turn(responses: OpenAIProvider, fake_upstream: FakeUpstream) -> None:
    answered(responses, req("gpt-5.5", NEW_TURN))
    assert fake_upstream.last().body == _responses_body(
        [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
                ],
            }
        ]
    )


def test_responses_history(responses: OpenAIProvider, fake_upstream: FakeUpstream) -> None:
    answered(responses, req("gpt-5.5", HISTORY))
    assert fake_upstream.last().body["input"] == [
        {
            "role": "user",
            "content": [
                {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
                {"type": "input_text", "text": "Describe it."},
            ],
        },
        {"role": "assistant", "content": "A red square."},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "And this one?"},
                {"type": "input_image", "image_url": f"data:image/webp;base64,{JPEG_LIKE}"},
            ],
        },
    ]


def test_responses_text_only_unchanged(
    responses: OpenAIProvider, fake_upstream: FakeUpstream
) -> None:
    answered(responses, req("gpt-5.5", TEXT_ONLY))
    assert fake_upstream.last().body == _responses_body(TEXT_ONLY)
    answered(responses, req("gpt-5.5", "hi"))
    assert fake_upstream.last().body == _responses_body("hi")


def test_responses_items_in_their_own_form_pass_unchanged() -> None:
    # A compacted chain's output is sent back as input: its items are already Responses items.
    items = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
        {"type": "compaction", "id": "cmp_1", "encrypted_content": "opaque"},
    ]
    assert input_of(items) == items
    assert all(a is b for a, b in zip(input_of(items), items, strict=True))


# -- Chat Completions (openai SDK, tests/fakes/chat_completions.py) ----------------------------


@pytest.fixture
def chat_fake() -> Iterator[fake_chat_module.FakeChat]:
    with fake_chat_module.running() as f:
        yield f


@pytest.fixture
def chat(chat_fake: fake_chat_module.FakeChat) -> Iterator[ChatCompletionsProvider]:
    p = ChatCompletionsProvider(
        "sk-test-IMG", name="generic", base_url=chat_fake.base_url, read_timeout=2.0
    )
    yield p
    p.close()


def _chat_body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "model": "m-1",
        "messages": [{"role": "system", "content": "Be brief."}, *messages],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_chat_image_turn(
    chat: ChatCompletionsProvider, chat_fake: fake_chat_module.FakeChat
) -> None:
    answered(chat, req("m-1", NEW_TURN))
    assert chat_fake.last().body == _chat_body(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ]
    )


def test_chat_history(chat: ChatCompletionsProvider, chat_fake: fake_chat_module.FakeChat) -> None:
    answered(chat, req("m-1", HISTORY))
    assert chat_fake.last().body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "text", "text": "Describe it."},
            ],
        },
        {"role": "assistant", "content": "A red square."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And this one?"},
                {
                    "type": "image_url",
                    "image_url": {"url": f"data:image/webp;base64,{JPEG_LIKE}"},
                },
            ],
        },
    ]


def test_chat_text_only_unchanged(
    chat: ChatCompletionsProvider, chat_fake: fake_chat_module.FakeChat
) -> None:
    answered(chat, req("m-1", TEXT_ONLY))
    assert chat_fake.last().body == _chat_body(TEXT_ONLY)


# -- Anthropic (anthropic SDK, tests/fakes/anthropic.py) ---------------------------------------


@pytest.fixture
def anthropic_fake() -> Iterator[fake_anthropic_module.FakeAnthropic]:
    with fake_anthropic_module.running() as f:
        yield f


@pytest.fixture
def claude(anthropic_fake: fake_anthropic_module.FakeAnthropic) -> Iterator[AnthropicProvider]:
    p = AnthropicProvider("sk-ant-test-IMG", base_url=anthropic_fake.base_url, read_timeout=2.0)
    yield p
    p.close()


def _anthropic_image(media_type: str, data: str) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _anthropic_body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-5-5",
        "max_tokens": 8192,
        "messages": messages,
        "system": "Be brief.",
        "stream": True,
    }


def test_anthropic_image_turn(
    claude: AnthropicProvider, anthropic_fake: fake_anthropic_module.FakeAnthropic
) -> None:
    answered(claude, req("claude-sonnet-5-5", NEW_TURN))
    assert anthropic_fake.last().body == _anthropic_body(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    _anthropic_image("image/png", PNG),
                ],
            }
        ]
    )


def test_anthropic_history(
    claude: AnthropicProvider, anthropic_fake: fake_anthropic_module.FakeAnthropic
) -> None:
    answered(claude, req("claude-sonnet-5-5", HISTORY))
    assert anthropic_fake.last().body["messages"] == [
        {
            "role": "user",
            "content": [
                _anthropic_image("image/png", PNG),
                {"type": "text", "text": "Describe it."},
            ],
        },
        {"role": "assistant", "content": "A red square."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And this one?"},
                _anthropic_image("image/webp", JPEG_LIKE),
            ],
        },
    ]


def test_anthropic_text_only_unchanged(
    claude: AnthropicProvider, anthropic_fake: fake_anthropic_module.FakeAnthropic
) -> None:
    answered(claude, req("claude-sonnet-5-5", TEXT_ONLY))
    assert anthropic_fake.last().body == _anthropic_body(TEXT_ONLY)


# -- Gemini generateContent and Interactions (google-genai SDK, tests/fakes/gemini.py) --------


@pytest.fixture
def gemini_fake() -> Iterator[fake_gemini_module.FakeGemini]:
    with fake_gemini_module.running() as f:
        yield f


@pytest.fixture
def gemini(gemini_fake: fake_gemini_module.FakeGemini) -> Iterator[GeminiProvider]:
    p = GeminiProvider("AIzaSyTEST-IMG", base_url=gemini_fake.base_url, read_timeout=2.0)
    yield p
    p.close()


@pytest.fixture
def interactions(gemini_fake: fake_gemini_module.FakeGemini) -> Iterator[GeminiProvider]:
    p = GeminiProvider(
        "AIzaSyTEST-IMG", base_url=gemini_fake.base_url, stateful=True, read_timeout=2.0
    )
    yield p
    p.close()


def _inline(media_type: str, data: str) -> dict[str, Any]:
    # The SDK's mixed casing on the wire (providers.md §2.1): `inlineData` with snake keys.
    return {"inlineData": {"data": data, "mime_type": media_type}}


def test_gemini_image_turn(
    gemini: GeminiProvider, gemini_fake: fake_gemini_module.FakeGemini
) -> None:
    answered(gemini, req("gemini-3.5-flash", NEW_TURN))
    assert gemini_fake.last().body["contents"] == [
        {"role": "user", "parts": [{"text": "What is this?"}, _inline("image/png", PNG)]}
    ]


def test_gemini_history(gemini: GeminiProvider, gemini_fake: fake_gemini_module.FakeGemini) -> None:
    answered(gemini, req("gemini-3.5-flash", HISTORY))
    assert gemini_fake.last().body["contents"] == [
        {"role": "user", "parts": [_inline("image/png", PNG), {"text": "Describe it."}]},
        {"role": "model", "parts": [{"text": "A red square."}]},
        {"role": "user", "parts": [{"text": "And this one?"}, _inline("image/webp", JPEG_LIKE)]},
    ]


def test_gemini_text_only_unchanged(
    gemini: GeminiProvider, gemini_fake: fake_gemini_module.FakeGemini
) -> None:
    answered(gemini, req("gemini-3.5-flash", TEXT_ONLY))
    body = gemini_fake.last().body
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "Hello."}]},
        {"role": "user", "parts": [{"text": "Again"}]},
    ]
    assert set(body) == {"contents", "systemInstruction", "generationConfig"}


def _interaction_image(media_type: str, data: str) -> dict[str, Any]:
    return {"type": "image", "data": data, "mime_type": media_type}


def test_interactions_image_turn_and_history(
    interactions: GeminiProvider, gemini_fake: fake_gemini_module.FakeGemini
) -> None:
    answered(interactions, req("gemini-3.5-flash", NEW_TURN))
    assert gemini_fake.last().body["input"] == [
        {
            "type": "user_input",
            "content": [
                {"type": "text", "text": "What is this?"},
                _interaction_image("image/png", PNG),
            ],
        }
    ]
    answered(interactions, req("gemini-3.5-flash", HISTORY))
    assert gemini_fake.last().body["input"] == [
        {
            "type": "user_input",
            "content": [
                _interaction_image("image/png", PNG),
                {"type": "text", "text": "Describe it."},
            ],
        },
        {"type": "model_output", "content": [{"type": "text", "text": "A red square."}]},
        {
            "type": "user_input",
            "content": [
                {"type": "text", "text": "And this one?"},
                _interaction_image("image/webp", JPEG_LIKE),
            ],
        },
    ]


def test_interactions_text_only_unchanged(
    interactions: GeminiProvider, gemini_fake: fake_gemini_module.FakeGemini
) -> None:
    answered(interactions, req("gemini-3.5-flash", TEXT_ONLY))
    assert gemini_fake.last().body["input"] == [
        {"type": "user_input", "content": [{"type": "text", "text": "hi"}]},
        {"type": "model_output", "content": [{"type": "text", "text": "Hello."}]},
        {"type": "user_input", "content": [{"type": "text", "text": "Again"}]},
    ]


# -- the shared rules -------------------------------------------------------------------------


def test_assistant_parts_are_replayed_as_text_and_empty_text_parts_left_out() -> None:
    turns = [
        {"role": "user", "content": [{"type": "text", "text": ""}, IMAGE]},
        {"role": "assistant", "content": [{"type": "text", "text": "Seen."}, IMAGE]},
    ]
    assert input_of(turns) == [
        {
            "role": "user",
            "content": [{"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}],
        },
        {"role": "assistant", "content": "Seen."},
    ]


def test_a_broken_image_part_is_refused_before_sending() -> None:
    with pytest.raises(ValueError):
        parts.convert([{"type": "image", "media_type": "image/png", "data": ""}], parts.RESPONSES)
    with pytest.raises(ValueError):
        parts.convert([{**IMAGE, "data": "not base64!"}], parts.GEMINI)


def test_the_estimate_counts_an_image_as_a_fixed_cost_not_its_base64() -> None:
    big = {**IMAGE, "data": "A" * 400_000}  # ~300 KB of base64: not 100,000 tokens of text
    text = "abcd" * 10  # 10 tokens
    one = ResponseRequest(
        "m", [{"role": "user", "content": [{"type": "text", "text": text}, big]}], None
    )
    assert estimate_input_tokens(one) == 10 + parts.IMAGE_TOKENS
    two = ResponseRequest("m", [{"role": "user", "content": [IMAGE, IMAGE2]}], "abcd")
    assert estimate_input_tokens(two) == 1 + 2 * parts.IMAGE_TOKENS
