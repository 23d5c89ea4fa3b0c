"""The changes each store operation makes to a conversation, the same for every backend.

A backend loads the conversation under its lock, applies one of these, and saves it. Pure: no I/O.
Imports neither Flask nor an SDK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .continuations import interrupt_continuation, is_continuing
from .errors import InvalidParent, NotFound
from .models import (
    ROOT,
    Attachment,
    ContextMode,
    Conversation,
    FinishStatus,
    Legacy,
    Message,
    MessageError,
    Usage,
    new_conversation_id,
    new_message_id,
)
from .names import validate_conversation_id

FINISH_STATUSES = frozenset({"completed", "incomplete", "stopped", "failed"})


def new_conversation(
    *,
    now: float,
    chat_name: str,
    model: str,
    provider: str,
    instructions: str,
    metadata: dict[str, Any] | None = None,
    legacy: Legacy | dict[str, Any] | None = None,
    conversation_id: str | None = None,
    created_at: float | None = None,
    last_update: float | None = None,
    messages: Sequence[Message | dict[str, Any]] | None = None,
) -> Conversation:
    """Return a new conversation (not saved); InvalidParent when `messages` are not a tree."""
    cid = new_conversation_id()
    if conversation_id is not None:
        cid = validate_conversation_id(conversation_id)
    msgs = [m if isinstance(m, Message) else Message.model_validate(m) for m in messages or ()]
    created = created_at if created_at is not None else now
    if last_update is None:
        last_update = max([created, *(m.timestamp for m in msgs)])
    conv = Conversation(
        id=cid,
        chat_name=chat_name,
        created_at=created,
        last_update=last_update,
        model=model,
        provider=provider,
        instructions=instructions,
        metadata=dict(metadata or {}),
        legacy=Legacy.model_validate(legacy) if isinstance(legacy, dict) else legacy,
        messages=msgs,
    )
    if msgs:
        conv.current_message_id = conv.newest_leaf_under(ROOT)
    problem = conv.check_tree()
    if problem is not None:
        raise InvalidParent(problem)
    return conv


def add_turn(
    conv: Conversation,
    *,
    now: float,
    text: str | None,
    parent_id: str | None,
    model: str,
    provider: str,
    context_mode: ContextMode,
    user_message_id: str | None = None,
    assistant_message_id: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> tuple[Message | None, Message]:
    """Add the user message (unless `text` is None: regenerate) and an `in_progress` reply;
    the user message keeps `attachments` (a regenerate reuses its message's own)."""
    user_msg: Message | None = None
    if text is not None:
        parent: str | None = None
        if parent_id is not None and parent_id != ROOT:
            if conv.message(parent_id).role != "assistant":
                raise InvalidParent("a new message goes under an assistant message")
            parent = parent_id
        user_msg = Message(
            id=user_message_id or new_message_id(),
            parent_id=parent,
            role="user",
            text=text,
            timestamp=now,
            attachments=list(attachments),
        )
        conv.messages.append(user_msg)
        reply_parent = user_msg.id
    else:
        if parent_id is None or parent_id == ROOT:
            raise InvalidParent("regenerate needs a user message")
        if conv.message(parent_id).role != "user":
            raise InvalidParent("regenerate needs a user message")
        reply_parent = parent_id
    reply = Message(
        id=assistant_message_id or new_message_id(),
        parent_id=reply_parent,
        role="assistant",
        text="",
        timestamp=now,
        status="in_progress",
        model=model,
        provider=provider,
        context_mode=context_mode,
    )
    conv.messages.append(reply)
    conv.model = model
    conv.provider = provider
    conv.current_message_id = reply.id
    conv.last_update = now
    return user_msg, reply


def check_final(status: str) -> None:
    """Raise ValueError unless `status` is one a reply can end with."""
    if status not in FINISH_STATUSES:
        raise ValueError(f"not a final status: {status!r}")


def assistant_message(conv: Conversation, mid: str) -> Message:
    """Return the assistant message `mid`; NotFound when there is none."""
    msg = conv.message(mid)
    if msg.role != "assistant":
        raise NotFound("assistant message")
    return msg


def finish_reply(
    conv: Conversation,
    mid: str,
    *,
    now: float,
    text: str,
    status: FinishStatus,
    response_id: str | None = None,
    usage: Usage | dict[str, Any] | None = None,
    cost_usd: float | None = None,
    error: MessageError | dict[str, Any] | None = None,
    reasoning_summary: str | None = None,
    request_id: str | None = None,
    latency_ms: Mapping[str, int | float | None] | None = None,
    metadata: dict[str, Any] | None = None,
    context_mode: ContextMode | None = None,
    model: str | None = None,
    provider: str | None = None,
    price: Mapping[str, Any] | None = None,
    fallback_from: Sequence[Mapping[str, Any]] | None = None,
) -> Message:
    """Record how the reply `mid` ended (its timestamp and the conversation's become `now`)."""
    check_final(status)
    msg = assistant_message(conv, mid)
    msg.text = text
    msg.status = status
    msg.response_id = response_id
    msg.usage = Usage.model_validate(usage) if isinstance(usage, dict) else usage
    msg.cost_usd = cost_usd
    msg.error = MessageError.model_validate(error) if isinstance(error, dict) else error
    msg.reasoning_summary = reasoning_summary
    msg.request_id = request_id
    msg.latency_ms = dict(latency_ms) if latency_ms is not None else None
    if metadata:
        msg.metadata.update(metadata)
    if context_mode is not None:
        msg.context_mode = context_mode
    if model is not None:
        msg.model = model
    if provider is not None:
        msg.provider = provider  # a fallback: the provider that answered
    msg.price = dict(price) if price is not None else None
    msg.fallback_from = [dict(f) for f in fallback_from] if fallback_from else None
    msg.timestamp = now
    conv.last_update = now
    return msg


def interrupt_reply(conv: Conversation, mid: str, text: str, message: str) -> bool:
    """Mark an `in_progress` reply failed (`interrupted`, saying `message`), keeping `text`.

    False if it had ended. A continuation's reply gets its earlier text and status back instead
    (conversation_manager.continuations). The words are the caller's: the application keeps the
    one table of them.
    """
    msg = assistant_message(conv, mid)
    if msg.status != "in_progress":
        return False  # already finished: a real result is never overwritten
    if is_continuing(msg):
        interrupt_continuation(msg, message)  # its earlier text and status come back
        return True
    msg.text = text
    msg.status = "failed"
    msg.error = MessageError(code="interrupted", message=message)
    return True
