"""The `export` blueprint: `GET /conversations/ID/export` (API "Export"), a conversation as a download.

Part of the web layer: loads the user's conversation the way every route does (another user's id
is 404, a damaged one 409), leaves the rendering to `app.export`, and answers an attachment whose
file name is RFC 5987 encoded.
"""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, g, request

from app import export
from app.web.current import services
from app.web.errors import BadRequest

bp = Blueprint("export", __name__)

MEDIA_TYPES = {"json": "application/json", "markdown": "text/markdown"}


@bp.get("/conversations/<cid>/export")
def export_conversation(cid: str) -> Response:
    try:
        fmt, scope = export.read_choice(request.args.get("format"), request.args.get("scope"))
    except export.BadExport as exc:
        raise BadRequest(str(exc)) from None
    conversation = services().chat.load(g.user, cid)
    if fmt == "json":
        body = json.dumps(export.export_json(conversation, scope), ensure_ascii=False, indent=2)
    else:
        body = export.export_markdown(conversation, scope, now=time.time())
    response = Response(body, content_type=f"{MEDIA_TYPES[fmt]}; charset=utf-8")
    response.headers["Content-Disposition"] = export.content_disposition(
        export.file_name(conversation.chat_name, fmt)
    )
    response.headers["Cache-Control"] = "no-store"
    return response
