"""The `shares` blueprint: create, list and revoke a conversation's read-only snapshots, and the
public share page.

Part of the web layer: maps `app.shares` onto HTTP. Imports `serialise` among the web modules.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, render_template

from app import shares
from app.web.current import services
from app.web.serialise import share_entries_json, share_snapshot

bp = Blueprint("shares", __name__)


@bp.post("/conversations/<cid>/share")
def create_share(cid: str) -> Response:
    conversation = services().chat.load(g.user, cid)
    token = services().shares.create(g.user, cid, share_snapshot(conversation))
    share_id = shares.token_hash(token)[: shares.SHARE_ID_CHARS]
    response = jsonify({"share_id": share_id, "url": f"/share/{token}", "token": token})
    response.status_code = 201
    return response


@bp.get("/conversations/<cid>/shares")
def list_shares(cid: str) -> Response:
    services().chat.load(g.user, cid)
    return jsonify(share_entries_json(services().shares.list(g.user, cid)))


@bp.delete("/shares/<share_id>")
def revoke_share(share_id: str) -> Response:
    services().shares.revoke(g.user, share_id)
    return Response(status=204)


@bp.get("/share/<token>")
def share_page(token: str) -> Response:
    snapshot = services().shares.get(token)
    if snapshot is None:
        # A page route: people follow these links in a browser, so the 404 is a page too.
        response = Response(render_template("share_missing.html"), status=404)
    else:
        response = Response(render_template("share.html", **snapshot))
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Cache-Control"] = "no-store"
    return response
