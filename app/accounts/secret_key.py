"""The app's generated secret key (used when `SECRET_KEY` is not set), made once for all workers.

Imports no Flask; the JSON backend is the default store of the key.
"""

from __future__ import annotations

import os
import secrets

from conversation_manager.json.accounts import JsonSecretKey
from conversation_manager.store import SecretKeyRecord

from .errors import AuthError

__all__ = ["MIN_SECRET_KEY_BYTES", "SECRET_KEY_BYTES", "load_or_create_secret_key"]

SECRET_KEY_BYTES = 64
MIN_SECRET_KEY_BYTES = 32


def load_or_create_secret_key(source: str | os.PathLike[str] | SecretKeyRecord) -> bytes:
    """Return the generated secret key of a data directory (or a key record), creating it once."""
    record = JsonSecretKey(source) if isinstance(source, str | os.PathLike) else source
    key = record.get_or_create(secrets.token_bytes(SECRET_KEY_BYTES))
    if len(key) < MIN_SECRET_KEY_BYTES:
        raise AuthError(
            "the stored secret key is shorter than 32 bytes; remove it or set SECRET_KEY"
        )
    return key
