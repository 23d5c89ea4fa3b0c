"""Request hardening: cross-site/CSRF guard, CORS, security headers, the static/chats guard, proxy
trust and the log-redaction record factory.

Part of the web layer; imports `web_errors` only among the web modules, never `app` or a domain module.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import re
import secrets
from hmac import compare_digest
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, current_app, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

from app.web.errors import error_response

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'; base-uri 'none'"
)
CORS_METHODS = "GET, POST, PUT, PATCH, DELETE"
CORS_HEADERS = "Content-Type, Last-Event-ID"

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


def cross_site_guard() -> Response | None:
    """Refuse state-changing requests from other sites, forms without the CSRF token, and bodies
    that are neither JSON nor a form."""
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
