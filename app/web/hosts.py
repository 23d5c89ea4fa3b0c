"""The Host rule: answer only to the host of `CHAT_PUBLIC_URL`, the `CHAT_ALLOWED_HOSTS`, or, when
neither is set, a loopback name; anything else is 400 `bad_host`, so a DNS-rebinding page cannot
drive a local install. The port is not compared. Probes (`/healthz`, `/metrics`) answer any host.

Part of the web layer; imports `app.web.errors` only among ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, request

from app.web.errors import error_response

LOOPBACK = frozenset({"localhost", "127.0.0.1", "[::1]"})
# Endpoints that probes and scrapers reach by address.
ANY_HOST_ENDPOINTS = frozenset({"ops.healthz", "ops.metrics"})
CONFIG_KEY = "CHAT_HOSTS"


def host_name(host: str) -> str:
    """Return `host` without its port, lower-cased (`[::1]:5000` -> `[::1]`)."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    name, _, port = host.rpartition(":")
    if name and port.isdigit():
        return name
    return host.rstrip(":")


def allowed_hosts(settings: Mapping[str, Any]) -> frozenset[str]:
    """Return the host names the app answers to, from `CHAT_PUBLIC_URL` and `CHAT_ALLOWED_HOSTS`.

    Raise `RuntimeError` (at start) for an entry that is not a host name.
    """
    names: set[str] = set()
    public = settings.get("CHAT_PUBLIC_URL")
    if public:
        netloc = urlsplit(str(public).strip()).netloc.rpartition("@")[2]
        if not netloc:
            raise RuntimeError(
                f"CHAT_PUBLIC_URL: {public!r} is not a URL like https://chat.example.com"
            )
        names.add(host_name(netloc))
    for raw in str(settings.get("CHAT_ALLOWED_HOSTS") or "").split(","):
        item = raw.strip()
        if not item:
            continue
        if any(c in item for c in "/*@ ") or not host_name(item):
            raise RuntimeError(
                f"CHAT_ALLOWED_HOSTS: {item!r} is not a host name like chat.example.com "
                "(no scheme, path or wildcard)"
            )
        names.add(host_name(item))
    return frozenset(names) or LOOPBACK


def init_app(app: Any, settings: Mapping[str, Any]) -> None:
    """Compute the allowed hosts once, at start."""
    app.config[CONFIG_KEY] = allowed_hosts(settings)


def host_guard() -> Response | None:
    """Refuse a request whose Host is not one the app answers to (400 `bad_host`)."""
    if request.endpoint in ANY_HOST_ENDPOINTS:
        return None
    if host_name(request.host) in current_app.config[CONFIG_KEY]:
        return None
    return error_response(400, "bad_host")
