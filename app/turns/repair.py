"""Crash repair: a reply left `in_progress` by a worker that died is saved `interrupted`, keeping the
longest text its journal or the store holds.

Imports no Flask and no SDK; coordination comes in as `sp.Coordination`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import conversation_manager as cm
import stream_processor as sp
from app import messages
from conversation_manager import continuations

log = logging.getLogger(__name__)


def load_repairing(
    store: cm.ConversationStore,
    coordination_for: Callable[[str], sp.Coordination],
    user: str,
    conversation_id: str,
) -> cm.Conversation:
    """Load a conversation, marking a reply left `in_progress` by a dead worker as interrupted.

    When the store cannot be written yet (a read-only disk), the conversation is returned as it
    is and repaired on a later load.
    """
    conversation = store.get(user, conversation_id)
    stale = [m for m in conversation.messages if m.status == "in_progress"]
    if not stale:
        return conversation
    coordination = coordination_for(user)
    if coordination.is_live(conversation_id):
        # A worker past its last frame has finished with the store (its save was tried): its
        # reply, if still in_progress, is repaired now rather than after the lock goes.
        header = coordination.read_header(conversation_id) or {}
        last = coordination.last_frame(conversation_id)
        if last is None or last[1] not in sp.TERMINAL_EVENTS:
            return conversation
        stale = [
            m
            for m in stale
            if m.id == header.get("turn_id") and not _continued_since(m, header.get("started_at"))
        ]
        if not stale:
            return conversation
    try:
        return repair_stale(store, user, conversation_id, stale, coordination)
    except (cm.StorageBusy, cm.StorageFull, cm.StorageError, OSError):
        log.warning("repair_deferred conversation=%s", conversation_id)
        return conversation


def _continued_since(message: cm.Message, journal_started_at: object) -> bool:
    """Whether a continuation of `message` began after the journal on disk: that journal is of an
    earlier call of the same reply (a continuation's journal has the reply's id too), and the
    continuation's own is not begun yet, so its worker has not finished with the store."""
    marker = message.metadata.get(continuations.CONTINUING)
    started = marker.get("started_at") if isinstance(marker, dict) else None
    if not isinstance(started, int | float):
        return False
    return not isinstance(journal_started_at, int | float) or started > journal_started_at


def repair_stale(
    store: cm.ConversationStore,
    user: str,
    conversation_id: str,
    stale: list[cm.Message],
    coordination: sp.Coordination,
) -> cm.Conversation:
    """Save each of `stale` (replies no worker writes any more) as interrupted."""
    turn_id, text = coordination.reply_text(conversation_id)
    conversation = None
    for message in stale:
        kept = text if turn_id == message.id and len(text) > len(message.text) else message.text
        conversation = store.mark_interrupted(
            user, conversation_id, message.id, kept, message=messages.message_for("interrupted")
        )
        log.warning("turn_interrupted conversation=%s message=%s", conversation_id, message.id)
    assert conversation is not None
    return conversation
