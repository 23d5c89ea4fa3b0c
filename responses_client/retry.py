"""The app's retry policy over one provider stream (the SDKs' own retries are off).

Retries only `RateLimited` and `UpstreamUnavailable` raised before any answer or reasoning text was
yielded; honours the upstream's `x-should-retry: false`; never waits a `Retry-After` longer than
`max_retry_after` (it raises at once instead); waits on the turn's CancelToken, so a stop during
the back-off returns at once and no attempt starts after a stop. Imports no SDK.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from responses_client.cancel import CancelToken
from responses_client.errors import RateLimited, UpstreamUnavailable
from responses_client.events import Event, ReasoningDelta, TextDelta

logger = logging.getLogger("responses_client")  # one logger name for the whole package


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry (`CHAT_UPSTREAM_MAX_RETRIES`, `..._MAX_RETRY_AFTER`)."""

    max_retries: int = 2
    max_retry_after: float = 10.0
    base_delay: float = 0.5
    max_delay: float = 8.0

    def backoff(self, retry: int) -> float:
        """The wait before retry number `retry` (0-based) without a Retry-After: 2^n, jittered."""
        delay = min(self.base_delay * (2.0**retry), self.max_delay)
        return delay * (1.0 - 0.25 * random.random())  # jitter spreads clients that failed together


def stream_with_retries(
    open_stream: Callable[[], Iterator[Event]], cancel: CancelToken, policy: RetryPolicy
) -> Iterator[Event]:
    """Yield `open_stream()`'s events, opening it again per `policy` after a retryable failure."""
    retry = 0
    while not cancel.cancelled:
        relayed = False
        try:
            for event in open_stream():
                if not relayed and isinstance(event, TextDelta | ReasoningDelta):
                    relayed = True
                yield event
            return
        except (RateLimited, UpstreamUnavailable) as err:
            if relayed or retry >= policy.max_retries or err.should_retry is False:
                raise
            if err.retry_after is not None and err.retry_after > policy.max_retry_after:
                raise  # the upstream asks for longer than a person waits: fail (or fall back) now
            delay = err.retry_after if err.retry_after is not None else policy.backoff(retry)
            retry += 1
            logger.info(
                "upstream_retry n=%d code=%s status=%s delay=%.2f",
                retry,
                err.code,
                err.status,
                delay,
            )
            if cancel.wait(max(0.0, delay)):
                return
