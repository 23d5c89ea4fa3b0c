"""The web layer: `create_app()`, configuration, JSON errors, security headers and the chat routes.

The only module (with its blueprints) that imports Flask. Views parse input, call the domain, map errors.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import secrets
from collections.abc import Iterator, Mapping
from hmac import compare_digest
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pydantic
from flask import Flask, Response, g, jsonify, render_template, request, session
from flask.cli import get_debug_flag
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

import auth
import conversation_manager as cm
import limits
import responses_client as rc
import shares
import turns
import web_auth

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-5.4-mini"
DEFAULT_INSTRUCTIONS = (
    "You are a helpful assistant. Answer clearly and accurately; use Markdown where it helps."
)
DEFAULT_MODEL_SUGGESTIONS = "gpt-5.4-mini,gpt-5.4,gpt-5.4-nano,gpt-5.6-terra"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'; base-uri 'none'"
)

# name: (environment variable parser, default)
SETTINGS: dict[str, tuple[type, Any]] = {
    "OPENAI_API_KEY": (str, None),
    "OPENAI_BASE_URL": (str, None),
    "CHAT_MODEL": (str, DEFAULT_MODEL),
    "CHAT_MODELS": (str, DEFAULT_MODEL_SUGGESTIONS),
    "CHAT_INSTRUCTIONS": (str, DEFAULT_INSTRUCTIONS),
    "CHAT_DATA_DIR": (str, "instance/data"),
    "CHAT_MAX_MESSAGE_CHARS": (int, 100_000),
    "CHAT_MAX_BODY_BYTES": (int, 2 * 1024 * 1024),
    "CHAT_MAX_OUTPUT_TOKENS": (int, 16_000),
    "CHAT_CONTEXT_TOKENS": (int, 128_000),
    "CHAT_PUBLIC_URL": (str, None),
    "CHAT_HTTPS": (bool, False),
    "CHAT_ENV": (str, "production"),
    "CHAT_SESSION_LIFETIME": (int, 14 * 24 * 3600),
    "CHAT_SIGNUP_ENABLED": (bool, False),
    "CHAT_LOCK_TIMEOUT": (float, 10.0),
    "CHAT_KEEPALIVE_SECONDS": (float, 15.0),
    "CHAT_UPSTREAM_READ_TIMEOUT": (float, 60.0),
    "CHAT_UPSTREAM_MAX_RETRIES": (int, 2),
    "CHAT_TURNS_PER_MINUTE": (int, 20),
    "CHAT_CONCURRENT_TURNS": (int, 2),
    "CHAT_BUDGET_LIMIT": (float, None),
    "CHAT_BUDGET_UNIT": (str, "usd"),
    "CHAT_BUDGET_PERIOD": (str, "day"),
    "CHAT_CORS_ORIGINS": (str, None),
    "CHAT_TRUSTED_PROXIES": (int, 0),
    "CHAT_SESSION_IDLE_TIMEOUT": (float, None),
    "CHAT_LOGIN_MAX_FAILURES_PER_ACCOUNT": (int, auth.DEFAULT_MAX_FAILURES_PER_ACCOUNT),
    "CHAT_LOGIN_MAX_FAILURES_PER_ADDRESS": (int, auth.DEFAULT_MAX_FAILURES_PER_ADDRESS),
    "CHAT_LOGIN_FAILURE_WINDOW": (float, auth.DEFAULT_FAILURE_WINDOW),
    "SECRET_KEY": (str, None),
}


def _parse(kind: type, raw: str) -> Any:
    if kind is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return kind(raw)


def load_settings(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Read every setting from the environment, then apply `overrides` (tests, embedding)."""
    settings: dict[str, Any] = {}
    for name, (kind, default) in SETTINGS.items():
        raw = environ.get(name)
        settings[name] = _parse(kind, raw) if raw not in (None, "") else default
    settings.update(overrides or {})
    return settings


# --------------------------------------------------------------------------------------------
# Errors: one table from exception to status and code, one handler


