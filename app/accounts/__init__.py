"""Accounts: passwords (argon2id), server-side sessions, login throttling and the secret key.

Imports no Flask.
"""

from app.accounts.accounts import (
    DEFAULT_FAILURE_WINDOW,
    DEFAULT_MAX_FAILURES_PER_ACCOUNT,
    DEFAULT_MAX_FAILURES_PER_ADDRESS,
    MIN_PASSWORD_CHARS,
    AccountStore,
    AuthError,
    InvalidCredentials,
    InvalidUsername,
    NameTaken,
    SessionStore,
    StorageBusy,
    Throttled,
    WeakPassword,
    default_hasher,
    is_token_shaped,
    load_or_create_secret_key,
    token_hash,
    validate_username,
)

__all__ = [
    "DEFAULT_FAILURE_WINDOW",
    "DEFAULT_MAX_FAILURES_PER_ACCOUNT",
    "DEFAULT_MAX_FAILURES_PER_ADDRESS",
    "MIN_PASSWORD_CHARS",
    "AccountStore",
    "AuthError",
    "InvalidCredentials",
    "InvalidUsername",
    "NameTaken",
    "SessionStore",
    "StorageBusy",
    "Throttled",
    "WeakPassword",
    "default_hasher",
    "is_token_shaped",
    "load_or_create_secret_key",
    "token_hash",
    "validate_username",
]
