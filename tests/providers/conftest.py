"""Fixtures for the provider configuration tests: adapters that record how they were built."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from responses_client.capabilities import Capabilities

PROTOCOLS = ("responses", "chat_completions", "anthropic", "gemini")


class Recorded:
    """Stands in for an adapter class: keeps the key and the keyword arguments it was given."""

    def __init__(self, api_key: str | None, **kwargs: Any) -> None:
        self.api_key = api_key
        self.kwargs = kwargs
        self.name = kwargs["name"]
        self.stateful = kwargs.get("stateful", False)
        self.capabilities = Capabilities(protocol="fake", stateful=self.stateful)
        self.closed = False

    def stream(self, request: Any, cancel: Any = None) -> Iterator[Any]:
        raise AssertionError("configuration tests never stream")

    def close(self) -> None:
        self.closed = True


def recording(kind: str) -> type[Recorded]:
    """A recording class per protocol, so a test can tell which adapter a provider got."""
    return type(f"Recorded_{kind}", (Recorded,), {"kind": kind})


@pytest.fixture
def adapters() -> dict[str, type[Recorded]]:
    return {kind: recording(kind) for kind in PROTOCOLS}


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[..., str]:
    """Write a providers file and return its path (as a string, as the variable holds it)."""

    def write(text: str, name: str = "providers.toml") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write
