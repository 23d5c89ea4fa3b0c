"""User names and tokens as accounts, limits and shares check them.

The name rules themselves are `conversation_manager.names` (the one definition); this turns their
`InvalidId` into `InvalidUsername`. Tokens are `secrets.token_urlsafe(32)`; only their sha256 is
ever stored. Imports no Flask and no storage.
"""

from __future__ import annotations

import hashlib
import re

from conversation_manager.errors import InvalidId
from conversation_manager.names import validate_new_user, validate_user

from .errors import InvalidUsername

__all__ = [
    "is_token_shaped",
    "short_ref",
    "token_hash",
    "validate_new_username",
    "validate_username",
]

# secrets.token_urlsafe(32) gives 43 characters of the URL-safe base64 alphabet.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")


def validate_username(name: object) -> str:
    """Return `name` when it is a valid user name (accounts made earlier included); else raise
    `InvalidUsername`."""
    try:
        return validate_user(name)
    except InvalidId:
        raise InvalidUsername() from None


def validate_new_username(name: object) -> str:
    """Return `name` when a new account may take it (no leading `-` or `_`); else raise
    `InvalidUsername`."""
    try:
        return validate_new_user(name)
    except InvalidId:
        raise InvalidUsername() from None


def is_token_shaped(token: object) -> bool:
    """Tell whether `token` looks like `secrets.token_urlsafe(32)` output (43 URL-safe chars)."""
    return isinstance(token, str) and _TOKEN_RE.fullmatch(token) is not None


def token_hash(token: str) -> str:
    """Return the sha256 hex digest of a token: what is stored and used as its key."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def short_ref(secret: str) -> str:
    """Return a log-safe reference to a token: the first 8 hex digits of its hash."""
    return token_hash(secret)[:8]
