"""Login throttling: sliding windows of failed attempts per account and per client address.

Every attempt counts as a failure up front and is taken back on success, so parallel guesses
cannot exceed the limits. The windows are `conversation_manager.store.LoginAttemptRecords`.
Imports no Flask.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import secrets
import time
from collections.abc import Callable

from conversation_manager.errors import ConversationError
from conversation_manager.store import Attempt, LoginAttemptRecords

from .errors import Throttled

__all__ = [
    "DEFAULT_FAILURE_WINDOW",
    "DEFAULT_MAX_FAILURES_PER_ACCOUNT",
    "DEFAULT_MAX_FAILURES_PER_ADDRESS",
    "LoginThrottle",
    "Reservation",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_FAILURES_PER_ACCOUNT = 5
DEFAULT_MAX_FAILURES_PER_ADDRESS = 20
DEFAULT_FAILURE_WINDOW = 15 * 60


def _address_key(ip: str) -> str:
    # Hashed so any string (IPv6, proxy junk, even a lone surrogate) makes a safe key.
    return "ip-" + hashlib.sha256(ip.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Reservation:
    """The attempt counted in each window; settle it with `succeeded` or leave it as a failure."""

    def __init__(self, throttle: LoginThrottle, keys: list[str], nonce: str) -> None:
        self.throttle, self.keys, self.nonce = throttle, keys, nonce

    def succeeded(self, *, account_key: str | None) -> None:
        """A right password: clear the account's failures, take this attempt back elsewhere."""
        for key in self.keys:
            self.throttle.forget(key, None if key == account_key else self.nonce)

    def cancel(self) -> None:
        """Take this attempt back everywhere (it was never checked); never raises a store error."""
        for key in self.keys:
            with contextlib.suppress(ConversationError):
                self.throttle.forget(key, self.nonce)


class LoginThrottle:
    """Limits per account and per address inside one sliding window."""

    def __init__(
        self,
        attempts: LoginAttemptRecords,
        *,
        max_per_account: int = DEFAULT_MAX_FAILURES_PER_ACCOUNT,
        max_per_address: int = DEFAULT_MAX_FAILURES_PER_ADDRESS,
        window_seconds: float = DEFAULT_FAILURE_WINDOW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.attempts = attempts
        self.max_per_account = max_per_account
        self.max_per_address = max_per_address
        self.window = float(window_seconds)
        self.clock = clock

    @staticmethod
    def account_key(name: str) -> str:
        """Return the window key of an account (the name has passed `validate_username`)."""
        return f"user-{name}"

    def _reserve_one(self, key: str, limit: int, now: float, nonce: str) -> int | None:
        retry_after: list[int] = []

        def change(entries: list[Attempt]) -> list[Attempt]:
            recent = [e for e in entries if e[0] > now - self.window]
            if len(recent) >= limit:
                oldest = min(at for at, _ in recent)
                retry_after.append(max(1, math.ceil(oldest + self.window - now)))
                return recent
            return [*recent, (now, nonce)]

        self.attempts.update(key, change)
        return retry_after[0] if retry_after else None

    def reserve(self, name: str | None, ip: str | None) -> Reservation:
        """Count one attempt for the account `name` and the address `ip` (either may be None);
        raise `Throttled(retry_after)` when a window is full, counting nothing."""
        now = self.clock()
        reservation = Reservation(self, [], secrets.token_hex(8))
        windows = []
        if name is not None:
            windows.append((self.account_key(name), self.max_per_account))
        if ip:
            windows.append((_address_key(ip), self.max_per_address))
        for key, limit in windows:
            try:
                retry_after = self._reserve_one(key, limit, now, reservation.nonce)
            except BaseException:
                reservation.cancel()
                raise
            if retry_after is not None:
                reservation.cancel()
                log.warning("login throttled for %s", name or "<invalid name>")
                raise Throttled(retry_after)
            reservation.keys.append(key)
        return reservation

    def forget(self, key: str, nonce: str | None) -> None:
        """Drop one counted attempt, or every attempt of the key when `nonce` is None."""
        now = self.clock()
        self.attempts.update(
            key,
            lambda entries: (
                []
                if nonce is None
                else [e for e in entries if e[1] != nonce and e[0] > now - self.window]
            ),
        )

    def sweep(self) -> int:
        """Forget the windows with no attempt inside the window; return how many went."""
        return self.attempts.sweep(self.clock() - self.window)
