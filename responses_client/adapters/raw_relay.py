"""Relay a raw SSE body through a protocol's state machine: the one loop the raw-parsing adapters share.

The Responses, Anthropic and Gemini Interactions adapters read the body themselves (through
`responses_client.sse`) and differ only in their state machine (`*_events.py`). This loop gives
each the same rules: a stop ends the stream quietly, the body is read past the terminal event so
the pooled connection is reused, a malformed line or a lost connection is `upstream_unavailable`
before any text and `interrupted` after, and a body that ends without its terminal event likewise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from responses_client.adapters.http_errors import DRAIN_ERRORS, stream_lost
from responses_client.adapters.transport import drain
from responses_client.cancel import CancelToken
from responses_client.errors import Interrupted, UpstreamUnavailable
from responses_client.events import Event
from responses_client.responses_events import malformed_error
from responses_client.sse import iter_events


class StreamState(Protocol):
    """A protocol's state machine over parsed SSE data (`ResponsesState`, `AnthropicState`, ...)."""

    finished: bool
    text_seen: bool

    def handle(self, event: dict[str, Any]) -> Event | None:
        """The neutral event one SSE message makes, if any; raise `ProviderError` on an error."""
        ...


def relay_raw(
    raw: Iterable[bytes],
    state: StreamState,
    cancel: CancelToken,
    request_id: str | None,
    transport_errors: tuple[type[BaseException], ...],
) -> Iterator[Event]:
    """Yield the neutral events (and `Idle`) of the raw body `raw` as `state` reads them."""
    chunks = iter(raw)
    events = iter_events(chunks, idle=True)
    handle = state.handle
    try:
        for item in events:
            if cancel.cancelled:
                return
            if isinstance(item, dict):
                out = handle(item)
                if out is not None:
                    yield out
                    if state.finished:
                        # Read to the body's end (a `[DONE]` may come first) so the connection
                        # goes back to the pool.
                        drain(events, cancel, DRAIN_ERRORS)
                        drain(chunks, cancel, DRAIN_ERRORS)
                        return
            else:
                yield item  # Idle: the read's buffered data is used up
    except Interrupted as err:  # the SSE layer's (a line over the bound, a malformed event)
        if cancel.cancelled:
            return
        raise malformed_error(
            err.upstream_code or "malformed_event", request_id, text_seen=state.text_seen
        ) from None
    except transport_errors as exc:
        if cancel.cancelled:
            return
        raise stream_lost(exc, request_id, text_seen=state.text_seen) from None
    if cancel.cancelled:
        return
    if state.text_seen:
        raise Interrupted(request_id=request_id, upstream_code="stream_ended_early")
    raise UpstreamUnavailable(
        request_id=request_id, upstream_code="stream_ended_early", cause="server_error"
    )
