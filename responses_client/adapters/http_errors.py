"""What every SDK adapter shares about HTTP failures: the retry headers, the cause of a failure to
reach or read the upstream, the warning line, the default timeouts.

SDK-agnostic: it reads headers, httpx2/httpcore2 and OS exceptions (the openai, anthropic and
google-genai SDKs all run over httpx2 and chain its errors as `__cause__`); each SDK's own status
classification stays in its `*_errors` module. Imports no SDK and nothing of the app.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import time
from collections.abc import Mapping

import httpcore2
import httpx2

from responses_client.errors import Interrupted, ProviderError, UpstreamUnavailable

logger = logging.getLogger("responses_client")  # one logger name for the whole package

DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_CONNECT_TIMEOUT = 5.0
# What reading a body after its terminal event can raise (`transport.drain`): the connection's
# reuse is lost, the answer is not.
DRAIN_ERRORS: tuple[type[BaseException], ...] = (ProviderError, httpx2.HTTPError, OSError)

_TIMEOUTS = (httpx2.TimeoutException, httpcore2.TimeoutException, TimeoutError)
# No connection was made: refused, no route, no such host.
_NO_CONNECTION = (
    httpx2.ConnectError,
    httpcore2.ConnectError,
    ConnectionRefusedError,
    socket.gaierror,
)


def retry_after_from(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def should_retry_from(headers: Mapping[str, str] | None) -> bool | None:
    """The upstream's `x-should-retry` header: True, False, or None when absent or odd."""
    value = (headers or {}).get("x-should-retry", "").strip().lower()
    return {"true": True, "false": False}.get(value)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def transport_cause(exc: BaseException) -> str:
    """API.md's `cause` for a failure to reach or read the upstream (the SDK's wrapper or not).

    `timeout` for any timeout (connect, read, write, pool), `unreachable` when no connection was
    made, else `server_error`: the upstream dropped or broke an answer it had begun.
    """
    chain = _chain(exc)
    if any(isinstance(e, _TIMEOUTS) for e in chain):
        return "timeout"
    if any(isinstance(e, _NO_CONNECTION) for e in chain):
        return "unreachable"
    return "server_error"


def error_from_transport(exc: BaseException, request_id: str | None = None) -> UpstreamUnavailable:
    """A failure to reach the upstream or to read its answer before any text."""
    return UpstreamUnavailable(
        request_id=request_id, upstream_code=type(exc).__name__, cause=transport_cause(exc)
    )


def stream_lost(exc: BaseException, request_id: str | None, *, text_seen: bool) -> ProviderError:
    """The connection failed while streaming: `Interrupted` after text, else unavailable."""
    if text_seen:
        return Interrupted(
            request_id=request_id, upstream_code=type(exc).__name__, cause=transport_cause(exc)
        )
    return error_from_transport(exc, request_id)


def log_provider_error(name: str, what: str, err: ProviderError) -> None:
    """One warning line for an upstream's error: codes and ids only, never upstream text."""
    logger.warning(
        "%s provider=%s code=%s status=%s upstream_code=%s request_id=%s",
        what,
        name,
        err.code,
        err.status,
        err.upstream_code,
        err.request_id,
    )
