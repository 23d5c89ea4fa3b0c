"""The chat page and the conversation API: request bodies (pydantic), record serialisers, SSE responses.

Part of the web layer; views parse input, call `turns` or the store, and leave errors to `web_errors`.
Imports `web_security` only among the web modules, never `app`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pydantic
from flask import Flask, Response, current_app, g, jsonify, render_template, request

import conversation_manager as cm
from app import shares, turns
from app.web.security import csrf_token

# --------------------------------------------------------------------------------------------
# Request bodies


class ChatBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", strict=True)

    message: str | None = None
    conversation_id: str | None = None
    chat_name: str | None = pydantic.Field(default=None, max_length=200)
    model: str | None = pydantic.Field(default=None, min_length=1, max_length=100)
    provider: str | None = pydantic.Field(default=None, min_length=1, max_length=40)
    parent_message_id: str | None = None
    regenerate: bool = False


class RenameBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", strict=True)

    chat_name: str = pydantic.Field(min_length=1, max_length=200)


class CurrentBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", strict=True)

    message_id: str = pydantic.Field(min_length=1, max_length=64)


def json_body() -> dict[str, Any]:
    """Return the request's JSON object, or raise a 400 `bad_request`."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise turns.BadTurnRequest("expected a JSON object")
    return data


# --------------------------------------------------------------------------------------------
# Serialising records for the API


def message_json(conversation: cm.Conversation, message: cm.Message) -> dict[str, Any]:
    """Serialise one message with its siblings' ids."""
    data = message.model_dump(mode="json")
    data["sibling_ids"] = conversation.sibling_ids(message.id)
    return data


def conversation_json(conversation: cm.Conversation) -> dict[str, Any]:
    """Serialise a conversation with the messages of its current branch."""
    return {
        "conversation_id": conversation.id,
        "chat_name": conversation.chat_name,
        "model": conversation.model,
        "provider": conversation.provider,
        "last_response_id": conversation.last_response_id,
        "current_message_id": conversation.current_message_id,
        "legacy": conversation.legacy.model_dump(mode="json") if conversation.legacy else None,
        "totals": conversation.totals.model_dump(mode="json"),
        "created_at": conversation.created_at,
        "last_update": conversation.last_update,
        "messages": [message_json(conversation, m) for m in conversation.branch()],
    }


def sse_response(frames: Iterator[bytes]) -> Response:
    """Stream SSE frames unbuffered and uncached."""
    response = Response(frames, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache, no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


# --------------------------------------------------------------------------------------------
# Views


def _chat() -> turns.ChatService:
    return current_app.extensions["chat"]


def _store() -> cm.JsonConversationStore:
    return current_app.extensions["store"]


def healthz() -> Response:
    return jsonify({"status": "ok"})


def index() -> str:
    return render_template(
        "index.html",
        username=g.user,
        provider_missing=not _chat().providers,
        default_model=current_app.config["CHAT_MODEL"],
        csrf_token=csrf_token(),
    )


def models() -> Response:
    suggestions = [m.strip() for m in current_app.config["CHAT_MODELS"].split(",") if m.strip()]
    default = current_app.config["CHAT_MODEL"]
    ordered = [default, *(m for m in suggestions if m != default)]
    return jsonify({"default": default, "models": ordered, "providers": list(_chat().providers)})


def post_chat() -> Response:
    body = ChatBody.model_validate(json_body())
    chat = _chat()
    started = chat.start(
        turns.TurnRequest(
            user=g.user,
            message=body.message,
            conversation_id=body.conversation_id,
            chat_name=body.chat_name,
            model=body.model,
            provider=body.provider,
            parent_message_id=body.parent_message_id,
            regenerate=body.regenerate,
        )
    )
    return sse_response(chat.follow(started))


def get_chat() -> Response:
    cid = request.args.get("conversation_id")
    if cid is None:
        raise turns.BadTurnRequest("conversation_id is required")
    return jsonify(conversation_json(_chat().load(g.user, cid)))


def list_conversations() -> Response:
    entries = [s.model_dump(mode="json") for s in _store().list(g.user)]
    return jsonify({"conversations": entries})


def rename(cid: str) -> Response:
    body = RenameBody.model_validate(json_body())
    return jsonify(_store().rename(g.user, cid, body.chat_name.strip()).model_dump(mode="json"))


def set_current(cid: str) -> Response:
    body = CurrentBody.model_validate(json_body())
    _chat().load(g.user, cid)
    return jsonify(conversation_json(_store().set_current(g.user, cid, body.message_id)))


def delete(cid: str) -> Response:
    cm.validate_conversation_id(cid)
    _chat().delete(g.user, cid)
    share_store: shares.ShareStore = current_app.extensions["shares"]
    share_store.revoke_conversation(g.user, cid)
    return Response(status=204)


def stop(cid: str) -> Response:
    _chat().stop(g.user, cid)
    return Response(status=204)


def events(cid: str) -> Response:
    return sse_response(_chat().events(g.user, cid, request.headers.get("Last-Event-ID")))


# (rule, method, view): registered on the app itself, not a Blueprint, so that endpoint names
# stay bare; `url_for("index")`, `PUBLIC_ENDPOINTS`, `PAGE_ENDPOINTS` and the tests use them.
ROUTES: list[tuple[str, str, Any]] = [
    ("/healthz", "GET", healthz),
    ("/", "GET", index),
    ("/models", "GET", models),
    ("/chat", "POST", post_chat),
    ("/chat", "GET", get_chat),
    ("/get-all-conversations", "GET", list_conversations),
    ("/conversations/<cid>", "PATCH", rename),
    ("/conversations/<cid>/current", "PUT", set_current),
    ("/conversations/<cid>", "DELETE", delete),
    ("/conversations/<cid>/stop", "POST", stop),
    ("/conversations/<cid>/events", "GET", events),
]


def init_app(app: Flask) -> None:
    """Register the chat routes on `app`, each under its view's name."""
    for rule, method, view in ROUTES:
        app.add_url_rule(rule, view_func=view, methods=[method])
