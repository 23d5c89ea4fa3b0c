"""An httpx2 transport whose sockets a `CancelToken` can shut down at every stage of a request.

The adapter runs the SDK call inside `cancel_scope(token)`. While connecting, the backend polls
the token every `POLL_SECONDS` (and attaches the connecting socket, which Linux aborts on
shutdown); during the TLS handshake a duplicate of the socket is attached; on every write or read
made inside the scope (the request and the wait for its headers) the stream attaches its socket,
so `cancel()` ends a read blocked on a silent upstream. Connection pooling is httpcore2's own
`ConnectionPool`; a socket is detached before its connection can go back to the pool (here on a
non-2xx answer, by the adapter after a stream). Imported by the SDK adapters only (openai, anthropic, google-genai all run over httpx2).

Not cancellable: the DNS lookup and the wait for a free pooled connection (both bounded by their
timeouts). Proxies from the environment are not used (the SDK's default client would).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import ssl
import sys
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpcore2
import httpx2

from responses_client.cancel import CancelToken

POLL_SECONDS = 0.05
LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=5.0)

_current: ContextVar[CancelToken | None] = ContextVar("responses_client_cancel", default=None)


@contextlib.contextmanager
def cancel_scope(token: CancelToken | None) -> Iterator[None]:
    """Make `token` the one that connections opened or used inside this block attach to."""
    reset = _current.set(token)
    try:
        yield
    finally:
        _current.reset(reset)


def _unpatched_poll() -> Any:
    """`select.poll` as the OS gives it, also under gevent's monkey patching: a poll with timeout 0
    never blocks, and gevent's own costs an event-loop round per call. httpcore2 asks every idle
    pooled connection whether it is readable each time it hands a request a connection, so with
    hundreds of open streams this runs thousands of times a second."""
    monkey = sys.modules.get("gevent.monkey")  # loaded by whoever patched; never imported here
    if monkey is not None and monkey.is_module_patched("select"):
        return monkey.get_original("select", "poll")
    return select.poll


_POLL = _unpatched_poll()


def _readable(sock: socket.socket) -> bool:
    # An idle pooled socket that is readable has been closed by the server (or shut by a stop).
    fd = sock.fileno()
    if fd < 0:
        return True
    poller = _POLL()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _wait_connected(sock: socket.socket, deadline: float | None, token: CancelToken) -> None:
    poller = select.poll()  # not select(): a busy server's descriptors pass FD_SETSIZE
    poller.register(sock, select.POLLOUT | select.POLLERR | select.POLLHUP)
    while True:
        if token.cancelled:
            raise httpcore2.ConnectError("cancelled")
        wait = POLL_SECONDS
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise httpcore2.ConnectTimeout("timed out")
            wait = min(wait, left)
        if poller.poll(wait * 1000):
            if token.cancelled:
                raise httpcore2.ConnectError("cancelled")
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, os.strerror(code))
            return


def _connect_one(
    info: tuple[Any, ...], deadline: float | None, local: str | None, token: CancelToken
) -> socket.socket:
    family, kind, proto, _, address = info
    sock = socket.socket(family, kind, proto)
    try:
        if local:
            sock.bind((local, 0))
        sock.setblocking(False)
        if not token.attach_socket(sock):
            raise httpcore2.ConnectError("cancelled")
        code = sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY):
            raise OSError(code, os.strerror(code))
        if code:
            _wait_connected(sock, deadline, token)
        sock.setblocking(True)
        return sock
    except BaseException:
        sock.close()
        raise
    finally:
        token.detach_socket(sock)


def _connect(
    host: str, port: int, timeout: float | None, local: str | None, token: CancelToken
) -> socket.socket:
    deadline = None if timeout is None else time.monotonic() + timeout
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    last: OSError | None = None
    for info in infos:  # in the resolver's order, as socket.create_connection does
        try:
            return _connect_one(info, deadline, local, token)
        except OSError as exc:  # the next address (a stop or the deadline is not an OSError)
            last = exc
    raise last or OSError("no address for the host")


class CancellableStream(httpcore2.NetworkStream):
    """A socket stream that attaches itself to the scope's CancelToken on each write and read."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def _bind(self, error: type[Exception]) -> None:
        token = _current.get()
        if token is not None and not token.attach_socket(self.sock):
            raise error("cancelled")

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Receive up to `max_bytes` (httpcore2's errors on failure)."""
        self._bind(httpcore2.ReadError)
        try:
            self.sock.settimeout(timeout)
            return self.sock.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore2.ReadTimeout(exc) from exc
        except (OSError, ValueError) as exc:  # ValueError: a TLS socket closed under the read
            raise httpcore2.ReadError(exc) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of `buffer`."""
        if not buffer:
            return
        self._bind(httpcore2.WriteError)
        try:
            self.sock.settimeout(timeout)
            self.sock.sendall(buffer)
        except TimeoutError as exc:
            raise httpcore2.WriteTimeout(exc) from exc
        except (OSError, ValueError) as exc:
            raise httpcore2.WriteError(exc) from exc

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.NetworkStream:
        """Wrap the socket in TLS; a stop during the handshake ends it."""
        token = _current.get()
        # wrap_socket detaches the plain socket object: a duplicate descriptor of the same
        # connection is what cancel() can shut down meanwhile.
        probe = self.sock.dup() if token is not None else None
        try:
            if token is not None and not token.attach_socket(probe):
                self.sock.close()
                raise httpcore2.ConnectError("cancelled")
            self.sock.settimeout(timeout)
            tls = ssl_context.wrap_socket(self.sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            self.sock.close()
            raise httpcore2.ConnectTimeout(exc) from exc
        except OSError as exc:
            self.sock.close()
            raise httpcore2.ConnectError(exc) from exc
        finally:
            if probe is not None:
                if token is not None:
                    token.detach_socket(probe)
                probe.close()
        return CancellableStream(tls)

    def get_extra_info(self, info: str) -> Any:
        """What httpcore2 asks of a stream: the socket, addresses, TLS object, readability."""
        if info == "socket":
            return self.sock
        if info == "is_readable":
            return _readable(self.sock)
        if info == "ssl_object":
            # An SSLSocket answers what httpcore2 asks of an SSL object (selected_alpn_protocol).
            return self.sock if isinstance(self.sock, ssl.SSLSocket) else None
        if info == "client_addr":
            return self.sock.getsockname()
        if info == "server_addr":
            return self.sock.getpeername()
        return None


class CancellableBackend(httpcore2.NetworkBackend):
    """httpcore2's network backend with a connect that a CancelToken stops."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.NetworkStream:
        """Connect (polling the scope's token), then set TCP_NODELAY and the options."""
        token = _current.get() or CancelToken()
        try:
            sock = _connect(host, port, timeout, local_address, token)
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(exc) from exc
        except OSError as exc:
            raise httpcore2.ConnectError(exc) from exc
        return CancellableStream(sock)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.NetworkStream:
        """Unix sockets are not cancellable: httpcore2's own connect."""
        return httpcore2.SyncBackend().connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        """Sleep (httpcore2's connect retries; the adapter sets none)."""
        time.sleep(seconds)


# httpcore2's errors -> httpx2's, most specific first (the SDK tells timeouts from other errors).
_ERRORS: tuple[tuple[type[Exception], type[httpx2.HTTPError]], ...] = (
    (httpcore2.ConnectTimeout, httpx2.ConnectTimeout),
    (httpcore2.ReadTimeout, httpx2.ReadTimeout),
    (httpcore2.WriteTimeout, httpx2.WriteTimeout),
    (httpcore2.PoolTimeout, httpx2.PoolTimeout),
    (httpcore2.TimeoutException, httpx2.TimeoutException),
    (httpcore2.ConnectError, httpx2.ConnectError),
    (httpcore2.ReadError, httpx2.ReadError),
    (httpcore2.WriteError, httpx2.WriteError),
    (httpcore2.NetworkError, httpx2.NetworkError),
    (httpcore2.ProxyError, httpx2.ProxyError),
    (httpcore2.UnsupportedProtocol, httpx2.UnsupportedProtocol),
    (httpcore2.LocalProtocolError, httpx2.LocalProtocolError),
    (httpcore2.RemoteProtocolError, httpx2.RemoteProtocolError),
    (httpcore2.ProtocolError, httpx2.ProtocolError),
)


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for source, target in _ERRORS:
            if isinstance(exc, source):
                raise target(str(exc)) from exc
        raise


class _Body(httpx2.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _mapped():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class CancellableTransport(httpx2.BaseTransport):
    """httpcore2's connection pool over `CancellableBackend`, as an httpx2 transport."""

    def __init__(self, *, limits: httpx2.Limits = LIMITS, verify: bool | str = True) -> None:
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CancellableBackend(),
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send `request` through the pool; errors become httpx2's."""
        core = httpcore2.Request(
            method=request.method,
            url=httpcore2.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped():
            resp = self._pool.handle_request(core)
        if not 200 <= resp.status < 300:
            # The SDK reads the error body and releases the connection to the pool before the
            # adapter sees the error: the token lets go of the socket first.
            token = _current.get()
            if token is not None:
                token.detach_socket()
        assert isinstance(resp.stream, Iterable)
        return httpx2.Response(
            status_code=resp.status,
            headers=resp.headers,
            stream=_Body(resp.stream),
            extensions=resp.extensions,
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()


DRAIN_LIMIT = 16  # messages read after a stream's terminal event before its connection is given up


def drain(
    events: Iterator[object], cancel: CancelToken, errors: tuple[type[BaseException], ...]
) -> None:
    """Read what follows a stream's terminal event, so its connection goes back to the pool.

    A body left unread closes the connection, and every turn would pay a new TCP and TLS
    handshake that the SDK alone (which reads to the end) does not. Bounded: an upstream that
    keeps sending after its terminal event loses its connection instead. `errors` are the
    adapter's (the answer is complete; only the connection's reuse is lost).
    """
    try:
        for n, _ in enumerate(events):
            if n >= DRAIN_LIMIT or cancel.cancelled:
                return
    except errors:
        return
