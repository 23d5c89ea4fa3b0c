"""The request's view of the services that `create_app` built (one typed accessor, no string keys).

Part of the web layer; imports Flask's `current_app` and the composition root's `Services` only.
"""

from __future__ import annotations

from flask import current_app

from app.services import Services


def services() -> Services:
    """Return this app's services (store, chat, accounts, sessions, shares, stream limits)."""
    built: Services = current_app.extensions["services"]
    return built
