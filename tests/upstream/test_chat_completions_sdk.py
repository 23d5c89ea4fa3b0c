"""The fake speaks what the real openai SDK reads: its own typed iterator against each host's dialect.

These pin the providers.md §3 facts the adapter's raw parser relies on, with the pinned SDK: comment
lines skipped, non-standard fields kept in `model_extra`, usage in a last chunk with no choices, an
`error` inside a chunk raising `openai.APIError` (no status), 402 a plain `APIStatusError`, and
xAI's flat bad-key body reaching the SDK as a string; and what the SDK takes from the environment
with an explicit key (what `openai_client.isolated_client` keeps out).
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from responses_client.adapters.openai_client import isolated_client
from tests.fakes.chat_completions import DEFAULT_REPLY, FakeChat, behaviour, running

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def fake() -> Iterator[FakeChat]:
    with running() as f:
        yield f


@pytest.fixture
def client(fake: FakeChat) -> Iterator[openai.OpenAI]:
    c = openai.OpenAI(api_key="sk-test-k", base_url=fake.base_url, max_retries=0)
    yield c
    c.close()


@pytest.mark.parametrize(
    ("style", "field"),
    [("openai", "reasoning"), ("deepseek", "reasoning_content"), ("openrouter", "reasoning")],
)
def test_typed_iterator_reads_every_dialect(
    fake: FakeChat, client: openai.OpenAI, style: str, field: str
) -> None:
    fake.style = style
    fake.script([behaviour("reasoning"), behaviour("keepalive")])
    stream = client.chat.completions.create(
        model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get(field) or "" for c in chunks if c.choices
    )
    assert text == DEFAULT_REPLY and reasoning
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and last.usage.total_tokens > 0
    assert not hasattr(stream, "_request_id")  # a Stream has none: read the response headers
    if style == "deepseek":
        assert (last.usage.model_extra or {}).get("prompt_cache_hit_tokens")
    if style == "openrouter":
        assert (last.usage.model_extra or {}).get("cost") == 0.00123
    else:
        assert stream.response.headers["x-request-id"].startswith("req_")
    # The keep-alive comments are skipped as well.
    again = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in again if c.choices) == DEFAULT_REPLY


def test_error_chunk_raises_api_error_without_status(fake: FakeChat, client: openai.OpenAI) -> None:
    fake.style = "openrouter"
    fake.script([behaviour("error_after")])
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError) as info:
        for _ in stream:
            pass
    assert not isinstance(info.value, openai.APIStatusError)
    assert isinstance(info.value.body, dict) and info.value.body["code"] == "server_error"


def test_402_is_a_plain_status_error(fake: FakeChat, client: openai.OpenAI) -> None:
    fake.script([behaviour("402")])
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert type(info.value) is openai.APIStatusError and info.value.status_code == 402


def test_xai_bad_key_body_is_a_string_to_the_sdk(fake: FakeChat, client: openai.OpenAI) -> None:
    fake.script([behaviour("xai_bad_key")])
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="grok-4.7", input="hi", stream=True)
    assert isinstance(info.value.body, str) and info.value.code is None


ENV = {
    "OPENAI_API_KEY": "sk-env-WRONGKEY-0123456789",
    "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    "OPENAI_ORG_ID": "org-env",
    "OPENAI_PROJECT_ID": "proj-env",
    "OPENAI_CUSTOM_HEADERS": "Authorization: Bearer env-key\nX-Env: 1",
}


def test_the_plain_sdk_sends_the_environment_even_with_an_explicit_key(
    fake: FakeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    c = openai.OpenAI(api_key="sk-test-explicit", base_url=fake.base_url, max_retries=0)
    list(c.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    headers = fake.last().headers
    # The custom headers are merged after the key's: the environment's Authorization wins.
    assert headers["authorization"] == "Bearer env-key"
    assert headers["openai-organization"] == "org-env" and headers["x-env"] == "1"
    c.close()


@pytest.mark.parametrize("endpoint", ["chat", "responses"])
def test_isolated_client_sends_only_its_own_headers(
    fake: FakeChat, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    c = isolated_client(
        "sk-test-explicit",
        base_url=fake.base_url,
        connect_timeout=5.0,
        read_timeout=5.0,
        headers={"X-Title": "chat-app"},
    )
    if endpoint == "chat":
        list(c.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    else:
        fake.script([behaviour("400")])  # any answer will do: the request's headers are the point
        with pytest.raises(openai.BadRequestError):
            c.responses.create(model="m", input="hi", stream=True)
    headers = fake.last().headers
    assert headers["authorization"] == "Bearer sk-test-explicit"
    assert headers["x-title"] == "chat-app" and headers["x-stainless-retry-count"] == "0"
    for name in ("openai-organization", "openai-project", "x-env"):
        assert name not in headers
    c.close()