ERRORS: list[tuple[type[BaseException], int, str]] = [
    (cm.InvalidId, 400, "invalid_id"),
    (cm.InvalidParent, 400, "bad_request"),
    (cm.NotFound, 404, "not_found"),
    (cm.HistoryUnavailable, 409, "history_unavailable"),
    (cm.StorageBusy, 503, "storage_busy"),
    (cm.StorageFull, 507, "storage_full"),
    (cm.StorageError, 500, "internal"),
    (turns.EmptyMessage, 400, "empty_message"),
    (turns.MessageTooLong, 413, "message_too_long"),
    (turns.NoProvider, 503, "no_provider"),
    (turns.TurnInProgress, 409, "turn_in_progress"),
    (turns.NoTurn, 404, "no_turn"),
    (turns.BadTurnRequest, 400, "bad_request"),
    (limits.RateLimited, 429, "rate_limited"),
    (limits.BudgetExceeded, 429, "budget_exceeded"),
    (limits.StorageBusy, 503, "storage_busy"),
    (auth.StorageBusy, 503, "storage_busy"),
    (shares.StorageBusy, 503, "storage_busy"),
    (shares.ShareNotFound, 404, "not_found"),
    (shares.InvalidShare, 400, "bad_request"),
    (pydantic.ValidationError, 400, "bad_request"),
    (RequestEntityTooLarge, 413, "body_too_large"),
]

MESSAGES = {
    "invalid_id": "That name or id is not valid.",
    "bad_request": "The request was not understood.",
    "not_found": "Not found.",
    "history_unavailable": "This conversation's file was damaged and set aside; its history is "
    "unavailable. Delete it to remove it from the list.",
    "storage_busy": "The server is busy saving; try again in a moment.",
    "storage_full": "The server's disk is full; nothing was changed.",
    "internal": "Something went wrong on our side.",
    "empty_message": "The message is empty.",
    "message_too_long": "The message is too long.",
    "no_provider": "No model provider is configured: set OPENAI_API_KEY (and optionally "
    "OPENAI_BASE_URL) and restart the app.",
    "turn_in_progress": "An answer is still being written in this conversation.",
    "no_turn": "No answer is being written in this conversation.",
    "rate_limited": "Too many requests; wait a moment.",
    "budget_exceeded": "Your usage budget is used up until it resets.",
    "body_too_large": "The request is too large.",
    "unauthenticated": "Log in first.",
    "invalid_credentials": "Wrong user name or password.",
    "cross_site": "Cross-site requests are refused.",
    "csrf_failed": "The form expired; reload the page and try again.",
    "unsupported_media_type": "Send JSON, or a form from this site.",
    "method_not_allowed": "That method is not allowed here.",
}


# --------------------------------------------------------------------------------------------
# Logging: secrets and share tokens never reach a log line

_SHARE_PATH_RE = re.compile(r"/share/([^\s?#\"']+)")
_KEY_LIKE_RE = re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_*.-]{6,}|(?i:bearer)\s+\S+")
_FRAGMENT = 8  # no run of this many characters of a secret may appear in a log line
_secrets_to_redact: set[str] = set()
_secret_re: re.Pattern[str] | None = None


def share_path_for_logs(match: re.Match[str]) -> str:
    """Replace a share token in a path with the first 8 hex digits of its sha256."""
    digest = hashlib.sha256(unquote(match.group(1)).encode()).hexdigest()[:8]
    return f"/share/{digest}"


def redact(text: str) -> str:
    """Remove configured secrets (and any 8-character piece of them), key-like words and share
    tokens from a log text."""
    if _secret_re is not None:
        text = _secret_re.sub("[redacted]", text)
    text = _KEY_LIKE_RE.sub("[redacted]", text)
    return _SHARE_PATH_RE.sub(share_path_for_logs, text)


def _add_secrets_to_redact(values: list[Any]) -> None:
    global _secret_re  # noqa: PLW0603 - one process-wide redaction set, like logging itself
    for value in values:
        if isinstance(value, str) and len(value) >= _FRAGMENT:
            _secrets_to_redact.add(value)
    pieces = {s[i : i + _FRAGMENT] for s in _secrets_to_redact for i in range(len(s) - 7)}
    if pieces:
        alternatives = "|".join(re.escape(p) for p in sorted(pieces))
        _secret_re = re.compile(rf"\S*(?:{alternatives})\S*")


_exception_formatter = logging.Formatter()


