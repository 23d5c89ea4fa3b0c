"""The one rule for strings an upstream chooses: kept only as short tokens, with secrets redacted.

API.md "Identifiers": every string from an upstream that is stored or shown (response id, echoed
model, request id, error code, finish reason) either comes from a known set or matches
`TOKEN_PATTERN` after the provider's key and any other secret is redacted; anything else is dropped.
Imports nothing but the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_.:/-]{1,128}")
REDACTED = "[redacted]"  # never matches TOKEN_PATTERN: a value that held a secret is dropped
_MIN_SECRET = 8  # shorter "secrets" (empty settings, "k" in tests) would redact ordinary ids
_PREFIX = 12  # a key's first characters are enough to find an upstream's masked echo of it

# The normalised reasons of an `incomplete` reply (API.md), the same for every provider.
INCOMPLETE_CODES = frozenset(
    {"max_output_tokens", "content_filter", "refusal", "context_window", "reply_too_long", "other"}
)
# Provider values -> normalised reason; what is not here becomes "other".
_INCOMPLETE_MAP = {
    "max_output_tokens": "max_output_tokens",
    "max_tokens": "max_output_tokens",
    "length": "max_output_tokens",
    "MAX_TOKENS": "max_output_tokens",
    "content_filter": "content_filter",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "refusal": "refusal",
    "context_window": "context_window",
    "context_length_exceeded": "context_window",
    "model_context_window_exceeded": "context_window",
}


def redact(value: str, secrets: Iterable[str] = ()) -> str:
    """Replace every secret (and a leading piece of a long one) in `value` with `REDACTED`."""
    for secret in secrets:
        if not secret or len(secret) < _MIN_SECRET:
            continue
        if secret in value:
            value = value.replace(secret, REDACTED)
        if len(secret) > _PREFIX * 2 and secret[:_PREFIX] in value:
            # An upstream echoing "sk-proj-abcd…wxyz" still gives the key's start away.
            value = value.replace(secret[:_PREFIX], REDACTED)
    return value


def clean_token(value: object, secrets: Iterable[str] = ()) -> str | None:
    """Return `value` if it is a short token once secrets are redacted, else None (dropped)."""
    if not isinstance(value, str) or not value or len(value) > 128:
        return None
    if secrets:
        value = redact(value, secrets)
    return value if TOKEN_PATTERN.fullmatch(value) else None


def incomplete_reason(raw: object, secrets: Iterable[str] = ()) -> tuple[str, str | None]:
    """Map a provider's incomplete/finish reason to (normalised code, the cleaned raw value)."""
    cleaned = clean_token(raw, secrets)
    if cleaned is None:
        return "other", None
    return _INCOMPLETE_MAP.get(cleaned, "other"), cleaned
