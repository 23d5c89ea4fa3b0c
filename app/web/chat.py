"""The `chat` blueprint: the chat page, turns (`POST /chat`, stop, re-attach) and the
conversation routes.

Part of the web layer: views parse their body (app/web/bodies.py), call `turns` or the store, and
leave errors to app/web/errors.py. Event streams hold one of the user's stream slots while open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request

import conversation_manager as cm
from app import turns
from app.web.bodies import ChatBody, ConversationChange, CurrentBody, parse_body
from app.web.current import services
from app.web.errors import BadRequest
from app.web.security import csrf_token
from app.web.serialise import conversation_json, summary_json
from app.web.streaming import Slot, sse_response

bp = Blueprint("chat", __name__)


def _stream(open_frames: Callable[[], Iterator[bytes]]) -> Response:
    """Take one of the user's stream slots (429 `rate_limited` when none is free), then open the
    stream; the slot is released when the response closes, or at once if opening fails."""
    slot: Slot = services().stream_limits.open(g.user)
    try:
        frames = open_frames()
    except BaseException:
        slot.release()
        raise
    return sse_response(frames, slot)


@bp.get("/")
def index() -> str:
    return render_template(
        "index.html",
        username=g.user,
        provider_missing=not services().chat.providers,
        default_model=services().chat.settings.default_model,
        default_provider=services().chat.settings.default_provider,
        # The page offers sharing and waits for model-written titles only where the server does.
        shared_templates=services().templates.shared_enabled,
        auto_titles=services().chat.settings.auto_titles,
        # The composer says the limit before a send that would be refused (413 message_too_long).
        max_message_chars=services().chat.settings.max_message_chars,
        # The options popover offers no more output than the server takes (CHAT_MAX_OUTPUT_TOKENS caps the model's).
        max_output_tokens=services().chat.settings.max_output_tokens,
        # The composer's attachment limits, so it can refuse early and word the refusal.
        paste_attachment_chars=current_app.config["CHAT_PASTE_ATTACHMENT_CHARS"],
        attachment_max_bytes=current_app.config["CHAT_ATTACHMENT_MAX_BYTES"],
        text_attachment_max_bytes=current_app.config["CHAT_TEXT_ATTACHMENT_MAX_BYTES"],
        csrf_token=csrf_token(),
    )


@bp.post("/chat")
def post_chat() -> Response:
    body = parse_body(ChatBody)
    chat = services().chat
    request_ = turns.TurnRequest(
        user=g.user,
        message=body.message,
        conversation_id=body.conversation_id,
        chat_name=body.chat_name,
        model=body.model,
        provider=body.provider,
        parent_message_id=body.parent_message_id,
        regenerate=body.regenerate,
        template_id=body.template_id,
        variables=body.variables,
        attachments=tuple(body.attachments or ()),
        options=body.options,
        continue_message_id=body.continue_message_id,
    )
    # The slot comes first: a refused stream starts no turn.
    return _stream(lambda: chat.follow(chat.start(request_)))


@bp.get("/chat")
def get_chat() -> Response:
    cid = request.args.get("conversation_id")
    if cid is None:
        raise BadRequest("conversation_id is required")
    return jsonify(conversation_json(services().chat.load(g.user, cid)))


@bp.get("/get-all-conversations")
def list_conversations() -> Response:
    return jsonify({"conversations": [summary_json(s) for s in services().store.list(g.user)]})


@bp.patch("/conversations/<cid>")
def rename(cid: str) -> Response:
    body = parse_body(ConversationChange)
    name = body.chat_name.strip() if body.chat_name is not None else None
    if name == "":
        raise BadRequest("chat_name is blank")
    if body.instructions is not None:
        limit = services().chat.settings.max_message_chars
        if len(body.instructions) > limit:
            raise BadRequest(f"instructions: at most {limit} characters")
    if (name, body.instructions, body.pinned, body.archived) == (None, None, None, None):
        raise BadRequest("nothing to change: send chat_name, instructions, pinned or archived")
    summary = services().store.update(
        g.user,
        cid,
        chat_name=name,
        instructions=body.instructions,
        pinned=body.pinned,
        archived=body.archived,
    )
    return jsonify(summary_json(summary))


@bp.put("/conversations/<cid>/current")
def set_current(cid: str) -> Response:
    body = parse_body(CurrentBody)
    services().chat.load(g.user, cid)
    return jsonify(conversation_json(services().store.set_current(g.user, cid, body.message_id)))


@bp.delete("/conversations/<cid>")
def delete(cid: str) -> Response:
    cm.validate_conversation_id(cid)
    services().chat.delete(g.user, cid)
    services().shares.revoke_conversation(g.user, cid)
    return Response(status=204)


@bp.post("/conversations/<cid>/stop")
def stop(cid: str) -> Response:
    services().chat.stop(g.user, cid)
    return Response(status=204)


@bp.get("/conversations/<cid>/events")
def events(cid: str) -> Response:
    last_event_id = request.headers.get("Last-Event-ID")
    return _stream(lambda: services().chat.events(g.user, cid, last_event_id))
