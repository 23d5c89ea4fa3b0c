"""The interface every model service adapter implements."""

from __future__ import annotations

from collections.abc import Iterator

from responses_client.cancel import CancelToken
from responses_client.events import Event, ResponseRequest


class Provider:
    """A model service: `stream(request, cancel)` yields neutral events."""

    name: str = "provider"
    stateful: bool = False

    def stream(
        self, request: ResponseRequest, cancel: CancelToken | None = None
    ) -> Iterator[Event]:
        """Yield neutral events for one request; raise `ProviderError` on failure."""
        raise NotImplementedError

    def close(self) -> None:
        """Release pooled connections."""
