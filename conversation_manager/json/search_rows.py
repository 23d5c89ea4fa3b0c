"""What the search index keeps of one conversation: its searchable rows (the name and every
message of every branch) and its usage rows, each with a digest so a save rewrites only the rows
that changed. Pure: no I/O; imports neither Flask nor an SDK.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, fields

from ..models import Conversation
from ..usage import usage_rows

__all__ = ["CallRow", "DocRow", "call_rows", "doc_rows"]

NAME_KEY = ""  # the key of a conversation's name row (message ids are never empty)


def _digest(values: tuple[object, ...]) -> int:
    """A stable signed 64-bit digest (SQLite's INTEGER) of a row's values."""
    raw = hashlib.blake2b(repr(values).encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big", signed=True)


@dataclass(frozen=True)
class DocRow:
    """One searchable text: the name (`message_id` None) or one message.

    `provider`/`model`/`timestamp` are None where the conversation's own apply at query time
    (names and user messages), so switching models or a new turn leaves these rows alone.
    """

    key: str
    message_id: str | None
    role: str | None
    timestamp: float | None
    provider: str | None
    model: str | None
    text: str

    @functools.cached_property
    def digest(self) -> int:
        """The digest of the row's values (computed once)."""
        return _digest(
            (self.message_id, self.role, self.timestamp, self.provider, self.model, self.text)
        )


@dataclass(frozen=True)
class CallRow:
    """One usage row (`conversation_manager.usage.UsageRow`) with its place in the list."""

    key: str
    seq: int
    kind: str
    message_id: str | None
    timestamp: float
    provider: str
    model: str
    status: str | None
    input_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_usd: float | None

    @functools.cached_property
    def digest(self) -> int:
        """The digest of the row's values (computed once; a flat tuple, never a deep copy)."""
        return _digest(tuple(getattr(self, name) for name in _CALL_FIELDS))


def doc_rows(conv: Conversation) -> dict[str, DocRow]:
    """The conversation's searchable rows by key; messages without text have none."""
    rows = {NAME_KEY: DocRow(NAME_KEY, None, None, None, None, None, conv.chat_name)}
    for msg in conv.messages:
        if not msg.text:
            continue
        reply = msg.role == "assistant"
        rows[msg.id] = DocRow(
            key=msg.id,
            message_id=msg.id,
            role=msg.role,
            timestamp=msg.timestamp,
            provider=(msg.provider or None) if reply else None,
            model=(msg.model or None) if reply else None,
            text=msg.text,
        )
    return rows


def call_rows(conv: Conversation) -> dict[str, CallRow]:
    """The conversation's usage rows by key, in `usage_rows` order (`seq`)."""
    out: dict[str, CallRow] = {}
    for seq, row in enumerate(usage_rows(conv)):
        key = f"{row.kind}:{row.message_id or ''}"
        if key in out:
            key = f"{key}:{seq}"
        out[key] = CallRow(
            key,
            seq,
            row.kind,
            row.message_id,
            row.timestamp,
            row.provider,
            row.model,
            row.status,
            row.input_tokens,
            row.cached_tokens,
            row.cache_write_tokens,
            row.output_tokens,
            row.reasoning_tokens,
            row.cost_usd,
        )
    return out


_CALL_FIELDS = tuple(f.name for f in fields(CallRow))
