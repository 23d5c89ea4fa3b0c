"""The `shares` blueprint: create, list and revoke a conversation's read-only snapshots, and the
public share page.

Part of the web layer: maps `app.shares` onto HTTP. Imports `serialise` among the web modules.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, render_template

from app import shares, turns
from app.web.serialise import share_entries_json, share_snapshot

bp = Blueprint("shares", __name__)


def _shares() -> shares.ShareStore:
    store: shares.ShareStore = current_app.extensions["shares"]
    return store


def _chat() -> turns.ChatService:
    chat: turns.ChatService = current_app.extensions["chat"]
    return chat


@bp.post("/conversations/<cid>/share")
def create_share(cid: str) -> Response:
    conversation = _chat().load(g.user, cid)
    token = _shares().create(g.user, cid, share_snapshot(conversation))
    share_id = shares.token_hash(token)[: shares.SHARE_ID_CHARS]
    response = jsonify({"share_id": share_id, "url": f"/share/{token}", "token": token})
    response.status_code = 201
    return response


@bp.get("/conversations/<cid>/shares")
def list_shares(cid: str) -> Response:
    _chat().load(g.user, cid)
    return jsonify(share_entries_json(_shares().list(g.user, cid)))


@bp.delete("/shares/<share_id>")
def revoke_share(share_id: str) -> Response:
    _shares().revoke(g.user, share_id)
    return Response(status=204)


@bp.get("/share/<token>")
def share_page(token: str) -> Response:
    snapshot = _shares().get(token)
    if snapshot is None:
        # A page route: people follow these links in a browser, so the 404 is a page too.
        response = Response(render_template("share_missing.html"), status=404)
    else:
        response = Response(render_template("share.html", **snapshot))
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Cache-Control"] = "no-store"
    return response
