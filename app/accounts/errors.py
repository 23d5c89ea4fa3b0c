"""The errors of accounts, sessions and login throttling; they carry data, not HTTP statuses.

`StorageBusy` and `StorageFull` are the store's own (`conversation_manager`), so one `except`
catches them whichever part raised. Imports no Flask.
"""

from __future__ import annotations

from conversation_manager.errors import InvalidId, StorageBusy, StorageFull

__all__ = [
    "AuthError",
    "InvalidCredentials",
    "InvalidUsername",
    "NameTaken",
    "SignupClosed",
    "StorageBusy",
    "StorageFull",
    "Throttled",
    "WeakPassword",
]


class AuthError(Exception):
    """Root of the account errors (not of `StorageBusy`/`StorageFull`, which are the store's)."""


class InvalidUsername(AuthError, InvalidId):
    """The name is outside its pattern (HTTP 400 `invalid_id`); also a `conversation_manager.InvalidId`."""

    def __init__(self, message: str = "invalid user name") -> None:
        InvalidId.__init__(self, "user")
        self.args = (message,)


class NameTaken(AuthError):
    """An account with that name exists (HTTP 409 `name_taken`)."""


class SignupClosed(AuthError):
    """Only the first account may sign up, and one exists already (HTTP 403 `signup_closed`)."""


class WeakPassword(AuthError):
    """The password breaks the rule (HTTP 400 `weak_password`); `reason` says which part.

    Reasons: `too_short` (under `min_chars` characters), `blank` (only white space),
    `control` (a NUL or other control character), `not_text` (not a string, or a lone surrogate).
    """

    def __init__(self, min_chars: int = 12, reason: str = "too_short") -> None:
        texts = {
            "too_short": f"password needs at least {min_chars} characters",
            "blank": "password cannot be only white space",
            "control": "password cannot hold NUL or other control characters",
            "not_text": "password must be text without lone surrogates",
        }
        super().__init__(texts.get(reason, texts["too_short"]))
        self.min_chars = min_chars
        self.reason = reason


class InvalidCredentials(AuthError):
    """Wrong name or password, the same for every cause (HTTP 401 `invalid_credentials`)."""


class Throttled(AuthError):
    """Too many failed logins for this account or address (HTTP 429 with `Retry-After`)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; retry after {retry_after} s")
        self.retry_after = retry_after
