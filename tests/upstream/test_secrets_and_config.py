"""The API key never appears in errors, reprs or logs; the registry reads the openai variables."""

from __future__ import annotations

import logging

import pytest

from responses_client import (
    OpenAIProvider,
    ProviderError,
    ResponseRequest,
)
from responses_client.configure import build_registry
from tests.fake_upstream import FakeUpstream

from .conftest import SENTINEL_KEY

MODELS = [
    "fake-401",
    "fake-403",
    "fake-429",
    "fake-quota",
    "fake-500",
    "fake-context",
    "fake-model404",
    "fake-400",
    "fake-reset-1",
    "fake-malformed-1",
    "fake-error_nested-1",
    "fake-error_flat-1",
    "fake-failed-1",
    "fake-stall-1",
]


@pytest.mark.parametrize("model", MODELS)
def test_key_never_in_error_or_logs(
    provider: OpenAIProvider, caplog: pytest.LogCaptureFixture, model: str
) -> None:
    caplog.set_level(logging.DEBUG)
    request = ResponseRequest(model, "hi", "Be brief.")
    with pytest.raises(ProviderError) as info:
        list(provider.stream(request))
    err = info.value
    for shown in (str(err), repr(err), repr(provider), caplog.text):
        assert SENTINEL_KEY not in shown
        assert SENTINEL_KEY[:10] not in shown  # the upstream's masked echo "sk-test-SE***"
        assert "quota (key" not in shown and "Incorrect API key" not in shown
    assert str(err) == type(err).safe_message
    assert err.args == ()


def test_401_upstream_message_echoes_key_but_adapter_drops_it(
    provider: OpenAIProvider, fake: FakeUpstream
) -> None:
    import httpx2

    r = httpx2.post(
        f"{fake.base_url}/responses",
        json={"model": "fake-401", "input": "x"},
        headers={"Authorization": f"Bearer {SENTINEL_KEY}"},
    )
    assert r.status_code == 401
    assert SENTINEL_KEY[:10] + "***" in r.json()["error"]["message"]


def test_registry_from_env_without_key() -> None:
    assert build_registry({}).providers == {}
    assert build_registry({"OPENAI_API_KEY": "  "}).providers == {}


def test_registry_from_env_reads_variables() -> None:
    env = {
        "OPENAI_API_KEY": SENTINEL_KEY,
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "CHAT_UPSTREAM_READ_TIMEOUT": "12.5",
        "CHAT_UPSTREAM_MAX_RETRIES": "0",
    }
    providers = build_registry(env).providers
    p = providers["openai"]
    assert isinstance(p, OpenAIProvider)
    assert p.name == "openai" and p.stateful is True
    assert p.base_url == "http://127.0.0.1:9/v1"
    assert p.read_timeout == 12.5 and not hasattr(p, "max_retries")
    assert SENTINEL_KEY not in repr(p) and SENTINEL_KEY not in repr(providers)
    p.close()


def test_registry_from_env_defaults() -> None:
    p = build_registry({"OPENAI_API_KEY": SENTINEL_KEY}).providers["openai"]
    assert isinstance(p, OpenAIProvider)
    assert p.base_url is None and p.read_timeout == 60.0
    p.close()


def test_registry_from_env_bad_number() -> None:
    with pytest.raises(ValueError, match="CHAT_UPSTREAM_READ_TIMEOUT") as info:
        build_registry({"OPENAI_API_KEY": SENTINEL_KEY, "CHAT_UPSTREAM_READ_TIMEOUT": "soon"})
    assert SENTINEL_KEY not in str(info.value)
