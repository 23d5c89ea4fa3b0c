"""The `search` blueprint: `GET /search` (API "Search"), ranked full-text search over the user's
own conversation names and messages.

Part of the web layer: reads the query string, asks the store, answers JSON; a query the engine
cannot parse, and any malformed parameter, is 400 `bad_request` (never a 500).
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from app.web.current import services
from app.web.errors import BadRequest
from conversation_manager.search import MAX_LIMIT, QuerySyntaxError, SearchHit, SearchQuery

bp = Blueprint("search", __name__)

DEFAULT_LIMIT = 20


def _seconds(name: str) -> float | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be Unix seconds") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name} must be Unix seconds")
    return value


def _limit() -> int:
    raw = request.args.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("limit must be a whole number") from None
    if value < 1:
        raise BadRequest("limit must be at least 1")
    return min(value, MAX_LIMIT)


def _text(name: str) -> str | None:
    value = request.args.get(name)
    return value if value else None


def hit_json(hit: SearchHit) -> dict[str, Any]:
    """One result as API.md has it."""
    return {
        "conversation_id": hit.conversation_id,
        "chat_name": hit.chat_name,
        "message_id": hit.message_id,
        "role": hit.role,
        "snippet": hit.snippet,
        "highlights": [[start, end] for start, end in hit.highlights],
        "score": round(hit.score, 6),
        "timestamp": hit.timestamp,
    }


@bp.get("/search")
def search() -> Response:
    query_text = request.args.get("q", "")
    try:
        query = SearchQuery(
            text=query_text,
            provider=_text("provider"),
            model=_text("model"),
            since=_seconds("from"),
            until=_seconds("to"),
            limit=_limit(),
        )
        hits = services().store.search(g.user, query)
    except QuerySyntaxError as exc:
        raise BadRequest(str(exc)) from None
    return jsonify({"results": [hit_json(h) for h in hits]})
