"""The `ops` blueprint: what probes and operators call (`/healthz`, `/metrics`), without a login or a
host check (API "Operations").

Part of the web layer; imports only `app.web.current` of it. `/metrics` answers 404, exactly as an
unknown path, unless `CHAT_METRICS_TOKEN` is set and a GET (or HEAD) carries it as a Bearer token.
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


# Every method reaches the view, so that anything but GET/HEAD with the token answers 404 like an
# unknown path (a 405 with `Allow` would say the route exists).
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@bp.route("/metrics", methods=ANY_METHOD, provide_automatic_options=False)
def metrics() -> Response:
    """The Prometheus text summed over the worker processes, for the configured Bearer token."""
    ops = services().ops
    metrics = ops.metrics if ops is not None else None
    if metrics is None or request.method not in ("GET", "HEAD"):
        raise NotFound()
    # Constant time: the comparison says nothing about how much of a guess was right.
    if not hmac.compare_digest(_bearer().encode(), metrics.token.encode()):
        raise NotFound()
    response = Response(metrics.render(), content_type=metrics.content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
