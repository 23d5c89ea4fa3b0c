"""A thread-safe stop switch that shuts the upstream socket down at once."""

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
                    self._sock.shutdown(socket.SHUT_RDWR)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or `timeout`; return whether cancelled."""
        return self._event.wait(timeout)

    def _attach(self, sock: socket.socket | None) -> bool:
        with self._lock:
            if self._event.is_set():
                return False
            self._sock = sock
            return True

    def _detach(self) -> None:
        with self._lock:
            self._sock = None
