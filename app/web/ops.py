"""The `ops` blueprint: what probes and operators call (`/healthz`), without a login or a host check.

Part of the web layer; imports no other web module.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})
