"""The `stats` blueprint: `GET /stats` (API "Statistics"), the user's usage and cost over time.

Part of the web layer: reads the query, asks the store for the user's usage rows in the range, and
leaves the sums to `app.stats`. Only the logged-in user's own conversations are ever read.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, g, jsonify, request

from app import stats
from app.web.current import services
from app.web.errors import BadRequest

bp = Blueprint("stats", __name__)


@bp.get("/stats")
def get_stats() -> Response:
    try:
        query = stats.parse_query(request.args, time.time())
    except stats.BadStatsQuery as exc:
        raise BadRequest(str(exc)) from None
    rows = services().store.usage_rows(g.user, since=query.start, until=query.end)
    return jsonify(stats.statistics(rows, query))
