"""Convert one old thread (with its cached or fetched messages) into a conversation plan.

Pure: no I/O. The plan's records are built with the store's models.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from compat.formats import OldEntry, OldMessage, OldThreadRecord
from conversation_manager import Legacy, Message

History = Literal["imported", "unavailable", "fetched"]
DEFAULT_CHAT_NAME = "Imported conversation"
_NAME_CHARS = 60


# ---------------------------------------------------------------- conversion


@dataclass(frozen=True)
class Defaults:
    """The app's defaults given to every migrated conversation."""

    model: str
    provider: str
    instructions: str


@dataclass(frozen=True)
class ConversationPlan:
    """Everything `JsonConversationStore.create` needs for one migrated thread."""

    user: str
    conversation_id: str
    chat_name: str
    created_at: float
    last_update: float
    metadata: dict[str, Any]
    history: History
    messages: tuple[dict[str, Any], ...]

    def create_kwargs(self, defaults: Defaults) -> dict[str, Any]:
        """Keyword arguments for the store's `create` (records built with the store's models)."""
        return {
            "chat_name": self.chat_name,
            "model": defaults.model,
            "provider": defaults.provider,
            "instructions": defaults.instructions,
            "metadata": self.metadata,
            "legacy": Legacy(thread_id=self.conversation_id, history=self.history),
            "conversation_id": self.conversation_id,
            "created_at": self.created_at,
            "last_update": self.last_update,
            "messages": [Message.model_validate(m) for m in self.messages],
        }


def message_id(thread_id: str, index: int) -> str:
    """A stable message id, so that a rerun or a dry run plans the very same records."""
    digest = hashlib.sha256(f"{thread_id}\x00{index}".encode()).hexdigest()
    return f"m_{digest[:24]}"


def _chat_name(entry: OldEntry, messages: list[OldMessage]) -> str:
    if entry.chat_name and entry.chat_name.strip():
        return entry.chat_name.strip()[:200]
    metadata = entry.data.metadata or {}
    for key in ("chat_name", "title", "name"):
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    for message in messages:
        if message.role == "user" and message.text.strip():
            line = message.text.strip().splitlines()[0]
            return line if len(line) <= _NAME_CHARS else line[: _NAME_CHARS - 1].rstrip() + "…"
    return DEFAULT_CHAT_NAME


def plan_conversation(
    record: OldThreadRecord,
    messages: list[OldMessage] | None = None,
    history: History | None = None,
) -> ConversationPlan:
    """Convert one old thread (with its cached or fetched messages) into a conversation plan."""
    entry = record.entry
    if messages is None:
        messages = list(entry.messages or [])
    stamps = [m.timestamp for m in messages if m.timestamp is not None]
    created = next(
        (t for t in (entry.data.created_at, entry.last_update, *stamps) if t is not None), None
    )
    if created is None:
        raise ValueError("neither data.created_at nor last_update nor any message time")
    last_update = entry.last_update
    if last_update is None:
        last_update = max([created, *stamps])

    records: list[dict[str, Any]] = []
    parent: str | None = None
    previous = created
    for index, message in enumerate(messages):
        stamp = message.timestamp if message.timestamp is not None else previous
        previous = stamp
        mid = message_id(record.thread_id, index)
        item: dict[str, Any] = {
            "id": mid,
            "parent_id": parent,
            "role": message.role,
            "text": message.text,
            "timestamp": stamp,
            "response_id": None,
            "metadata": {"imported": True},
        }
        if message.role == "assistant":
            item.update(status="completed", context_mode=None)
        records.append(item)
        parent = mid

    if history is None:
        history = "imported" if records else "unavailable"
    return ConversationPlan(
        user=record.user,
        conversation_id=record.thread_id,
        chat_name=_chat_name(entry, messages),
        created_at=created,
        last_update=last_update,
        metadata={"legacy_metadata": dict(entry.data.metadata or {})},
        history=history,
        messages=tuple(records),
    )
