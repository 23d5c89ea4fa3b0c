"""The name rules: user names and conversation ids, refused (never normalised) outside their pattern.

The one module for these rules; where a backend keeps things is its own business
(`conversation_manager.json.layout`). Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import re

from .errors import InvalidId

# Accounts made earlier under the old pattern keep working everywhere; new names may not start
# with `-` or `_` (a name like `--help` broke the `flask users` commands).
_USER_RE = re.compile(r"[a-z0-9_-]{3,32}")
_NEW_USER_RE = re.compile(r"[a-z0-9][a-z0-9_-]{2,31}")
_CONVERSATION_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# An attachment's id: `att_` + the first 24 hex digits of its content's sha256 (the one definition:
# the stores, the share snapshots and the app check ids with it before any use).
ATTACHMENT_ID_RE = re.compile(r"att_[0-9a-f]{24}")

__all__ = [
    "ATTACHMENT_ID_RE",
    "is_valid_attachment_id",
    "is_valid_conversation_id",
    "is_valid_new_user",
    "is_valid_user",
    "validate_conversation_id",
    "validate_new_user",
    "validate_user",
]


def validate_user(name: object) -> str:
    """Return `name` when it is a valid user name, else raise InvalidId."""
    if not isinstance(name, str) or _USER_RE.fullmatch(name) is None:
        raise InvalidId("user")
    return name


def validate_new_user(name: object) -> str:
    """Return `name` when it is valid for a new account, else raise InvalidId."""
    if not isinstance(name, str) or _NEW_USER_RE.fullmatch(name) is None:
        raise InvalidId("user")
    return name


def validate_conversation_id(cid: object) -> str:
    """Return `cid` when it is a valid conversation id, else raise InvalidId."""
    if not isinstance(cid, str) or _CONVERSATION_RE.fullmatch(cid) is None:
        raise InvalidId("conversation_id")
    return cid


def is_valid_user(name: object) -> bool:
    """Return True when `name` matches the user name pattern (accepted everywhere)."""
    return isinstance(name, str) and _USER_RE.fullmatch(name) is not None


def is_valid_new_user(name: object) -> bool:
    """Return True when `name` matches the pattern for new accounts."""
    return isinstance(name, str) and _NEW_USER_RE.fullmatch(name) is not None


def is_valid_conversation_id(cid: object) -> bool:
    """Return True when `cid` matches the conversation id pattern."""
    return isinstance(cid, str) and _CONVERSATION_RE.fullmatch(cid) is not None


def is_valid_attachment_id(aid: object) -> bool:
    """Return True when `aid` matches the attachment id pattern (`att_` + 24 hex digits)."""
    return isinstance(aid, str) and ATTACHMENT_ID_RE.fullmatch(aid) is not None
