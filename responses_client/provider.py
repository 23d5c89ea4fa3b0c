"""The interface every model service adapter implements (a typing Protocol: structural)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from responses_client.cancel import CancelToken
from responses_client.capabilities import Capabilities
from responses_client.events import Event, ResponseRequest


@runtime_checkable
class Provider(Protocol):
    """A model service: `stream(request, cancel)` yields neutral events or raises `ProviderError`.

    A cancelled stream simply ends (no exception). `stream` makes exactly one upstream request;
    retries are the caller's (`responses_client.retry.stream_with_retries`).
    """

    name: str
    stateful: bool
    capabilities: Capabilities

    def stream(
        self, request: ResponseRequest, cancel: CancelToken | None = None
    ) -> Iterator[Event]:
        """Yield neutral events for one request; raise `ProviderError` on failure."""
        ...

    def close(self) -> None:
        """Release pooled connections."""
        ...
