"""The `context` blueprint: `GET /conversations/ID/context` (API "Context"), what the next turn would
send, planned by the turn's own code (ChatService.preview) and never sent.

Part of the web layer: reads the query, asks the chat service, serialises the plan. Another user's
conversation is not found (the store is per user).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from app.turns.preview import ContextPreview
from app.web.current import services
from app.web.errors import BadRequest

bp = Blueprint("context", __name__)

# A new message longer than this is refused by the turn anyway; the preview only counts it.
MAX_MESSAGE_CHARS = 10_000_000


def _chars(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_MESSAGE_CHARS:
        raise BadRequest("message_chars must be a whole number of characters")
    return int(raw)


def preview_json(preview: ContextPreview, *, summaries: bool = False) -> dict[str, Any]:
    """The answer of `GET /conversations/ID/context` (API "Context"); `summaries`: whether the
    turn summarises a dropped prefix first (CHAT_SUMMARIES)."""
    plan = preview.context
    summary = None
    if plan.summary is not None:
        summary = {
            "id": plan.summary.id,
            "text": plan.summary.text,
            "covers": list(plan.summary.covers),
            "tokens": plan.summary_tokens,
            "provider": plan.summary.provider,
        }
    return {
        "provider": preview.provider,
        "model": preview.model,
        "context_mode": plan.context_mode,
        "previous_response_id": plan.previous_response_id,
        "messages": [
            {"id": m.id, "role": m.role, "state": m.state, "tokens": m.tokens}
            for m in plan.messages
        ],
        "summary": summary,
        "input_tokens": plan.estimated_input_tokens,
        "context_window": plan.context_window,
        "budget": plan.budget,
        "estimated_cost_usd": preview.estimated_cost_usd,
        # Beside the contract: the parts of the estimate, and what a summary would stand for.
        "instructions_tokens": plan.instructions_tokens,
        "message_tokens": plan.message_tokens,
        "chained_tokens": plan.chained_tokens,
        "token_method": plan.token_method,
        "needs_summary": list(plan.needs_summary),
        "summaries": summaries,
        "summary_pending": preview.summary_pending,
    }


@bp.get("/conversations/<cid>/context")
def get_context(cid: str) -> Response:
    args = request.args
    chat = services().chat
    preview = chat.preview(
        g.user,
        cid,
        parent_message_id=args.get("parent_message_id") or None,
        provider=args.get("provider") or None,
        model=args.get("model") or None,
        message_chars=_chars(args.get("message_chars")),
    )
    summaries = chat.settings.summaries
    return jsonify(preview_json(preview, summaries=summaries))
