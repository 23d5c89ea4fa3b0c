"""Request hardening: the cross-site and CSRF guard, CORS, security headers, the static/chats guard
and proxy trust. (The Host rule is app/web/hosts.py; log redaction is app/redaction.py.)

Part of the web layer; imports `app.web.errors` only among ours, never a domain module.
"""

from __future__ import annotations

import posixpath
import secrets
from hmac import compare_digest
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, current_app, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

from app.web.errors import error_response

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'; base-uri 'none'"
)
CORS_METHODS = "GET, POST, PUT, PATCH, DELETE"
CORS_HEADERS = "Content-Type, Last-Event-ID, X-CSRF-Token"
CSRF_HEADER = "X-CSRF-Token"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# --------------------------------------------------------------------------------------------
# Proxies and CORS configuration


def trust_proxies(app: Flask, hops: int) -> None:
    """Take the client address, scheme and host from `hops` reverse proxies' X-Forwarded-* headers."""
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


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


# --------------------------------------------------------------------------------------------
# Request hooks


def csrf_token() -> str:
    """Return this browser session's form token (made on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _own_host() -> str:
    public = request.environ.get("chat.public_url") or current_app.config.get("CHAT_PUBLIC_URL")
    return urlsplit(public).netloc.lower() if public else request.host.lower()


def _has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def _allowed_cors_origin() -> str | None:
    """The request's `Origin` when it is one of the configured CORS origins, else None."""
    origin = request.headers.get("Origin")
    if origin and origin.lower() in current_app.config["CORS_ORIGINS"]:
        return origin
    return None


def static_guard() -> Response | None:
    """Never serve the old app's `static/chats/` (its conversations), however the path is spelt."""
    if request.endpoint != "static" and not request.path.lower().startswith("/static"):
        return None
    name = (request.view_args or {}).get("filename") or request.path.removeprefix("/static")
    normal = posixpath.normpath("/" + unquote(str(name)).replace("\\", "/")).lower()
    if normal == "/chats" or normal.startswith("/chats/"):
        return error_response(404, "not_found")
    return None


def cors_preflight() -> Response | None:
    """Answer a CORS preflight from a configured origin; refuse one from any other."""
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    if _allowed_cors_origin() is None:
        return error_response(403, "cross_site")
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
    response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _token_matches(sent: str) -> bool:
    expected = session.get("csrf")
    return isinstance(expected, str) and compare_digest(sent.encode(), expected.encode())


def cross_site_guard() -> Response | None:
    """Refuse state-changing requests from other sites, forms without the CSRF token, and bodies
    that are neither JSON nor a form.

    The token may come in the `X-CSRF-Token` header for any request that is not JSON; when the
    header is sent it is checked first, before the body is read (an upload is refused unread).
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    origin = request.headers.get("Origin")
    cors_allowed = _allowed_cors_origin() is not None
    if origin is not None and not cors_allowed and urlsplit(origin).netloc.lower() != _own_host():
        return error_response(403, "cross_site")
    if not cors_allowed and request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return error_response(403, "cross_site")
    if request.mimetype == "application/json":
        return None  # same-origin JSON needs no token (a form cannot send this type cross-site)
    header = request.headers.get(CSRF_HEADER)
    if header is not None and not _token_matches(header):
        return error_response(403, "csrf_failed")
    if not _has_body():
        return None
    if request.mimetype not in FORM_TYPES:
        return error_response(415, "unsupported_media_type")
    if header is None and not _token_matches(request.form.get("csrf_token", "")):
        return error_response(403, "csrf_failed")
    return None


def security_headers(response: Response) -> Response:
    """Add CSP, framing, sniffing, referrer and (over HTTPS) HSTS headers to every response."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("CHAT_HTTPS"):
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if response.mimetype == "application/json":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def cors_headers(response: Response) -> Response:
    """Allow a configured origin to read the response (with credentials)."""
    if not current_app.config["CORS_ORIGINS"]:
        return response
    response.vary.add("Origin")
    origin = _allowed_cors_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
    return response
