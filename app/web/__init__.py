"""The web layer, the only code that imports Flask: one blueprint per area (attachments, auth, chat,
context, export, providers, search, shares, stats, templates, ops), the error table, the request
hooks, bodies, serialisers and SSE responses.

`init_app` wires it all onto a Flask app; nothing here imports `app/__init__.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.web import attachments as attachment_routes
from app.web import auth, bodies, chat, cli, hosts, ops, providers, security, shares, templates_api
from app.web import context as context_routes
from app.web import export as export_routes
from app.web import search as search_routes
from app.web import stats as stats_routes
from app.web.errors import handle_error

__all__ = ["init_app"]


def init_app(app: Flask, settings: Mapping[str, Any]) -> None:
    """Register the request hooks, the error handler, the blueprints and the CLI on `app`."""
    app.config["CORS_ORIGINS"] = security.parse_cors_origins(settings["CHAT_CORS_ORIGINS"])
    hosts.init_app(app, settings)
    security.trust_proxies(app, settings["CHAT_TRUSTED_PROXIES"])
    app.register_error_handler(Exception, handle_error)
    # In this order: refuse unknown hosts, hide static/chats, answer CORS preflights, read a
    # chunked body, refuse cross-site writes, then authenticate (a refused request never touches
    # the session store).
    app.before_request(hosts.host_guard)
    app.before_request(security.static_guard)
    app.before_request(security.cors_preflight)
    app.before_request(attachment_routes.raise_body_limit)  # the upload's own limit, before reading
    app.before_request(bodies.buffer_chunked_body)
    app.before_request(security.cross_site_guard)
    app.before_request(auth.load_user)
    app.after_request(security.security_headers)
    app.after_request(security.cors_headers)
    for blueprint in (
        auth.bp,
        attachment_routes.bp,
        chat.bp,
        context_routes.bp,
        export_routes.bp,
        providers.bp,
        search_routes.bp,
        shares.bp,
        stats_routes.bp,
        templates_api.bp,
        ops.bp,
    ):
        app.register_blueprint(blueprint)
    cli.register_cli(app)
