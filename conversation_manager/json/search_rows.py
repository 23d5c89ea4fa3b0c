"""What the search index keeps of one conversation: its searchable rows (the name and every
message of every branch) and its usage rows, each with a digest so a save rewrites only the rows
that changed, and the cheap per-message signature that tells which messages changed without
looking at their text. Pure: no I/O; imports neither Flask nor an SDK.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, fields

from ..models import IMPORTED_MARK, SEEDED_MARK, Conversation, Message
from ..usage import usage_rows

__all__ = ["CallRow", "DocRow", "call_rows", "doc_rows", "message_signature", "reply_key"]

NAME_KEY = ""  # the key of a conversation's name row (message ids are never empty)
# Usage rows of summaries and the title call sort after every reply (`seq` is a reply's place).
_SUMMARY_SEQ, _TITLE_SEQ = 1 << 40, 1 << 41

Signature = tuple[object, ...]
_MARK = 32  # characters of a text's head and tail in its signature


def _digest(values: tuple[object, ...]) -> int:
    """A stable signed 64-bit digest (SQLite's INTEGER) of a row's values."""
    raw = hashlib.blake2b(repr(values).encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big", signed=True)


def _text_mark(text: str) -> tuple[int, str, str]:
    """A text by its length, head and tail: a message's text is set once or twice in its life (a
    reply as it ends, or cut short by an interruption; each also sets its status or time), so
    these tell a change apart without reading, let alone hashing, the whole text."""
    return (len(text), text[:_MARK], text[-_MARK:])


def message_signature(place: int, msg: Message) -> Signature:
    """What decides a message's rows (its search row and usage row), cheap to compute."""
    if msg.role != "assistant":
        return (place, msg.role, msg.timestamp, _text_mark(msg.text))
    usage = msg.usage
    return (
        place,
        msg.role,
        msg.timestamp,
        _text_mark(msg.text),
        msg.status,
        msg.provider,
        msg.model,
        msg.cost_usd,
        None
        if usage is None
        else (
            usage.input_tokens,
            usage.cached_tokens,
            usage.cache_write_tokens,
            usage.output_tokens,
            usage.reasoning_tokens,
        ),
        bool(msg.metadata.get(SEEDED_MARK)),
        bool(msg.metadata.get(IMPORTED_MARK)),
    )


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
        """The digest of the row's values; a message's text by `_text_mark`, a name by its
        text (short)."""
        text: object = self.text if self.message_id is None else _text_mark(self.text)
        return _digest(
            (self.message_id, self.role, self.timestamp, self.provider, self.model, text)
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


def reply_key(message_id: str) -> str:
    """The key of a reply's usage row."""
    return f"reply:{message_id}"


def doc_rows(conv: Conversation, messages: Iterable[Message] | None = None) -> dict[str, DocRow]:
    """The searchable rows by key: the name, and `messages` (default every message) that have
    text."""
    rows = {NAME_KEY: DocRow(NAME_KEY, None, None, None, None, None, conv.chat_name)}
    for msg in conv.messages if messages is None else messages:
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


def call_rows(
    conv: Conversation, messages: list[Message] | None = None, places: dict[str, int] | None = None
) -> dict[str, CallRow]:
    """The usage rows by key: the replies among `messages` (default every message; `places`
    gives each one's place in the conversation), every summary and the title call. `seq`
    orders them as `usage_rows` does."""
    if messages is not None:
        conv = conv.model_copy(update={"messages": messages})  # shallow: only the list differs
    if places is None:
        places = {m.id: place for place, m in enumerate(conv.messages)}
    out: dict[str, CallRow] = {}
    summaries = 0
    for row in usage_rows(conv):
        if row.kind == "reply":
            key, seq = reply_key(row.message_id or ""), places[row.message_id or ""]
        elif row.kind == "summary":
            key, seq = f"summary:{row.message_id or ''}", _SUMMARY_SEQ + summaries
            summaries += 1
        else:
            key, seq = "title:", _TITLE_SEQ
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
