"""The `auth` blueprint: the login page, login, first-run sign-up, logout, the account and its
password, and the session hook that sets `g.user`.

Part of the web layer: maps `app.accounts` onto HTTP. Imports `errors`, `bodies` and `security`
among the web modules.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from app import accounts as auth
from app.messages import message_for
from app.web.bodies import AccountChange, Credentials, PasswordChange, is_form, parse_body
from app.web.current import services
from app.web.errors import BadRequest, error_response, retry_after_seconds
from app.web.security import csrf_token

bp = Blueprint("auth", __name__)

# Pages send a logged-out browser to the login page; everything else answers 401.
PAGE_ENDPOINTS = frozenset({"chat.index", "auth.login_page"})
PUBLIC_ENDPOINTS = frozenset(
    {
        "ops.healthz",
        "ops.metrics",
        "static",
        "auth.login",
        "auth.login_page",
        "auth.signup",
        "shares.share_page",
        "attachments.share_attachment",  # a share page's images need no login either
    }
)


def load_user() -> Response | None:
    """Set `g.user` from the session; send anonymous requests to the login page or a 401."""
    sid = session.get("sid")
    user = services().sessions.lookup(sid) if sid else None
    g.user = user
    if user is None and sid:
        session.pop("sid", None)
    if user is not None or request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if request.method == "GET" and request.endpoint in PAGE_ENDPOINTS:
        return redirect(url_for("auth.login_page"))  # type: ignore[return-value]
    return error_response(401, "unauthenticated")


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _start_session(user: str, session_id: str | None = None) -> None:
    """Begin a fresh server-side session (a new id and a new cookie: no fixation); `session_id`
    is one made already (a sign-up makes the account and its first session together)."""
    old = session.get("sid")
    if old:
        services().sessions.revoke(old)
    session.clear()
    session.permanent = True
    session["sid"] = session_id or services().sessions.create(user)


def _login_page(error: str | None = None, status: int = 200) -> Response:
    return Response(
        render_template(
            "login.html",
            first_run=not services().accounts.has_users(),
            signup_enabled=current_app.config["CHAT_SIGNUP_ENABLED"],
            error=error,
            csrf_token=csrf_token(),
        ),
        status=status,
    )


def _refused(status: int, code: str, **headers: Any) -> Response:
    """A refusal: the login page again for a form, the JSON error otherwise."""
    if is_form():
        response = _login_page(message_for(code), status)
        for name, value in headers.items():
            response.headers[name.replace("_", "-")] = str(value)
        return response
    return error_response(status, code, **headers)


def _home() -> Response:
    return redirect(url_for("chat.index"))  # type: ignore[return-value]


@bp.get("/login")
def login_page() -> Response:
    if g.get("user"):
        return _home()
    return _login_page()


@bp.post("/login")
def login() -> Response:
    body = parse_body(Credentials, forms=True)
    try:
        ok = services().accounts.verify(body.username, body.password, ip=_client_ip())
    except auth.Throttled as exc:
        return _refused(429, "rate_limited", Retry_After=retry_after_seconds(exc) or 1)
    if not ok:
        return _refused(401, "invalid_credentials")
    _start_session(body.username)
    if is_form():
        return _home()
    return jsonify({"username": body.username})


@bp.post("/signup")
def signup() -> Response:
    accounts = services().accounts
    first_only = not current_app.config["CHAT_SIGNUP_ENABLED"]
    if first_only and accounts.has_users():  # the quick answer; sign_up checks again, atomically
        return _refused(403, "signup_closed")
    body = parse_body(Credentials, forms=True)
    try:
        # The account and its session together: an error (a full disk) leaves no account.
        session_id = accounts.sign_up(body.username, body.password, only_if_none=first_only)
    except auth.SignupClosed:
        return _refused(403, "signup_closed")
    except auth.InvalidUsername:
        return _refused(400, "invalid_id")
    except auth.WeakPassword:
        return _refused(400, "weak_password")
    except auth.NameTaken:
        return _refused(409, "name_taken")
    _start_session(body.username, session_id)
    if is_form():
        return _home()
    response = jsonify({"username": body.username})
    response.status_code = 201
    return response


@bp.post("/logout")
def logout() -> Response:
    sid = session.get("sid")
    if sid:
        services().sessions.revoke(sid)
    session.clear()
    if is_form():
        return redirect(url_for("auth.login_page"))  # type: ignore[return-value]
    return Response(status=204)


@bp.post("/account/password")
def change_password() -> Response:
    body = parse_body(PasswordChange, forms=True)
    try:
        services().accounts.change_password(
            g.user,
            body.current_password,
            body.new_password,
            keep_session_id=session.get("sid"),
            ip=_client_ip(),
        )
    except auth.WeakPassword:
        return error_response(400, "weak_password")
    except auth.InvalidCredentials:
        return error_response(401, "invalid_credentials")
    return Response(status=204)


def _account_json() -> Response:
    return jsonify(
        {
            "username": g.user,
            "default_instructions": services().accounts.default_instructions(g.user),
            "server_instructions": services().chat.settings.instructions,
        }
    )


@bp.get("/account")
def account() -> Response:
    return _account_json()


@bp.patch("/account")
def update_account() -> Response:
    body = parse_body(AccountChange)
    # Only a field that was sent changes: `{}` must not clear the saved default.
    if "default_instructions" not in body.model_fields_set:
        raise BadRequest("nothing to change")
    limit = services().chat.settings.max_message_chars
    if body.default_instructions is not None and len(body.default_instructions) > limit:
        raise BadRequest(f"default_instructions: at most {limit} characters")
    services().accounts.set_default_instructions(g.user, body.default_instructions)
    return _account_json()
