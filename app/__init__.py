"""The Flask entry point: the settings table, `create_app()`, and the wiring of the web modules.

With the `web_*` modules, the only code that imports Flask; no `web_*` module imports this one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask.cli import get_debug_flag

import conversation_manager as cm
import responses_client as rc
from app import accounts as auth
from app import limits, shares, turns
from app.web import auth as web_auth
from app.web import chat as web_chat
from app.web import security as web_security
from app.web import shares as web_shares

# Re-exported: callers and tests import these names from `app`.
from app.web.auth import PUBLIC_ENDPOINTS
from app.web.errors import ERRORS, MESSAGES, error_response, handle_error
from app.web.security import CSP, csrf_token, install_log_redaction, parse_cors_origins, redact

log = logging.getLogger(__name__)

# static/ and templates/ stay at the repository root, beside this package.
ROOT_DIR = Path(__file__).resolve().parent.parent

__all__ = [
    "CSP",
    "ERRORS",
    "MESSAGES",
    "PUBLIC_ENDPOINTS",
    "SETTINGS",
    "create_app",
    "csrf_token",
    "error_response",
    "handle_error",
    "install_log_redaction",
    "load_settings",
    "parse_cors_origins",
    "redact",
]

DEFAULT_MODEL = "gpt-5.4-mini"
DEFAULT_INSTRUCTIONS = (
    "You are a helpful assistant. Answer clearly and accurately; use Markdown where it helps."
)
DEFAULT_MODEL_SUGGESTIONS = "gpt-5.4-mini,gpt-5.4,gpt-5.4-nano,gpt-5.6-terra"
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


def _housekeeping(app: Flask) -> None:
    """Remove expired sessions and stale login-throttle files; never stop the app from starting."""
    try:
        app.extensions["sessions"].sweep_expired()
        app.extensions["accounts"].sweep()
    except (auth.AuthError, OSError):
        log.warning("startup_sweep_skipped", exc_info=True)


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

    app = Flask(__name__, root_path=str(ROOT_DIR))
    # No 308 redirects in the API: `/conversations/ID/` is `/conversations/ID`, and a path with `//`
    # (an id holding an encoded slash) is simply not found.
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.config.update(settings)
    app.debug = settings["CHAT_ENV"] == "development" and get_debug_flag()
    app.config["CORS_ORIGINS"] = parse_cors_origins(settings["CHAT_CORS_ORIGINS"])
    web_security.trust_proxies(app, settings["CHAT_TRUSTED_PROXIES"])
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
    _housekeeping(app)

    app.register_error_handler(Exception, handle_error)
    # In this order: hide static/chats, answer CORS preflights, refuse cross-site writes, then
    # authenticate (a refused request never touches the session store).
    app.before_request(web_security.static_guard)
    app.before_request(web_security.cors_preflight)
    app.before_request(web_security.cross_site_guard)
    app.before_request(web_auth.load_user)
    app.after_request(web_security.security_headers)
    app.after_request(web_security.cors_headers)
    app.register_blueprint(web_auth.bp)
    web_auth.register_cli(app)
    web_chat.init_app(app)
    web_shares.init_app(app)
    return app