def _redacting_record_factory(previous: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the template only
            message = str(record.msg)
        record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters reuse exc_text, so the traceback (and its __cause__ chain, which can
            # hold upstream text) is rendered here once, redacted.
            record.exc_text = redact(_exception_formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    factory.chat_redacting = True  # type: ignore[attr-defined]
    return factory


def install_log_redaction(secret_values: list[Any]) -> None:
    """Redact `secret_values` and share tokens from every log record of this process.

    A record factory, not a filter: logger filters do not see records propagated from child
    loggers, and handlers (gunicorn's, pytest's) are added by others.
    """
    _add_secrets_to_redact(secret_values)
    current = logging.getLogRecordFactory()
    if not getattr(current, "chat_redacting", False):
        logging.setLogRecordFactory(_redacting_record_factory(current))


def error_response(
    status: int,
    code: str,
    message: str | None = None,
    fields: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Response:
    """Build the API's JSON error body (`fields` adds data such as `resets_at`)."""
    body = {
        "error": {"code": code, "message": message or MESSAGES.get(code, code), **(fields or {})}
    }
    response = jsonify(body)
    response.status_code = status
    for header, value in extra.items():
        response.headers[header.replace("_", "-")] = str(value)
    return response


def _retry_after(exc: BaseException) -> int | None:
    value = getattr(exc, "retry_after", None)
    if value is None:
        return None
    return max(1, round(float(value() if callable(value) else value)))


def handle_error(exc: BaseException) -> Response:
    for kind, status, code in ERRORS:
        if isinstance(exc, kind):
            retry = _retry_after(exc)
            message = None
            if isinstance(exc, turns.TurnError) and exc.detail:
                message = f"{MESSAGES.get(code, code)} ({exc.detail})"
            fields = {}
            resets_at = getattr(exc, "resets_at", None)
            if resets_at is not None:
                fields["resets_at"] = resets_at
            if retry is not None:
                fields["retry_after"] = retry
                return error_response(status, code, message, fields, Retry_After=retry)
            return error_response(status, code, message, fields)
    if isinstance(exc, HTTPException):
        code = "method_not_allowed" if exc.code == 405 else "not_found"
        if exc.code not in (404, 405):
            code = "bad_request"
        return error_response(exc.code or 500, code)
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal")


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
    """The request's JSON object, or a 400 `bad_request`."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise turns.BadTurnRequest("expected a JSON object")
    return data


# --------------------------------------------------------------------------------------------
# Serialising records for the API


def message_json(conversation: cm.Conversation, message: cm.Message) -> dict[str, Any]:
    data = message.model_dump(mode="json")
    data["sibling_ids"] = conversation.sibling_ids(message.id)
    return data


def conversation_json(conversation: cm.Conversation) -> dict[str, Any]:
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
    response = Response(frames, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache, no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


# --------------------------------------------------------------------------------------------
# The factory


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment (and `.env`), with `config` overriding both."""
    testing = bool(config and config.get("TESTING"))
    if not testing:
        from dotenv import load_dotenv

        load_dotenv()
    settings = load_settings(os.environ, config)
    if settings["CHAT_ENV"] == "production" and get_debug_flag():
        raise RuntimeError(
            "debug mode is refused in production; set CHAT_ENV=development to use it locally"
        )

    install_log_redaction(
        [settings["OPENAI_API_KEY"], settings["SECRET_KEY"]]
        + [v for k, v in os.environ.items() if k.endswith(("_API_KEY", "_SECRET"))]
    )

    app = Flask(__name__)
    app.config.update(settings)
    app.debug = settings["CHAT_ENV"] == "development" and get_debug_flag()
    app.config["CORS_ORIGINS"] = parse_cors_origins(settings["CHAT_CORS_ORIGINS"])
    if settings["CHAT_TRUSTED_PROXIES"] > 0:
        hops = settings["CHAT_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    data_dir = Path(settings["CHAT_DATA_DIR"]).resolve()
    static_dir = Path(app.static_folder or "static").resolve()
    if data_dir == static_dir or static_dir in data_dir.parents:
        raise RuntimeError("CHAT_DATA_DIR must not be inside static/")
    data_dir.mkdir(parents=True, exist_ok=True)

    https = bool(settings["CHAT_HTTPS"])
    app.config.update(
        SECRET_KEY=settings["SECRET_KEY"] or auth.load_or_create_secret_key(data_dir),
        MAX_CONTENT_LENGTH=settings["CHAT_MAX_BODY_BYTES"],
        SESSION_COOKIE_NAME="__Host-session" if https else "chat_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=settings["CHAT_SESSION_LIFETIME"],
    )

    store = cm.JsonConversationStore(data_dir, lock_timeout=settings["CHAT_LOCK_TIMEOUT"])
    store.sweep()
    providers = rc.providers_from_env(
        {
            k: str(v)
            for k, v in settings.items()
            if v is not None and isinstance(v, str | int | float)
        }
    )
    chat = turns.ChatService(
        store,
        providers,
        turns.ChatSettings(
            default_model=settings["CHAT_MODEL"],
            default_provider=next(iter(providers), "openai"),
            instructions=settings["CHAT_INSTRUCTIONS"],
            max_message_chars=settings["CHAT_MAX_MESSAGE_CHARS"],
            max_output_tokens=settings["CHAT_MAX_OUTPUT_TOKENS"],
            context_tokens=settings["CHAT_CONTEXT_TOKENS"],
            keepalive_seconds=settings["CHAT_KEEPALIVE_SECONDS"],
            turns_per_minute=settings["CHAT_TURNS_PER_MINUTE"],
            concurrent_turns=settings["CHAT_CONCURRENT_TURNS"],
            budget_limit=settings["CHAT_BUDGET_LIMIT"],
            budget_unit=settings["CHAT_BUDGET_UNIT"],
            budget_period=settings["CHAT_BUDGET_PERIOD"],
        ),
        turns.Limits(limits.RateLimiter(data_dir), limits.Budget(data_dir)),
    )
    sessions = auth.SessionStore(
        data_dir,
        settings["CHAT_SESSION_LIFETIME"],
        idle_timeout_seconds=settings["CHAT_SESSION_IDLE_TIMEOUT"],
    )
    app.extensions["chat"] = chat
    app.extensions["store"] = store
    app.extensions["sessions"] = sessions
    app.extensions["accounts"] = auth.AccountStore(
        data_dir,
        sessions=sessions,
        max_failures_per_account=settings["CHAT_LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        max_failures_per_address=settings["CHAT_LOGIN_MAX_FAILURES_PER_ADDRESS"],
        failure_window_seconds=settings["CHAT_LOGIN_FAILURE_WINDOW"],
    )
    app.extensions["shares"] = shares.ShareStore(data_dir)

    app.register_error_handler(Exception, handle_error)
    app.before_request(_static_guard)
    app.before_request(_cors_preflight)
    app.before_request(_cross_site_guard)
    app.before_request(_load_user)
    app.after_request(_security_headers)
    app.after_request(_cors_headers)
    app.register_blueprint(web_auth.bp)
    web_auth.register_cli(app)
    _register_chat_routes(app)
    return app


# --------------------------------------------------------------------------------------------
# Request hooks


def _own_host() -> str:
    public = request.environ.get("chat.public_url") or _app_setting("CHAT_PUBLIC_URL")
    return urlsplit(public).netloc.lower() if public else request.host.lower()


def _app_setting(name: str) -> Any:
    from flask import current_app

    return current_app.config.get(name)


def csrf_token() -> str:
    """This browser session's form token (made on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def parse_cors_origins(raw: str | None) -> frozenset[str]:
    """Parse `CHAT_CORS_ORIGINS` (comma-separated `scheme://host[:port]`); refuse `*` and paths."""
    origins = set()
    for raw_item in (raw or "").split(","):
        item = raw_item.strip().rstrip("/")
        if not item:
            continue
        parts = urlsplit(item)
        if item == "*" or parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise RuntimeError(
                f"CHAT_CORS_ORIGINS: {item!r} is not an origin like https://app.example.com "
                "(a wildcard is refused)"
            )
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return frozenset(origins)


def _allowed_cors_origin() -> str | None:
    """The request's `Origin` when it is one of the configured CORS origins, else None."""
    from flask import current_app

    origin = request.headers.get("Origin")
    if origin and origin.lower() in current_app.config["CORS_ORIGINS"]:
        return origin
    return None


CORS_METHODS = "GET, POST, PUT, PATCH, DELETE"
CORS_HEADERS = "Content-Type, Last-Event-ID"


def _cors_preflight() -> Response | None:
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    if _allowed_cors_origin() is None:
        return error_response(403, "cross_site")
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
    response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _cors_headers(response: Response) -> Response:
    from flask import current_app

    if not current_app.config["CORS_ORIGINS"]:
        return response
    response.vary.add("Origin")
    origin = _allowed_cors_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
    return response


def _static_guard() -> Response | None:
    """Never serve the old app's `static/chats/` (its conversations), however the path is spelt."""
    if request.endpoint != "static" and not request.path.lower().startswith("/static"):
        return None
    name = (request.view_args or {}).get("filename") or request.path.removeprefix("/static")
    normal = posixpath.normpath("/" + unquote(str(name)).replace("\\", "/")).lower()
    if normal == "/chats" or normal.startswith("/chats/"):
        return error_response(404, "not_found")
    return None


def _cross_site_guard() -> Response | None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    origin = request.headers.get("Origin")
    cors_allowed = _allowed_cors_origin() is not None
    if origin is not None and not cors_allowed and urlsplit(origin).netloc.lower() != _own_host():
        return error_response(403, "cross_site")
    if not cors_allowed and request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return error_response(403, "cross_site")
    if not _has_body():
        return None
    if request.mimetype == "application/json":
        return None
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf")
        if not isinstance(expected, str) or not compare_digest(sent, expected):
            return error_response(403, "csrf_failed")
        return None
    return error_response(415, "unsupported_media_type")


PUBLIC_ENDPOINTS = frozenset(
    {"healthz", "static", "auth.login", "auth.login_page", "auth.signup", "share_page"}
)


def _load_user() -> Response | None:
    from flask import current_app

    sid = session.get("sid")
    user = current_app.extensions["sessions"].lookup(sid) if sid else None
    g.user = user
    if user is None and sid:
        session.pop("sid", None)
    if user is not None or request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if request.method == "GET" and request.endpoint in web_auth.PAGE_ENDPOINTS:
        from flask import redirect, url_for

        return redirect(url_for("auth.login_page"))
    return error_response(401, "unauthenticated")


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if _app_setting("CHAT_HTTPS"):
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if response.mimetype == "application/json":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# --------------------------------------------------------------------------------------------
# Chat routes


def _register_chat_routes(app: Flask) -> None:
    chat: turns.ChatService = app.extensions["chat"]
    store: cm.JsonConversationStore = app.extensions["store"]

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/")
    def index() -> str:
        return render_template(
            "index.html",
            username=g.user,
            provider_missing=not chat.providers,
            default_model=app.config["CHAT_MODEL"],
            csrf_token=csrf_token(),
        )

    @app.get("/models")
    def models() -> Response:
        suggestions = [m.strip() for m in app.config["CHAT_MODELS"].split(",") if m.strip()]
        default = app.config["CHAT_MODEL"]
        ordered = [default, *(m for m in suggestions if m != default)]
        return jsonify({"default": default, "models": ordered, "providers": list(chat.providers)})

    @app.post("/chat")
    def post_chat() -> Response:
        body = ChatBody.model_validate(json_body())
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

    @app.get("/chat")
    def get_chat() -> Response:
        cid = request.args.get("conversation_id")
        if cid is None:
            raise turns.BadTurnRequest("conversation_id is required")
        return jsonify(conversation_json(chat.load(g.user, cid)))

    @app.get("/get-all-conversations")
    def list_conversations() -> Response:
        entries = [s.model_dump(mode="json") for s in store.list(g.user)]
        return jsonify({"conversations": entries})

    @app.patch("/conversations/<cid>")
    def rename(cid: str) -> Response:
        body = RenameBody.model_validate(json_body())
        return jsonify(store.rename(g.user, cid, body.chat_name.strip()).model_dump(mode="json"))

    @app.put("/conversations/<cid>/current")
    def set_current(cid: str) -> Response:
        body = CurrentBody.model_validate(json_body())
        chat.load(g.user, cid)
        return jsonify(conversation_json(store.set_current(g.user, cid, body.message_id)))

    @app.delete("/conversations/<cid>")
    def delete(cid: str) -> Response:
        cm.validate_conversation_id(cid)
        chat.delete(g.user, cid)
        app.extensions["shares"].revoke_conversation(g.user, cid)
        return Response(status=204)

    @app.post("/conversations/<cid>/stop")
    def stop(cid: str) -> Response:
        chat.stop(g.user, cid)
        return Response(status=204)

    @app.get("/conversations/<cid>/events")
    def events(cid: str) -> Response:
        return sse_response(chat.events(g.user, cid, request.headers.get("Last-Event-ID")))

    @app.post("/conversations/<cid>/share")
    def create_share(cid: str) -> Response:
        conversation = chat.load(g.user, cid)
        snapshot = {
            "chat_name": conversation.chat_name,
            "messages": [
                {"role": m.role, "text": m.text, "timestamp": m.timestamp}
                for m in conversation.branch()
            ],
        }
        share_store: shares.ShareStore = app.extensions["shares"]
        token = share_store.create(g.user, cid, snapshot)
        share_id = shares.token_hash(token)[: shares.SHARE_ID_CHARS]
        response = jsonify({"share_id": share_id, "url": f"/share/{token}", "token": token})
        response.status_code = 201
        return response

    @app.get("/conversations/<cid>/shares")
    def list_shares(cid: str) -> Response:
        chat.load(g.user, cid)
        entries = app.extensions["shares"].list(g.user, cid)
        return jsonify(
            {
                "shares": [
                    {"share_id": s.share_id, "created": s.created, "expires_at": s.expires_at}
                    for s in entries
                ]
            }
        )

    @app.delete("/shares/<share_id>")
    def revoke_share(share_id: str) -> Response:
        app.extensions["shares"].revoke(g.user, share_id)
        return Response(status=204)

    @app.get("/share/<token>")
    def share_page(token: str) -> Response:
        snapshot = app.extensions["shares"].get(token)
        if snapshot is None:
            response = error_response(404, "not_found")
        else:
            response = Response(render_template("share.html", **snapshot))
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        response.headers["Cache-Control"] = "no-store"
        return response
