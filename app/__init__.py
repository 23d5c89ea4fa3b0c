"""The Flask entry point: `create_app()` builds the services and wires the web layer onto Flask.

With `app.web`, the only code that imports Flask; nothing in `app.web` imports this module.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask.cli import get_debug_flag

from app import accounts as auth
from app import web
from app.redaction import install_log_redaction, redact, secrets_in
from app.services import build_services
from app.settings import SETTINGS, load_settings

# Re-exported: callers and tests import these names from `app`.
from app.web.auth import PUBLIC_ENDPOINTS
from app.web.errors import ERRORS, error_response, handle_error
from app.web.security import CSP, csrf_token, parse_cors_origins

log = logging.getLogger(__name__)

# static/ and templates/ stay at the repository root, beside this package.
ROOT_DIR = Path(__file__).resolve().parent.parent

__all__ = [
    "CSP",
    "ERRORS",
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

    # Before anything can log: every secret of the environment and of the settings (API.md).
    install_log_redaction(secrets_in(os.environ) + secrets_in(settings))

    app = Flask(__name__, root_path=str(ROOT_DIR))
    # No 308 redirects in the API: `/conversations/ID/` is `/conversations/ID`, and a path with `//`
    # (an id holding an encoded slash) is simply not found.
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.config.update(settings)
    app.debug = settings["CHAT_ENV"] == "development" and get_debug_flag()
    data_dir = Path(settings["CHAT_DATA_DIR"]).resolve()
    static_dir = Path(app.static_folder or "static").resolve()
    if data_dir == static_dir or static_dir in data_dir.parents:
        raise RuntimeError("CHAT_DATA_DIR must not be inside static/")
    data_dir.mkdir(parents=True, exist_ok=True)

    https = bool(settings["CHAT_HTTPS"])
    secret_key = settings["SECRET_KEY"] or auth.load_or_create_secret_key(data_dir)
    install_log_redaction([secret_key])  # a generated key is a secret too
    app.config.update(
        SECRET_KEY=secret_key,
        MAX_CONTENT_LENGTH=settings["CHAT_MAX_BODY_BYTES"],
        SESSION_COOKIE_NAME="__Host-session" if https else "chat_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=settings["CHAT_SESSION_LIFETIME"],
    )

    services = build_services(settings, data_dir)
    app.extensions["services"] = services
    app.extensions["chat"] = services.chat
    app.extensions["store"] = services.store
    app.extensions["sessions"] = services.sessions
    app.extensions["accounts"] = services.accounts
    app.extensions["shares"] = services.shares
    services.housekeeping()

    web.init_app(app, settings)
    return app
