"""Accounts: passwords (argon2id), server-side sessions, login throttling and the secret key.

The rules live here; the records are behind the Protocols of `conversation_manager.store` (the
JSON files by default). Imports no Flask.
"""

from conversation_manager.errors import StorageBusy, StorageFull

from .accounts import AccountStore
from .errors import (
    AuthError,
    InvalidCredentials,
    InvalidUsername,
    NameTaken,
    SignupClosed,
    Throttled,
    WeakPassword,
)
from .identifiers import (
    is_token_shaped,
    short_ref,
    token_hash,
    validate_new_username,
    validate_username,
)
from .passwords import MIN_PASSWORD_CHARS, check_password, default_hasher
from .secret_key import load_or_create_secret_key
from .sessions import DEFAULT_LOCK_TIMEOUT, DEFAULT_SESSION_LIFETIME, SessionStore
from .throttle import (
    DEFAULT_FAILURE_WINDOW,
    DEFAULT_MAX_FAILURES_PER_ACCOUNT,
    DEFAULT_MAX_FAILURES_PER_ADDRESS,
    LoginThrottle,
)

__all__ = [
    "DEFAULT_FAILURE_WINDOW",
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_MAX_FAILURES_PER_ACCOUNT",
    "DEFAULT_MAX_FAILURES_PER_ADDRESS",
    "DEFAULT_SESSION_LIFETIME",
    "MIN_PASSWORD_CHARS",
    "AccountStore",
    "AuthError",
    "InvalidCredentials",
    "InvalidUsername",
    "LoginThrottle",
    "NameTaken",
    "SessionStore",
    "SignupClosed",
    "StorageBusy",
    "StorageFull",
    "Throttled",
    "WeakPassword",
    "check_password",
    "default_hasher",
    "is_token_shaped",
    "load_or_create_secret_key",
    "short_ref",
    "token_hash",
    "validate_new_username",
    "validate_username",
]
