"""Accounts and sessions over HTTP: cookie flags (S1), renewal (S2), logout (S3), password change
(S4, also across two gunicorn processes), throttling, the `users create` CLI, production config (S18)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chat.test_in_flight import Browser
from tests.conftest import PASSWORD, login

ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).with_name("flask")
NEW_PASSWORD = "another long passphrase 42"


def set_cookie(response) -> tuple[str, str, dict[str, str]]:
    """Return (name, value, attributes lower-cased) of the single Set-Cookie header."""
    headers = response.headers.getlist("Set-Cookie")
    assert len(headers) == 1, headers
    raw = headers[0]
    name, _, rest = raw.partition("=")
    value = rest.split(";")[0]
    attrs = {}
    for part in raw.split(";")[1:]:
        key, _, val = part.strip().partition("=")
        attrs[key.lower()] = val
    return name, value, attrs


def test_cookie_flags_plain_http(app):
    app.extensions["accounts"].create_user("alice", PASSWORD)
    response = app.test_client().post("/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    name, _, attrs = set_cookie(response)
    assert name == "chat_session"
    assert "httponly" in attrs and attrs["samesite"] == "Lax" and attrs["path"] == "/"
    assert "domain" not in attrs and "secure" not in attrs
    assert "expires" in attrs  # a bounded lifetime, not a 31-day default
    assert app.permanent_session_lifetime.total_seconds() == app.config["CHAT_SESSION_LIFETIME"]


def test_cookie_flags_https(make_app):
    app = make_app(CHAT_HTTPS=True)
    app.extensions["accounts"].create_user("alice", PASSWORD)
    client = app.test_client()
    response = client.post(
        "/login", json={"username": "alice", "password": PASSWORD}, base_url="https://localhost"
    )
    assert response.status_code == 200
    name, _, attrs = set_cookie(response)
    assert name == "__Host-session"
    assert "secure" in attrs and "httponly" in attrs and attrs["samesite"] == "Lax"
    assert attrs["path"] == "/" and "domain" not in attrs
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_login_renews_the_cookie_and_a_pre_login_cookie_is_no_session(app):
    app.extensions["accounts"].create_user("alice", PASSWORD)
    client = app.test_client()
    page = client.get("/login")  # the login page hands out a pre-login cookie (CSRF token)
    _, before, _ = set_cookie(page)
    response = client.post("/login", json={"username": "alice", "password": PASSWORD})
    _, after, _ = set_cookie(response)
    assert before and after and before != after
    attacker = app.test_client()
    attacker.set_cookie("chat_session", before)
    assert attacker.get("/get-all-conversations").status_code == 401
    assert attacker.get("/account").status_code == 401
    assert client.get("/account").get_json()["username"] == "alice"


def test_logout_then_replay_the_old_cookie_gets_401(app):
    client = login(app.test_client(), app)
    old = client.get_cookie("chat_session").value
    assert client.post("/logout", json={}).status_code == 204
    replay = app.test_client()
    replay.set_cookie("chat_session", old)
    assert replay.get("/get-all-conversations").status_code == 401
    assert replay.get("/get-all-conversations").get_json()["error"]["code"] == "unauthenticated"
    assert replay.get("/").status_code == 302


def test_password_change_ends_the_other_sessions(app):
    a = login(app.test_client(), app)
    b = login(app.test_client(), app)
    response = a.post(
        "/account/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 204
    assert a.get("/account").status_code == 200  # the session that changed it lives on
    assert b.get("/account").status_code == 401
    fresh = app.test_client()
    assert fresh.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 401
    assert (
        fresh.post("/login", json={"username": "alice", "password": NEW_PASSWORD}).status_code
        == 200
    )


def test_password_change_refusals(app):
    a = login(app.test_client(), app)
    short = a.post("/account/password", json={"current_password": PASSWORD, "new_password": "x"})
    assert short.status_code == 400 and short.get_json()["error"]["code"] == "weak_password"
    wrong = a.post(
        "/account/password",
        json={"current_password": "not the password", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "invalid_credentials"
    assert app.test_client().post("/account/password", json={}).status_code == 401


def test_same_answer_for_unknown_user_wrong_password_and_bad_name(app):
    app.extensions["accounts"].create_user("alice", PASSWORD)
    answers = []
    for name, password in [
        ("alice", "wrong password!!"),
        ("nobody", PASSWORD),
        ("../etc", PASSWORD),
        ("ALICE", PASSWORD),
    ]:
        response = app.test_client().post("/login", json={"username": name, "password": password})
        answers.append((response.status_code, response.get_json()))
    assert all(a == answers[0] for a in answers), answers
    assert answers[0][0] == 401 and answers[0][1]["error"]["code"] == "invalid_credentials"


def test_login_throttling_answers_429_with_retry_after(make_app):
    app = make_app(CHAT_LOGIN_MAX_FAILURES_PER_ACCOUNT=3)
    app.extensions["accounts"].create_user("alice", PASSWORD)
    client = app.test_client()
    codes = [
        client.post("/login", json={"username": "alice", "password": "wrong password!"}).status_code
        for _ in range(3)
    ]
    assert codes == [401, 401, 401]
    # Even the right password is refused now, without being checked.
    response = client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.get_json()["error"]["code"] == "rate_limited"


def test_password_change_is_throttled_too(make_app):
    app = make_app(CHAT_LOGIN_MAX_FAILURES_PER_ACCOUNT=2)
    a = login(app.test_client(), app)
    body = {"current_password": "guessing guessing", "new_password": NEW_PASSWORD}
    assert [a.post("/account/password", json=body).status_code for _ in range(2)] == [401, 401]
    response = a.post("/account/password", json=body)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1


def run_cli(data_dir: Path, *args: str, stdin: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHAT_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [str(FLASK), "--app", "app", "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


def test_cli_users_create(data_dir, make_app):
    ok = run_cli(data_dir, "create", "carol", stdin=PASSWORD + "\n" + PASSWORD + "\n")
    assert ok.returncode == 0, ok.stderr
    app = make_app()
    assert "carol" in app.extensions["accounts"].list_users()
    assert app.extensions["accounts"].verify("carol", PASSWORD, ip=None)

    for name, password, word in [
        ("carol", PASSWORD, "exists"),
        ("Bad.Name", PASSWORD, "invalid"),
        ("dave", "short", "short"),
    ]:
        result = run_cli(data_dir, "create", name, stdin=password + "\n")
        assert result.returncode != 0
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and word in lines[0], result.stderr
        assert "Traceback" not in result.stderr + result.stdout
    assert app.extensions["accounts"].list_users() == ["carol"]


def test_production_config_hygiene(data_dir, monkeypatch):
    from app import create_app

    monkeypatch.setenv("CHAT_DATA_DIR", str(data_dir))
    app = create_app()
    assert app.debug is False and app.testing is False
    assert app.config["DEBUG"] is False and app.config["TESTING"] is False
    key = app.config["SECRET_KEY"]
    assert isinstance(key, bytes) and len(key) >= 32
    assert len(set(key)) > 16  # random, not a constant fill
    assert (data_dir / ".app" / "secret_key").stat().st_mode & 0o077 == 0
    assert create_app().config["SECRET_KEY"] == key  # generated once, then kept
    assert app.test_client().get("/console").status_code == 404


def test_debug_is_refused_in_production(data_dir, monkeypatch):
    from app import create_app

    monkeypatch.setenv("CHAT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(RuntimeError, match="debug"):
        create_app()
    monkeypatch.setenv("CHAT_ENV", "development")
    assert create_app().debug is True


def test_password_change_ends_sessions_in_another_gunicorn_process(gunicorn_pair, app):
    one, two = gunicorn_pair()
    on_one = Browser(one.url, app)
    on_two = Browser(two.url, app)  # the same user, logged in through the other process
    assert on_two.request("GET", "/account")[0] == 200
    status, _, _ = on_one.request(
        "POST",
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert status == 204
    assert on_two.request("GET", "/account")[0] == 401
    assert on_one.request("GET", "/account")[0] == 200
    # Logging out through one process ends the session in the other, too.
    assert on_one.request("POST", "/logout", {})[0] == 204
    replay = Browser.__new__(Browser)
    replay.host, replay.port, replay.cookie = on_two.host, on_two.port, on_one.cookie
    assert replay.request("GET", "/account")[0] == 401


def test_expired_sessions_are_swept_when_the_app_starts(data_dir, make_app):
    from app import accounts as auth

    expired = auth.SessionStore(data_dir, lifetime_seconds=0).create("alice")
    live = auth.SessionStore(data_dir).create("alice")
    sessions_dir = data_dir / ".app" / "sessions"
    assert len(list(sessions_dir.glob("*.json"))) == 2
    app = make_app()
    remaining = {p.name for p in sessions_dir.glob("*.json")}
    assert remaining == {f"{auth.token_hash(live)}.json"}
    assert app.extensions["sessions"].lookup(expired) is None
    assert app.extensions["sessions"].lookup(live) == "alice"


# --- issue 10: idle timeout, full disk, new names and passwords, the first sign-up ----------


def test_an_active_user_outlives_a_two_second_idle_timeout(make_app):
    import time

    app = make_app(CHAT_SESSION_IDLE_TIMEOUT=2.0)
    client = login(app.test_client(), app)
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:  # a request every 0.5 s for 4 s
        assert client.get("/account").status_code == 200
        time.sleep(0.5)
    time.sleep(2.5)  # then idle past the timeout
    assert client.get("/account").status_code == 401


def _full_disk(monkeypatch, point: str) -> None:
    import errno
    import stat

    def fail(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if point == "write":
        monkeypatch.setattr(os, "write", fail)
    else:  # only the directory fsync: the data is written, its name cannot be made durable
        real = os.fsync

        def fsync(fd: int) -> None:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                fail()
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)


def _code(response) -> tuple[int, str | None]:
    body = response.get_json(silent=True) or {}
    return response.status_code, (body.get("error") or {}).get("code")


@pytest.mark.parametrize("point", ["write", "dir_fsync"])
def test_a_full_disk_is_507_for_login_signup_and_password_change(app, monkeypatch, point):
    accounts = app.extensions["accounts"]
    accounts.create_user("alice", PASSWORD)
    logged_in = login(app.test_client(), app)
    with monkeypatch.context() as m:
        _full_disk(m, point)
        anonymous = app.test_client()
        right = {"username": "alice", "password": PASSWORD}
        assert _code(anonymous.post("/login", json=right)) == (507, "storage_full")
        if point == "write":  # a failed login writes its throttle entry first
            wrong = {"username": "alice", "password": "wrong password!"}
            assert _code(anonymous.post("/login", json=wrong)) == (507, "storage_full")
        change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        assert _code(logged_in.post("/account/password", json=change)) == (507, "storage_full")
    assert accounts.verify("alice", PASSWORD, ip=None)  # nothing was changed


@pytest.mark.parametrize("point", ["write", "dir_fsync"])
def test_a_sign_up_that_fails_on_a_full_disk_leaves_no_account(make_app, monkeypatch, point):
    app = make_app(CHAT_SIGNUP_ENABLED=True)
    with monkeypatch.context() as m:
        _full_disk(m, point)
        response = app.test_client().post(
            "/signup", json={"username": "carol", "password": PASSWORD}
        )
        assert _code(response) == (507, "storage_full")
    assert app.extensions["accounts"].list_users() == []
    ok = app.test_client().post("/signup", json={"username": "carol", "password": PASSWORD})
    assert ok.status_code == 201


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        ("-rf", PASSWORD, "invalid_id"),
        ("--help", PASSWORD, "invalid_id"),
        ("_x_", PASSWORD, "invalid_id"),
        ("carol", " " * 12, "weak_password"),
        ("carol", "\x00" * 12, "weak_password"),
        ("carol", "twelve chars\ud800", "weak_password bad_request"),  # either layer may refuse
    ],
)
def test_sign_up_refuses_the_new_names_and_passwords(app, username, password, code):
    response = app.test_client().post("/signup", json={"username": username, "password": password})
    status, got = _code(response)
    assert status == 400 and got in code.split()
    assert app.extensions["accounts"].list_users() == []


def test_ten_simultaneous_first_sign_ups_make_one_account(app):
    import threading

    barrier = threading.Barrier(10)
    codes: list[int] = []

    def signup(i: int) -> None:
        client = app.test_client()
        barrier.wait(10)
        body = {"username": f"user{i}", "password": PASSWORD}
        codes.append(client.post("/signup", json=body).status_code)

    threads = [threading.Thread(target=signup, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [201] + [403] * 9
    assert len(app.extensions["accounts"].list_users()) == 1
