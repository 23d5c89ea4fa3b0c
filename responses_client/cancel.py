"""A thread-safe stop switch that shuts the upstream socket down at once.

The transport attaches the socket a request is using (while connecting, sending, waiting for the
headers and streaming); `cancel()` shuts it down, so a blocked read in another thread returns at
once. Imports nothing but the standard library.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class CancelToken:
    """Thread-safe stop switch: `cancel()` shuts the upstream socket down at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._sock: socket.socket | None = None

    @property
    def cancelled(self) -> bool:
        """True once `cancel()` was called."""
        return self._event.is_set()

    def cancel(self) -> None:
        """Stop the stream: a blocked read in another thread returns at once."""
        with self._lock:
            self._event.set()
            # Under the lock: the stream detaches before its connection can go back to the pool,
            # so this never shuts down a socket that another request is using.
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    # The plain socket's shutdown, also for a TLS socket: SSLSocket.shutdown would
                    # unwrap it under the reading thread's feet (a ValueError, not an OSError).
                    socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or `timeout`; return whether cancelled."""
        return self._event.wait(timeout)

    def attach_socket(self, sock: socket.socket | None) -> bool:
        """Let `cancel()` shut `sock` down; False (nothing attached) when already cancelled."""
        with self._lock:
            if self._event.is_set():
                return False
            self._sock = sock
            return True

    def detach_socket(self, sock: socket.socket | None = None) -> None:
        """Forget the attached socket (only if it is `sock`, when given), before it is pooled."""
        with self._lock:
            if sock is None or self._sock is sock:
                self._sock = None
