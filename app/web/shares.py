"""Share links: create, list and revoke a conversation's read-only snapshots, and the public share page.

Part of the web layer; maps `shares` onto HTTP. Imports `web_errors` only among the web modules, never `app`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, jsonify, render_template

from app import shares, turns


def _shares() -> shares.ShareStore:
    return current_app.extensions["shares"]


def create_share(cid: str) -> Response:
    chat: turns.ChatService = current_app.extensions["chat"]
    conversation = chat.load(g.user, cid)
    snapshot = {
        "chat_name": conversation.chat_name,
        "messages": [
            {"role": m.role, "text": m.text, "timestamp": m.timestamp}
            for m in conversation.branch()
        ],
    }
    token = _shares().create(g.user, cid, snapshot)
    share_id = shares.token_hash(token)[: shares.SHARE_ID_CHARS]
    response = jsonify({"share_id": share_id, "url": f"/share/{token}", "token": token})
    response.status_code = 201
    return response


def list_shares(cid: str) -> Response:
    chat: turns.ChatService = current_app.extensions["chat"]
    chat.load(g.user, cid)
    entries = _shares().list(g.user, cid)
    return jsonify(
        {
            "shares": [
                {"share_id": s.share_id, "created": s.created, "expires_at": s.expires_at}
                for s in entries
            ]
        }
    )


def revoke_share(share_id: str) -> Response:
    _shares().revoke(g.user, share_id)
    return Response(status=204)


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


# Bare endpoint names, like the chat routes: `share_page` is in `web_auth.PUBLIC_ENDPOINTS`.
ROUTES: list[tuple[str, str, Any]] = [
    ("/conversations/<cid>/share", "POST", create_share),
    ("/conversations/<cid>/shares", "GET", list_shares),
    ("/shares/<share_id>", "DELETE", revoke_share),
    ("/share/<token>", "GET", share_page),
]


def init_app(app: Flask) -> None:
    """Register the share routes on `app`."""
    for rule, method, view in ROUTES:
        app.add_url_rule(rule, view_func=view, methods=[method])
