"""The Responses adapter's `compact` (POST /v1/responses/compact) against the fake upstream: the exact
request, the CompactedResponse read as `Compacted`, and the errors as ProviderErrors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import responses_client as rc
from responses_client.events import Compacted
from tests.fake_upstream import FakeUpstream

KEY = "sk-test-compact-0000000000000000"


@pytest.fixture
def provider(upstream: FakeUpstream) -> Iterator[rc.OpenAIProvider]:
    live = rc.OpenAIProvider(KEY, base_url=upstream.base_url, read_timeout=5.0)
    yield live
    live.close()


def first_response(provider: rc.OpenAIProvider, text: str) -> str:
    events = list(
        provider.stream(rc.ResponseRequest(model="gpt-5.4-mini", input=text, instructions="Hi."))
    )
    finished = events[-1]
    assert isinstance(finished, rc.Finished) and finished.response_id
    return finished.response_id


def test_compact_sends_the_chain_and_reads_the_items(
    provider: rc.OpenAIProvider, upstream: FakeUpstream
) -> None:
    rid = first_response(provider, "remember the number 7")
    request = rc.ResponseRequest(
        model="gpt-5.4-mini", input="", instructions="Be brief.", previous_response_id=rid
    )
    done = provider.compact(request)
    assert isinstance(done, Compacted)
    (call,) = upstream.compact_requests()
    assert call.body == {
        "model": "gpt-5.4-mini",
        "instructions": "Be brief.",
        "previous_response_id": rid,
    }
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert [item["type"] for item in done.output] == ["message", "compaction"]
    assert done.output[0]["content"] == [{"type": "input_text", "text": "remember the number 7"}]
    assert done.output[1]["encrypted_content"].startswith("gAAAA")
    assert done.usage is not None and done.usage["output_tokens"] == 40
    assert done.usage["reasoning_tokens"] == 8 and done.usage["total_tokens"] > 40
    assert done.response_id == call.response_id and done.request_id


def test_compact_errors_are_provider_errors(
    provider: rc.OpenAIProvider, upstream: FakeUpstream
) -> None:
    rid = first_response(provider, "hello")
    request = rc.ResponseRequest(
        model="gpt-5.4-mini", input="", instructions=None, previous_response_id=rid
    )
    upstream.compact_error = "500"
    with pytest.raises(rc.UpstreamUnavailable):
        provider.compact(request)
    upstream.compact_error = "401"
    with pytest.raises(rc.AuthFailed) as refused:
        provider.compact(request)
    assert KEY not in repr(refused.value)
    upstream.compact_error = None
    gone = rc.ResponseRequest(
        model="gpt-5.4-mini", input="", instructions=None, previous_response_id="resp_gone"
    )
    with pytest.raises(rc.PreviousResponseNotFound):
        provider.compact(gone)


def test_a_stopped_compaction_is_interrupted(provider: rc.OpenAIProvider) -> None:
    cancel = rc.CancelToken()
    cancel.cancel()
    request = rc.ResponseRequest(model="gpt-5.4-mini", input="x", instructions=None)
    with pytest.raises(rc.Interrupted):
        provider.compact(request, cancel)
