"""The `ops` blueprint: what probes and operators call (`/healthz`, `/metrics`), without a login or a
host check (API "Operations").

Part of the web layer; imports only `app.web.current` of it. `/metrics` answers 404, exactly as an
unknown path, unless `CHAT_METRICS_TOKEN` is set and the request carries it as a Bearer token.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import NotFound

from app.web.current import services

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response | tuple[Response, int]:
    """200 `{"status": "ok"}`, or 503 when the data directory cannot be written (no path said)."""
    ops = services().ops
    if ops is not None and not ops.health.writable():
        return jsonify({"status": "unavailable", "reason": "data_dir_not_writable"}), 503
    return jsonify({"status": "ok"})


def _bearer() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@bp.get("/metrics")
def metrics() -> Response:
    """The Prometheus text summed over the worker processes, for the configured Bearer token."""
    ops = services().ops
    metrics = ops.metrics if ops is not None else None
    if metrics is None:
        raise NotFound()
    # Constant time: the comparison says nothing about how much of a guess was right.
    if not hmac.compare_digest(_bearer().encode(), metrics.token.encode()):
        raise NotFound()
    response = Response(metrics.render(), content_type=metrics.content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
