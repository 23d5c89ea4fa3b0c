"""The shared HTTP failure rules (`adapters.http_errors`): one `cause` for every adapter."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import httpcore2
import httpx2
import openai
import pytest

from responses_client.adapters.anthropic_messages import AnthropicProvider
from responses_client.adapters.http_errors import (
    retry_after_from,
    should_retry_from,
    stream_lost,
    transport_cause,
)
from responses_client.adapters.openai_chat import ChatCompletionsProvider
from responses_client.adapters.openai_responses import OpenAIProvider
from responses_client.errors import Interrupted, ProviderError, UpstreamUnavailable
from responses_client.events import ResponseRequest
from tests.fake_upstream import FakeUpstream, behaviour

from .conftest import SENTINEL_KEY


def _wrapped(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


def _connection_error(inner: BaseException) -> BaseException:
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/responses")
    return _wrapped(openai.APIConnectionError(request=request), inner)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (httpx2.ConnectTimeout("t"), "timeout"),
        (httpx2.ReadTimeout("t"), "timeout"),
        (httpcore2.PoolTimeout("t"), "timeout"),
        (TimeoutError(), "timeout"),
        (httpx2.ConnectError("refused"), "unreachable"),
        (ConnectionRefusedError(), "unreachable"),
        (socket.gaierror(), "unreachable"),
        (httpx2.ReadError("reset"), "server_error"),
        (httpx2.RemoteProtocolError("closed"), "server_error"),
        (ConnectionResetError(), "server_error"),
        # The SDKs wrap httpx2's error: the cause underneath decides.
        (_connection_error(httpx2.RemoteProtocolError("closed")), "server_error"),
        (_connection_error(httpx2.ConnectError("refused")), "unreachable"),
        (_connection_error(httpx2.ReadTimeout("t")), "timeout"),
    ],
)
def test_one_cause_rule(exc: BaseException, cause: str) -> None:
    assert transport_cause(exc) == cause


def test_stream_lost_after_and_before_text() -> None:
    late = stream_lost(httpx2.ReadTimeout("t"), "req_1", text_seen=True)
    assert type(late) is Interrupted and late.cause == "timeout" and late.request_id == "req_1"
    early = stream_lost(httpx2.ReadError("reset"), "req_1", text_seen=False)
    assert type(early) is UpstreamUnavailable and early.cause == "server_error"
    assert early.upstream_code == "ReadError"


def test_retry_headers() -> None:
    assert retry_after_from({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_from({"retry-after": "3"}) == 3.0
    assert retry_after_from({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_from({"retry-after": "soon"}) is None and retry_after_from(None) is None
    assert should_retry_from({"x-should-retry": "False"}) is False
    assert should_retry_from({"x-should-retry": "maybe"}) is None


@pytest.fixture
def hangup_url() -> Iterator[str]:
    """A server that accepts each connection, reads the request and closes without answering."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2.0)
                with contextlib.suppress(OSError):
                    conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    stop.set()
    with contextlib.suppress(OSError):
        server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
    server.close()
    thread.join(5)


def _fail(provider: object, request: ResponseRequest) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        list(provider.stream(request))  # type: ignore[attr-defined]
    return info.value


def _req() -> ResponseRequest:
    return ResponseRequest(model="m-1", input="hi", instructions=None)


def test_a_hangup_before_the_headers_is_a_server_error_everywhere(hangup_url: str) -> None:
    # The connection was made: the upstream broke it. openai called this `unreachable`.
    providers = [
        OpenAIProvider(SENTINEL_KEY, base_url=hangup_url),
        ChatCompletionsProvider(SENTINEL_KEY, base_url=hangup_url),
        AnthropicProvider(SENTINEL_KEY, base_url=hangup_url.removesuffix("/v1")),
    ]
    try:
        for p in providers:
            err = _fail(p, _req())
            assert type(err) is UpstreamUnavailable and err.cause == "server_error", p
    finally:
        for p in providers:
            p.close()


def test_responses_stream_failures_before_text_carry_a_cause(fake: FakeUpstream) -> None:
    # The Responses relay set no cause at all: a read timeout is `timeout`, a reset `server_error`.
    p = OpenAIProvider(SENTINEL_KEY, base_url=fake.base_url, read_timeout=0.5)
    try:
        fake.script([behaviour("stall_start")])
        err = _fail(p, _req())
        assert type(err) is UpstreamUnavailable and err.cause == "timeout"
        fake.script([behaviour("reset", after=0)])
        err = _fail(p, _req())
        assert type(err) is UpstreamUnavailable and err.cause == "server_error"
    finally:
        p.close()
