"""An in-process fake provider for unit tests of turns and context: enqueue replies, read back requests.

Implements the `Provider` protocol with no network: each stream takes the next enqueued script (a
reply, a list of events and errors, an error at open, or a hold until stopped). Thread-safe.
The real HTTP fake upstream (tests/fake_upstream.py) is for integration tests.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from responses_client.cancel import CancelToken
from responses_client.capabilities import Capabilities, check_request
from responses_client.errors import ProviderError
from responses_client.events import (
    Event,
    Finished,
    Idle,
    ReasoningDelta,
    ResponseRequest,
    ResponseStarted,
    TextDelta,
)

_WORDS = re.compile(r"\s*\S+\s*|\s+")
HOLD_TIMEOUT = 60.0  # a held stream that nobody stops ends on its own: a test never hangs forever


@dataclass(frozen=True)
class _Reply:
    text: str
    response_id: str | None
    usage: dict[str, int] | None
    status: Literal["completed", "incomplete"]
    reason: str | None
    reasoning: str | None
    chunks: tuple[str, ...] | None
    started_metadata: tuple[tuple[str, str | int], ...] = ()
    finished_metadata: tuple[tuple[str, str | int], ...] = ()
    cost_usd: float | None = None
    echoed_model: str | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class _Events:
    items: tuple[Event | ProviderError, ...]


@dataclass(frozen=True)
class _Error:
    error: ProviderError


@dataclass(frozen=True)
class _Hold:
    pass


_Script = _Reply | _Events | _Error | _Hold


def _usage(request: ResponseRequest, text: str, reasoning: str | None) -> dict[str, int]:
    size = len(request.instructions or "") + len(str(request.input))
    n_in = max(1, size // 4)
    n_reason = len(reasoning or "") // 4
    n_out = max(1, len(text) // 4) + n_reason
    return {
        "input_tokens": n_in,
        "cached_tokens": 0,
        "output_tokens": n_out,
        "reasoning_tokens": n_reason,
        "total_tokens": n_in + n_out,
    }


class FakeProvider:
    """A scripted `Provider`: `enqueue_*` what the next streams do; `requests` is what was sent."""

    def __init__(
        self,
        name: str = "openai",
        stateful: bool = True,
        capabilities: Capabilities | None = None,
    ) -> None:
        self.name = name
        self.stateful = stateful
        self.capabilities = capabilities or Capabilities(protocol="fake", stateful=stateful)
        self.requests: list[ResponseRequest] = []
        self.streams_opened = 0
        self.closed = False
        self._lock = threading.Lock()
        self._scripts: deque[_Script] = deque()
        self._ids = itertools.count(1)

    # -- scripting -------------------------------------------------------------------------------
    def enqueue_reply(
        self,
        text: str,
        *,
        response_id: str | None = None,
        usage: dict[str, int] | None = None,
        status: Literal["completed", "incomplete"] = "completed",
        reason: str | None = None,
        reasoning: str | None = None,
        chunks: Sequence[str] | None = None,
        started_metadata: Mapping[str, str | int] | None = None,
        finished_metadata: Mapping[str, str | int] | None = None,
        cost_usd: float | None = None,
        echoed_model: str | None = None,
        finish_reason: str | None = None,
    ) -> None:
        """Next stream: ResponseStarted, reasoning, TextDeltas (by `chunks` or words), Idle, Finished.

        `started_metadata` / `finished_metadata` are the identifiers on those events, `cost_usd` a
        cost the provider billed, `echoed_model` the model it says answered (default: the
        requested one), `finish_reason` its own stop value (default: the reason).
        """
        if chunks is not None and "".join(chunks) != text:
            raise ValueError("chunks must join to text")
        script = _Reply(
            text,
            response_id,
            usage,
            status,
            reason,
            reasoning,
            None if chunks is None else tuple(chunks),
            tuple((started_metadata or {}).items()),
            tuple((finished_metadata or {}).items()),
            cost_usd,
            echoed_model,
            finish_reason,
        )
        self._push(script)

    def enqueue_events(self, events: Sequence[Event | ProviderError]) -> None:
        """Next stream yields `events` in order; a ProviderError item is raised at that point."""
        self._push(_Events(tuple(events)))

    def enqueue_error(self, err: ProviderError) -> None:
        """Next stream raises `err` as it opens (before any event)."""
        self._push(_Error(err))

    def enqueue_hold(self) -> None:
        """Next stream yields ResponseStarted, then blocks until its cancel token is cancelled."""
        self._push(_Hold())

    def pending(self) -> int:
        """How many scripts are still queued."""
        with self._lock:
            return len(self._scripts)

    def _push(self, script: _Script) -> None:
        with self._lock:
            self._scripts.append(script)

    # -- the Provider protocol -------------------------------------------------------------------
    def stream(
        self, request: ResponseRequest, cancel: CancelToken | None = None
    ) -> Iterator[Event]:
        """Play the next enqueued script for `request` (a stop ends the stream quietly)."""
        cancel = cancel or CancelToken()
        with self._lock:
            self.streams_opened += 1
            if cancel.cancelled:
                return
            if not self._scripts:
                raise RuntimeError("FakeProvider: nothing enqueued")
            check_request(self.capabilities, request)
            self.requests.append(request)
            script = self._scripts.popleft()
            n = next(self._ids)
        if isinstance(script, _Error):
            raise script.error
        if isinstance(script, _Events):
            for item in script.items:
                if cancel.cancelled:
                    return
                if isinstance(item, ProviderError):
                    raise item
                yield item
            return
        response_id = f"resp_fake_{n}"
        request_id = f"req_fake_{n}"
        if isinstance(script, _Hold):
            yield ResponseStarted(response_id, request.model, request_id)
            cancel.wait(HOLD_TIMEOUT)
            return
        yield from self._reply(script, request, cancel, response_id, request_id)

    def _reply(
        self,
        script: _Reply,
        request: ResponseRequest,
        cancel: CancelToken,
        default_id: str,
        request_id: str,
    ) -> Iterator[Event]:
        response_id = script.response_id or default_id
        model = script.echoed_model or request.model
        yield ResponseStarted(response_id, model, request_id, dict(script.started_metadata))
        if script.reasoning:
            yield ReasoningDelta(script.reasoning)
        pieces = script.chunks if script.chunks is not None else _WORDS.findall(script.text)
        for piece in pieces:
            if cancel.cancelled:
                return
            yield TextDelta(piece)
        yield Idle()
        reason = script.reason
        if script.status == "incomplete" and reason is None:
            reason = "max_output_tokens"
        yield Finished(
            status=script.status,
            response_id=response_id,
            usage=script.usage or _usage(request, script.text, script.reasoning),
            model=model,
            reason=reason,
            finish_reason=script.finish_reason or reason,
            cost_usd=script.cost_usd,
            metadata=dict(script.finished_metadata),
        )

    def close(self) -> None:
        """Nothing to release; recorded so tests can check it."""
        self.closed = True
