"""Fixtures for the adapter tests: a fake upstream and an `OpenAIProvider` pointed at it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from responses_client import OpenAIProvider
from tests.fake_upstream import FakeUpstream, fake_upstream  # noqa: F401  (re-exported fixture)

SENTINEL_KEY = "sk-test-SENTINEL0123456789abcdefXYZ"


@pytest.fixture
def fake(fake_upstream: FakeUpstream) -> FakeUpstream:  # noqa: F811
    """The started fake upstream (alias)."""
    return fake_upstream


@pytest.fixture
def provider(fake: FakeUpstream) -> Iterator[OpenAIProvider]:
    """An adapter with the sentinel key, a 1 s read timeout and the default 2 retries."""
    p = OpenAIProvider(SENTINEL_KEY, base_url=fake.base_url, read_timeout=1.0)
    yield p
    p.close()


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    before = {t.ident for t in threading.enumerate()}
    yield
    leaked = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert not leaked, leaked
