"""Records to the API's JSON: conversations, messages, list entries and share entries.

Part of the web layer, though it needs no Flask: views call these and `jsonify` the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import conversation_manager as cm


def message_json(conversation: cm.Conversation, message: cm.Message) -> dict[str, Any]:
    """Serialise one message with its siblings' ids."""
    data = message.model_dump(mode="json")
    data["sibling_ids"] = conversation.sibling_ids(message.id)
    return data


def conversation_json(conversation: cm.Conversation) -> dict[str, Any]:
    """Serialise a conversation with the messages of its current branch (`GET /chat`)."""
    return {
        "conversation_id": conversation.id,
        "chat_name": conversation.chat_name,
        "model": conversation.model,
        "provider": conversation.provider,
        "last_response_id": conversation.last_response_id,
        "current_message_id": conversation.current_message_id,
        "instructions": conversation.instructions,
        "options": conversation.options,
        "template_id": conversation.template_id,
        "template_variables": conversation.template_variables,
        "chat_name_source": conversation.chat_name_source,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
        "legacy": conversation.legacy.model_dump(mode="json") if conversation.legacy else None,
        "totals": conversation.totals.model_dump(mode="json"),
        "created_at": conversation.created_at,
        "last_update": conversation.last_update,
        "messages": [message_json(conversation, m) for m in conversation.branch()],
        "summaries": branch_summaries_json(conversation),
    }


# A summary as the page sees it: never its `provider_items` (opaque, for its provider alone).
SUMMARY_FIELDS = ("id", "covers", "text", "provider", "model", "usage", "cost_usd", "created_at")


def branch_summaries_json(conversation: cm.Conversation) -> list[dict[str, Any]]:
    """The summaries standing for a prefix of the branch on screen (API "Context"), without
    their `provider_items`, shortest first."""
    ids = [m.id for m in conversation.branch()]
    out = []
    for summary in conversation.summaries:
        k = len(summary.covers)
        if 0 < k <= len(ids) and summary.covers == ids[:k]:
            out.append(summary.model_dump(mode="json", include=set(SUMMARY_FIELDS)))
    out.sort(key=lambda s: len(s["covers"]))
    return out


def summary_json(summary: Any) -> dict[str, Any]:
    """Serialise one conversation list entry."""
    data: dict[str, Any] = summary.model_dump(mode="json")
    return data


def share_snapshot(conversation: cm.Conversation) -> dict[str, Any]:
    """The read-only copy a share link shows: the chat name and the branch on screen."""
    return {
        "chat_name": conversation.chat_name,
        "messages": [
            {
                "role": m.role,
                "text": m.text,
                "timestamp": m.timestamp,
                "attachments": [
                    a.model_dump(include={"id", "kind", "name", "media_type"})
                    for a in m.attachments
                ],
            }
            for m in conversation.branch()
        ],
    }


def share_entries_json(entries: Iterable[Any]) -> dict[str, Any]:
    """Serialise a conversation's share links (`GET /conversations/ID/shares`)."""
    return {
        "shares": [
            {"share_id": s.share_id, "created": s.created, "expires_at": s.expires_at}
            for s in entries
        ]
    }
