"""Follow a running turn from outside its worker: its frames from the start or after a re-attach, a
stop that waits for the reply's save.

Imports no Flask and no SDK; coordination comes in as `sp.Coordination`.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import conversation_manager as cm
import stream_processor as sp

from .config import ChatSettings
from .errors import NoTurn
from .finish import error_data

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartedTurn:
    """A turn whose worker runs; the web layer follows its frames."""

    conversation_id: str
    assistant_message_id: str
    coordination: sp.Coordination


def dead_error(message_id: str) -> dict[str, object]:
    """The `error` frame's data for a turn whose worker died."""
    return error_data("interrupted", message_id)


def follow_started(started: StartedTurn, settings: ChatSettings) -> Iterator[bytes]:
    """The SSE bytes of a turn just started, from its first frame."""
    return started.coordination.follow(
        started.conversation_id,
        after=0,
        dead_error=dead_error,
        keepalive_seconds=settings.keepalive_seconds,
    )


def reattach(
    coordination: sp.Coordination,
    conversation_id: str,
    last_event_id: str | None,
    settings: ChatSettings,
    *,
    after: Callable[[], object],
) -> Iterator[bytes]:
    """The frames after `last_event_id` of the turn in flight or just ended (`after` runs when
    they end); raise `NoTurn` when there is none."""
    header = coordination.read_header(conversation_id)
    live = coordination.is_live(conversation_id)
    if header is None or not (live or coordination.finished_available(conversation_id)):
        raise NoTurn()
    start = 0
    if last_event_id:
        turn_id, _, n = last_event_id.strip().rpartition(":")
        if turn_id == header.get("turn_id") and n.isdigit():
            start = int(n)
    frames = coordination.follow(
        conversation_id,
        after=start,
        dead_error=dead_error,
        keepalive_seconds=settings.keepalive_seconds,
    )
    return _then(frames, after)


def _then(frames: Iterator[bytes], after: Callable[[], object]) -> Iterator[bytes]:
    try:
        yield from frames
    finally:
        # A worker that died leaves its reply in_progress: finish it as interrupted.
        with contextlib.suppress(cm.ConversationError):
            after()


def stop_and_wait(
    registry: sp.TurnRegistry,
    coordination: sp.Coordination,
    conversation_id: str,
    settings: ChatSettings,
) -> None:
    """Stop the turn in flight and wait until its reply is saved; 503 if that takes too long."""
    registry.request_stop(coordination, conversation_id)
    deadline = settings.stop_deadline
    if not registry.wait_ended(coordination, conversation_id, deadline):
        log.warning("stop_not_confirmed conversation=%s", conversation_id)
        raise cm.StorageBusy(retry_after=max(1, math.ceil(settings.lock_timeout)))


def stop_turn(
    registry: sp.TurnRegistry,
    coordination: sp.Coordination,
    conversation_id: str,
    settings: ChatSettings,
    *,
    reload: Callable[[], cm.Conversation],
) -> None:
    """Stop the turn in flight and return once its partial reply is saved `stopped` (`reload`
    loads the conversation, repairing it); raise `NoTurn` when none runs."""
    last = coordination.last_frame(conversation_id)
    live = coordination.is_live(conversation_id)
    if not live or (last is not None and last[1] in sp.TERMINAL_EVENTS):
        raise NoTurn()  # a turn whose last frame is written has ended, lock or not
    header = coordination.read_header(conversation_id) or {}
    stop_and_wait(registry, coordination, conversation_id, settings)
    conversation = reload()
    turn_id = header.get("turn_id")
    reply = next((m for m in conversation.messages if m.id == turn_id), None)
    if reply is not None and reply.status == "in_progress":
        # The worker ended but its reply could not be saved (nor repaired) yet: no false 204.
        raise cm.StorageBusy(retry_after=max(1, math.ceil(settings.lock_timeout)))
