"""What the pinned anthropic SDK does on its own, against the fake: the facts the adapter relies on.

The reference (providers.md §1) checked anthropic 2.10.0; these pin each fact on the installed
version, so an upgrade that changes one fails here rather than in production.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types.anthropic_beta_param import AnthropicBetaParam

from responses_client.adapters.anthropic_client import API_VERSION
from responses_client.adapters.anthropic_messages import THREADS_BETA, AnthropicProvider
from responses_client.errors import UpstreamUnavailable
from responses_client.events import Finished, ResponseRequest, TextDelta
from tests.fakes.anthropic import (
    DEFAULT_REPLY,
    FakeAnthropic,
    behaviour,
    fake_anthropic,  # noqa: F401  (the fixture)
)

KEY = "sk-ant-test-SENTINEL0123456789abcdefXYZ"
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def upstream(fake_anthropic: FakeAnthropic) -> FakeAnthropic:  # noqa: F811
    """The started fake (alias)."""
    return fake_anthropic


@pytest.fixture
def sdk(upstream: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    """The SDK alone, with its own defaults (retries included)."""
    client = anthropic.Anthropic(api_key=KEY, base_url=upstream.base_url)
    yield client
    client.close()


def test_the_sdk_sends_bearer_and_the_version_the_adapter_pins(
    sdk: anthropic.Anthropic, upstream: FakeAnthropic
) -> None:
    sdk.messages.create(model="m", max_tokens=5, messages=MESSAGES)
    rec = upstream.last()
    assert rec.headers["authorization"] == f"Bearer {KEY}" and "x-api-key" not in rec.headers
    assert rec.headers["anthropic-version"] == API_VERSION == "2026-10-21"


def test_the_sdk_has_no_temperature() -> None:
    client = anthropic.Anthropic(api_key=KEY, base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(TypeError):
        client.messages.create(model="m", max_tokens=5, messages=MESSAGES, temperature=0.5)
    client.close()


def test_the_fake_refuses_temperature_as_the_api_does(
    sdk: anthropic.Anthropic, upstream: FakeAnthropic
) -> None:
    with pytest.raises(anthropic.BadRequestError):
        sdk.with_options(max_retries=0).messages.create(
            model="m",
            max_tokens=5,
            messages=MESSAGES,
            extra_body={"temperature": 0.5},
        )


def test_the_sdk_retries_by_default_and_the_adapter_never(
    sdk: anthropic.Anthropic, upstream: FakeAnthropic
) -> None:
    upstream.script([behaviour("529", headers={"retry-after": "0"})] * 3)
    with pytest.raises(anthropic.APIStatusError) as info:
        sdk.messages.create(model="m", max_tokens=5, messages=MESSAGES)
    assert info.value.status_code == 529 and type(info.value).__name__ == "OverloadedError"
    counts = [r.headers["x-stainless-retry-count"] for r in upstream.messages_requests()]
    assert counts == ["0", "1", "2"]  # 3 attempts: retries default to 2
    upstream.requests.clear()
    upstream.script(["529"])
    p = AnthropicProvider(KEY, base_url=upstream.base_url)
    with pytest.raises(UpstreamUnavailable):
        list(p.stream(ResponseRequest(model="m", input="hi", instructions=None)))
    assert len(upstream.requests) == 1
    p.close()


def test_an_error_event_after_200_is_a_status_error_200(
    sdk: anthropic.Anthropic, upstream: FakeAnthropic
) -> None:
    upstream.script([behaviour("error_event", after=1)])
    seen: list[Any] = []
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        sdk.messages.stream(model="m", max_tokens=5, messages=MESSAGES) as stream,
    ):
        seen.extend(stream.text_stream)
    err = info.value
    assert err.status_code == 200 and type(err) is anthropic.APIStatusError
    assert isinstance(err.body, dict) and err.body["error"]["type"] == "overloaded_error"
    assert err.request_id and err.request_id.startswith("req_")
    assert "".join(seen) == DEFAULT_REPLY[:4]  # events already yielded stay yielded


def test_a_stream_without_event_lines(sdk: anthropic.Anthropic, upstream: FakeAnthropic) -> None:
    # The SDK drops every SSE message without an `event:` line (providers.md §1.2); the adapter
    # reads each message's JSON `type`, so the same bytes still make a whole reply.
    upstream.script(["data_only"])
    with sdk.messages.stream(model="m", max_tokens=5, messages=MESSAGES) as stream:
        assert list(stream) == []
    upstream.script(["data_only"])
    p = AnthropicProvider(KEY, base_url=upstream.base_url)
    events = list(p.stream(ResponseRequest(model="m", input="hi", instructions=None)))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == DEFAULT_REPLY
    assert isinstance(events[-1], Finished)
    p.close()


def test_the_threads_beta_is_one_the_sdk_names() -> None:
    def literals(tp: Any) -> set[str]:
        out: set[str] = set()
        for arg in typing.get_args(tp):
            out |= {arg} if isinstance(arg, str) else literals(arg)
        return out

    assert THREADS_BETA in literals(AnthropicBetaParam)


def test_the_sdk_refuses_httpx_objects_but_takes_httpx2() -> None:
    client = anthropic.Anthropic(
        api_key=KEY, base_url="http://127.0.0.1:9", http_client=httpx2.Client(), max_retries=0
    )
    client.close()

    class Foreign:  # stands in for an `httpx` object (the httpx package is not installed here)
        pass

    Foreign.__module__ = "httpx._client"
    with pytest.raises(TypeError, match="httpx2"):
        anthropic.Anthropic(api_key=KEY, timeout=Foreign())
