"""The password rule and the argon2id hasher at the OWASP minimum parameters.

Imports no Flask and no storage.
"""

from __future__ import annotations

import unicodedata

from argon2 import PasswordHasher

from .errors import WeakPassword

__all__ = [
    "ARGON2_MEMORY_COST",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "MIN_PASSWORD_CHARS",
    "check_password",
    "default_hasher",
]

MIN_PASSWORD_CHARS = 12
# OWASP Password Storage cheat sheet minimum for argon2id: m=19 MiB, t=2, p=1.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_COST = 19456
ARGON2_PARALLELISM = 1


def default_hasher() -> PasswordHasher:
    """Return the argon2id hasher at the OWASP minimum parameters (m=19 MiB, t=2, p=1)."""
    return PasswordHasher(
        time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_COST, parallelism=ARGON2_PARALLELISM
    )


def check_password(password: object) -> str:
    """Return a new password that follows the rule, else raise `WeakPassword` with its reason.

    The rule (API.md): at least 12 characters, not all white space, no NUL or other control
    character (Unicode category Cc); a lone surrogate cannot be hashed, so it is refused too.
    Only new passwords are checked: a login compares whatever was set before.
    """
    if not isinstance(password, str):
        raise WeakPassword(MIN_PASSWORD_CHARS, "not_text")
    if any(unicodedata.category(c) == "Cs" for c in password):
        raise WeakPassword(MIN_PASSWORD_CHARS, "not_text")
    if len(password) < MIN_PASSWORD_CHARS:
        raise WeakPassword(MIN_PASSWORD_CHARS, "too_short")
    if any(unicodedata.category(c) == "Cc" for c in password):
        raise WeakPassword(MIN_PASSWORD_CHARS, "control")
    if password.isspace() or not password.strip():
        raise WeakPassword(MIN_PASSWORD_CHARS, "blank")
    return password
