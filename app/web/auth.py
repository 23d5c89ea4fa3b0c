"""Login, first-run sign-up, logout and password change pages and routes, the session hook that
sets `g.user`, and the `users` CLI.

Part of the web layer: maps `auth` onto HTTP; imports `web_errors` and `web_security`, never `app`.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import (
    Blueprint,
    Flask,
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
from app.web.errors import MESSAGES, error_response
from app.web.security import csrf_token

bp = Blueprint("auth", __name__)
PAGE_ENDPOINTS = frozenset({"index", "auth.login_page"})
PUBLIC_ENDPOINTS = frozenset(
    {"healthz", "static", "auth.login", "auth.login_page", "auth.signup", "share_page"}
)


def load_user() -> Response | None:
    """Set `g.user` from the session; send anonymous requests to the login page or a 401."""
    sid = session.get("sid")
    user = current_app.extensions["sessions"].lookup(sid) if sid else None
    g.user = user
    if user is None and sid:
        session.pop("sid", None)
    if user is not None or request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if request.method == "GET" and request.endpoint in PAGE_ENDPOINTS:
        return redirect(url_for("auth.login_page"))  # type: ignore[return-value]
    return error_response(401, "unauthenticated")


def _accounts() -> auth.AccountStore:
    return current_app.extensions["accounts"]


def _is_form() -> bool:
    return request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


def _credentials() -> tuple[Any, Any]:
    if _is_form():
        return request.form.get("username", ""), request.form.get("password", "")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return None, None
    return data.get("username"), data.get("password")


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _start_session(user: str) -> None:
    """Begin a fresh server-side session (a new id and a new cookie: no fixation)."""
    old = session.get("sid")
    if old:
        current_app.extensions["sessions"].revoke(old)
    session.clear()
    session.permanent = True
    session["sid"] = current_app.extensions["sessions"].create(user)


def _login_page(error: str | None = None, status: int = 200) -> Response:
    response = Response(
        render_template(
            "login.html",
            first_run=not _accounts().has_users(),
            signup_enabled=current_app.config["CHAT_SIGNUP_ENABLED"],
            error=error,
            csrf_token=csrf_token(),
        ),
        status=status,
    )
    return response


@bp.get("/login")
def login_page() -> Response:
    if g.get("user"):
        return redirect(url_for("index"))  # type: ignore[return-value]
    return _login_page()


@bp.post("/login")
def login() -> Response:
    username, password = _credentials()
    try:
        ok = isinstance(username, str) and isinstance(password, str)
        ok = ok and _accounts().verify(username, password, ip=_client_ip())
    except auth.Throttled as exc:
        if _is_form():
            return _login_page("Too many attempts; wait a while and try again.", 429)
        return error_response(429, "rate_limited", Retry_After=max(1, round(exc.retry_after)))
    if not ok:
        if _is_form():
            return _login_page(MESSAGES["invalid_credentials"], 401)
        return error_response(401, "invalid_credentials")
    _start_session(username)
    if _is_form():
        return redirect(url_for("index"))  # type: ignore[return-value]
    return jsonify({"username": username})


@bp.post("/signup")
def signup() -> Response:
    accounts = _accounts()
    if accounts.has_users() and not current_app.config["CHAT_SIGNUP_ENABLED"]:
        return error_response(403, "signup_closed", "Sign-up is closed: ask an administrator.")
    username, password = _credentials()
    try:
        if not isinstance(username, str):
            raise auth.InvalidUsername()
        accounts.create_user(username, password)
    except auth.InvalidUsername:
        code, status, text = "invalid_id", 400, "User names are 3–32 of a–z, 0–9, _ and -."
    except auth.WeakPassword:
        code, status, text = "weak_password", 400, "Passwords need at least 12 characters."
    except auth.NameTaken:
        code, status, text = "name_taken", 409, "That user name is taken."
    else:
        _start_session(username)
        if _is_form():
            return redirect(url_for("index"))  # type: ignore[return-value]
        response = jsonify({"username": username})
        response.status_code = 201
        return response
    if _is_form():
        return _login_page(text, status)
    return error_response(status, code, text)


@bp.post("/logout")
def logout() -> Response:
    sid = session.get("sid")
    if sid:
        current_app.extensions["sessions"].revoke(sid)
    session.clear()
    if _is_form():
        return redirect(url_for("auth.login_page"))  # type: ignore[return-value]
    return Response(status=204)


@bp.post("/account/password")
def change_password() -> Response:
    data = request.get_json(silent=True) if not _is_form() else request.form
    if not data:
        return error_response(400, "bad_request")
    current, new = data.get("current_password"), data.get("new_password")
    if not isinstance(current, str) or not isinstance(new, str):
        return error_response(400, "bad_request")
    try:
        _accounts().change_password(
            g.user, current, new, keep_session_id=session.get("sid"), ip=_client_ip()
        )
    except auth.WeakPassword:
        return error_response(400, "weak_password", "Passwords need at least 12 characters.")
    except auth.InvalidCredentials:
        return error_response(401, "invalid_credentials")
    except auth.Throttled as exc:
        return error_response(429, "rate_limited", Retry_After=max(1, round(exc.retry_after)))
    return Response(status=204)


@bp.get("/account")
def account() -> Response:
    return jsonify({"username": g.user})


# --------------------------------------------------------------------------------------------
# CLI: flask --app app users create NAME


def _read_password() -> str:
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True)
        confirm = click.prompt("Repeat the password", hide_input=True)
        if password != confirm:
            raise click.ClickException("the passwords differ")
        return password
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def register_cli(app: Flask) -> None:
    users = click.Group("users", help="Manage user accounts.")

    @users.command("create")
    @click.argument("name")
    def create(name: str) -> None:
        """Create a user; the password comes from standard input (or a prompt on a terminal)."""
        password = _read_password()
        try:
            app.extensions["accounts"].create_user(name, password)
        except auth.InvalidUsername:
            raise click.ClickException(
                "invalid user name: use 3-32 characters of a-z, 0-9, _ and -"
            ) from None
        except auth.NameTaken:
            raise click.ClickException(f"user {name!r} exists already") from None
        except auth.WeakPassword:
            raise click.ClickException("password too short: at least 12 characters") from None
        click.echo(f"created user {name}")

    @users.command("list")
    def list_users() -> None:
        """List the user names."""
        for name in app.extensions["accounts"].list_users():
            click.echo(name)

    @users.command("set-password")
    @click.argument("name")
    def set_password(name: str) -> None:
        """Set a user's password (from standard input or a prompt) and end their sessions."""
        password = _read_password()
        try:
            app.extensions["accounts"].reset_password(name, password)
        except auth.WeakPassword:
            raise click.ClickException("password too short: at least 12 characters") from None
        except (auth.InvalidUsername, auth.InvalidCredentials):
            raise click.ClickException(f"no user {name!r}") from None
        click.echo(f"password of {name} set; their sessions were ended")

    app.cli.add_command(users)
