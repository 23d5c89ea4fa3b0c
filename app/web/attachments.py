"""The `attachments` blueprint: upload a file, serve it to its owner, serve a share's files.

Part of the web layer: maps `app.attachments` onto HTTP (API.md "Attachments"). The upload has its
own body limit (`CHAT_ATTACHMENT_MAX_BYTES` + 64 KiB for the form) instead of the app's
`CHAT_MAX_BODY_BYTES`: `raise_body_limit` must run before anything reads the body (the chunked-body
hook and the CSRF guard), so `init_app` registers it first. Files are served with the checked type,
`nosniff` and a CSP that runs nothing. Imports `errors` among the web modules.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

import conversation_manager as cm
from app.attachments import AttachmentRefused
from app.web.current import services
from app.web.errors import BadRequest, error_response

bp = Blueprint("attachments", __name__)

FORM_ALLOWANCE = 64 * 1024  # the multipart framing and the csrf_token field beside the file
UPLOAD_ENDPOINT = "attachments.upload"
SHARE_ENDPOINT = "attachments.share_attachment"  # public: no login (the share token is the key)
# A file served here can never run anything, even opened on its own in a tab.
FILE_CSP = "default-src 'none'; sandbox"


def upload_limit() -> int:
    """The largest upload body accepted, in bytes."""
    return int(current_app.config["CHAT_ATTACHMENT_MAX_BYTES"]) + FORM_ALLOWANCE


def raise_body_limit() -> None:
    """A request hook: the upload route's body limit replaces the app's, before the body is read."""
    if request.endpoint == UPLOAD_ENDPOINT:
        request.max_content_length = upload_limit()


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Response:
    if request.endpoint != UPLOAD_ENDPOINT:
        return error_response(413, "body_too_large")
    limit = current_app.config["CHAT_ATTACHMENT_MAX_BYTES"]
    return error_response(
        413,
        "body_too_large",
        f"The file is too large: at most {limit:,} bytes ({limit / 1048576:.1f} MiB) per file.",
        {"limit_bytes": limit},
    )


@bp.errorhandler(AttachmentRefused)
def _refused(exc: AttachmentRefused) -> Response:
    words = "The file could not be used" if exc.status == 400 else "The file was refused"
    return error_response(exc.status, exc.api_code, f"{words}: {exc.reason}.")


def attachment_json(attachment: cm.Attachment) -> dict[str, Any]:
    """The API's view of an attachment (`width`/`height` only for images)."""
    return attachment.model_dump(mode="json", exclude_none=True)


@bp.post("/attachments")
def upload() -> Response:
    upload_file = request.files.get("file")
    if upload_file is None:
        raise BadRequest("send the file in the multipart/form-data field `file`")
    limit = int(current_app.config["CHAT_ATTACHMENT_MAX_BYTES"])
    data = upload_file.read(limit + 1)
    if len(data) > limit:
        raise RequestEntityTooLarge()
    attachment = services().attachments.upload(
        g.user, upload_file.filename, upload_file.mimetype, data
    )
    response = jsonify(attachment_json(attachment))
    response.status_code = 201
    return response


def _disposition(attachment: cm.Attachment) -> str:
    kind = "inline" if attachment.kind == "image" else "attachment"
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in attachment.name
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(attachment.name, safe='')}"


def _serve(attachment: cm.Attachment, data: bytes, *, cache: str) -> Response:
    media_type = attachment.media_type
    if attachment.kind == "text":
        media_type += "; charset=utf-8"
    response = Response(data, status=200, content_type=media_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Content-Disposition"] = _disposition(attachment)
    response.headers["Cache-Control"] = cache
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.set_etag(attachment.id)  # content-addressed: the id names these bytes
    response.make_conditional(request)  # a matching If-None-Match: 304, in place
    return response


@bp.get("/attachments/<aid>")
def get_attachment(aid: str) -> Response:
    # Another user's id, an unknown one and a malformed one are the same 404.
    attachment = services().attachments.get(g.user, aid)
    if attachment is None:
        raise cm.NotFound("attachment")
    data = services().attachments.read(g.user, aid)
    return _serve(attachment, data, cache="private, max-age=86400")


@bp.get("/share/<token>/attachments/<aid>")
def share_attachment(token: str, aid: str) -> Response:
    # Only ids the share's snapshot lists, and only its owner's file; anything else is 404.
    owner = services().shares.attachment_owner(token, aid)
    attachment = None if owner is None else services().attachments.get(owner, aid)
    if owner is None or attachment is None:
        raise cm.NotFound("attachment")
    data = services().attachments.read(owner, aid)
    response = _serve(attachment, data, cache="private, no-cache")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
