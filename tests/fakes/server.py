"""The plumbing every fake upstream shares: a real HTTP server on 127.0.0.1 and its lifecycle.

`FakeServer` binds, serves in a background thread and stops (open connections dropped, every
handler thread joined); it counts the TCP connections it accepts. `FakeHandler` is the request
handler's base: quiet, HTTP/1.1, TCP_NODELAY, optional TLS, chunked writes, and waits that notice
at once when the client hangs up (`ClientGone`). The wire formats live in the fakes themselves;
this module imports none of them (they import it).
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar, cast

F = TypeVar("F", bound="FakeServer")


class ClientGone(Exception):
    """The client closed the connection."""


class FakeHTTPServer(ThreadingHTTPServer):
    """The listening server (a non-daemon handler thread per connection, joined on close)."""

    request_queue_size = 256  # socketserver's default backlog of 5 drops connections under load
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Say nothing: clients hanging up (resets, closed keep-alive sockets) are part of the tests."""
        return

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept; with a TLS context, wrap the socket (the handshake runs in the handler's thread)."""
        sock, addr = super().get_request()
        tls = self.fake.tls
        if tls is not None:
            sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


class FakeServer:
    """A fake upstream's lifecycle: `start`, `stop`, `base_url`, `with fake:`; counts `connections`."""

    api_path = ""  # what `base_url` adds to the server's root (e.g. "/v1")

    def __init__(
        self, host: str, port: int, handler: type[FakeHandler[Any]], thread_name: str
    ) -> None:
        self.host = host
        self.port = port
        self.tls: ssl.SSLContext | None = None  # a server-side context: HTTPS instead of HTTP
        self.connections = 0  # TCP connections accepted (a pooled client reuses one)
        self._handler = handler
        self._thread_name = thread_name
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._server: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def root_url(self) -> str:
        """The server's root URL (`http://127.0.0.1:PORT`, https with a TLS context)."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL to give the SDK: the root plus `api_path`."""
        return self.root_url + self.api_path

    def start(self) -> Self:
        """Bind and serve in a background thread."""
        self._stopping.clear()
        self._server = FakeHTTPServer((self.host, self.port), self._handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self._thread_name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and join every handler thread."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _connected(self, address: Any) -> None:
        """Note one accepted connection (called under `_lock`)."""
        self.connections += 1


def serving(fake: F) -> Iterator[F]:
    """Start `fake`, yield it, then stop it (threads joined) however the caller ends."""
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def serve_until_interrupted(fake: FakeServer, what: str) -> None:
    """Run `fake` in the foreground until Ctrl-C (the fakes' standalone `main`)."""
    fake.start()
    print(f"{what} on {fake.base_url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


class FakeHandler(BaseHTTPRequestHandler, Generic[F]):
    """A fake's request handler: connection bookkeeping, chunked writes, client-aware waits."""

    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def setup(self) -> None:
        """Finish a TLS handshake, set TCP_NODELAY and note the connection."""
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            try:
                self.request.do_handshake()
            finally:
                self.request.settimeout(None)
        super().setup()
        # Real streaming APIs send each event at once; without this, Nagle's algorithm holds small
        # frames back until the client's delayed ACK (up to 40 ms on Linux).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        fake = self.server.fake
        with fake._lock:
            fake._conns.add(self.connection)
            fake._connected(self.client_address)

    def finish(self) -> None:
        """Flush (a gone client is no error) and forget the connection."""
        with contextlib.suppress(OSError):
            super().finish()
        fake = self.server.fake
        with fake._lock:
            fake._conns.discard(self.connection)

    @property
    def fake(self) -> F:
        """The fake this server belongs to."""
        return cast(F, self.server.fake)

    def _client_gone(self) -> bool:
        try:
            ready, _, _ = select.select([self.connection], [], [], 0)
            if ready:
                # The plain socket's recv: an SSLSocket refuses flags (TLS mode peeks raw bytes).
                return socket.socket.recv(self.connection, 1, socket.MSG_PEEK) == b""
        except OSError:
            return True
        return False

    def _wait(self, seconds: float) -> None:
        """Sleep, but notice at once when the client hangs up or the server stops."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            if self.server.fake._stopping.is_set():
                raise ClientGone
            with contextlib.suppress(OSError, ValueError):
                select.select([self.connection], [], [], min(left, 0.02))
            if self._client_gone():
                raise ClientGone

    def _hold(self) -> None:
        """Stay silent until the client goes (or the server stops)."""
        while True:
            self._wait(0.2)

    def _chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        except OSError as exc:
            raise ClientGone from exc

    def _end(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
        except OSError as exc:
            raise ClientGone from exc

    def _reset(self) -> None:
        """Drop the connection with an RST."""
        self._wait(0.1)  # let the client read what was sent: an RST discards unread data
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True
