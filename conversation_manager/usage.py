"""What each model call of a conversation used and cost, as flat rows (API "Statistics").

One row per reply made by a model (any status; template-seeded and migrated messages are none),
per summary and per title call. Statistics sum these rows; the search index keeps them so that
`usage_rows` never reads every conversation file. Pure: no I/O, no Flask, no SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .models import IMPORTED_MARK, SEEDED_MARK, Conversation, Message, Usage

UsageKind = Literal["reply", "summary", "title"]

__all__ = ["UsageKind", "UsageRow", "is_model_reply", "usage_rows"]


@dataclass(frozen=True)
class UsageRow:
    """One model call: when, who answered, the tokens, and the cost (None: the price is unknown)."""

    kind: UsageKind
    conversation_id: str
    message_id: str | None  # the reply, or the summary's id; None for a title call
    timestamp: float
    provider: str
    model: str
    status: str | None  # a reply's status; None for summaries and titles
    input_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None


def is_model_reply(message: Message) -> bool:
    """True for an assistant message a model made here (not seeded by a template, not migrated)."""
    return (
        message.role == "assistant"
        and not message.metadata.get(SEEDED_MARK)
        and not message.metadata.get(IMPORTED_MARK)
    )


def _tokens(usage: Usage | None) -> dict[str, int]:
    if usage is None:
        return {}
    return {
        "input_tokens": usage.input_tokens,
        "cached_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }


def _title_row(conversation: Conversation) -> UsageRow | None:
    call = conversation.title_call()
    if call is None:
        return None
    return UsageRow(
        kind="title",
        conversation_id=conversation.id,
        message_id=None,
        timestamp=call.created_at,
        provider=call.provider,
        model=call.model,
        status=None,
        cost_usd=call.cost_usd,
        **_tokens(call.usage),
    )


def usage_rows(conversation: Conversation) -> list[UsageRow]:
    """Every model call of `conversation`: its replies (the whole tree), summaries and title."""
    rows = [
        UsageRow(
            kind="reply",
            conversation_id=conversation.id,
            message_id=m.id,
            timestamp=m.timestamp,
            provider=m.provider or conversation.provider,
            model=m.model or conversation.model,
            status=m.status,
            cost_usd=m.cost_usd,
            **_tokens(m.usage),
        )
        for m in conversation.messages
        if is_model_reply(m)
    ]
    for summary in conversation.summaries:
        if summary.provider is None or summary.model is None:
            continue
        rows.append(
            UsageRow(
                kind="summary",
                conversation_id=conversation.id,
                message_id=summary.id,
                timestamp=summary.created_at,
                provider=summary.provider,
                model=summary.model,
                status=None,
                cost_usd=summary.cost_usd,
                **_tokens(summary.usage),
            )
        )
    title = _title_row(conversation)
    if title is not None:
        rows.append(title)
    return rows
