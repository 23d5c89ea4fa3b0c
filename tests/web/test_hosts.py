"""The Host rule (API.md "Hosts"): only the public host, the allowed hosts, or by default a loopback
name; anything else is 400 `bad_host`, so a DNS-rebinding page cannot drive a local install."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, login

CREDENTIALS = {"username": "mallory", "password": PASSWORD}


def on(host: str) -> str:
    return f"http://{host}"


def test_a_dns_rebinding_signup_on_a_fresh_install_is_refused(app, data_dir):
    # The attacker's page at evil.example now resolves to 127.0.0.1: same origin for the browser.
    response = app.test_client().post(
        "/signup",
        json=CREDENTIALS,
        base_url="http://evil.example:5000",
        headers={"Origin": "http://evil.example:5000", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_host"
    assert app.extensions["accounts"].list_users() == []
    assert "Set-Cookie" not in response.headers
    # The real page on the loopback address still works, on any port.
    ok = app.test_client().post("/signup", json=CREDENTIALS, base_url="http://127.0.0.1:5000")
    assert ok.status_code == 201
    assert app.extensions["accounts"].list_users() == ["mallory"]


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:8000",
                                  "[::1]", "[::1]:8000", "LOCALHOST"])  # fmt: skip
def test_loopback_names_are_answered_by_default(app, host):
    assert app.test_client().get("/login", base_url=on(host)).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "127.0.0.2",
                                  "0.0.0.0", "10.0.0.5:5000", "sub.localhost", "[::2]"])  # fmt: skip
def test_other_hosts_are_refused_on_every_kind_of_route(app, host):
    client = login(app.test_client(), app)
    for method, path in [("GET", "/"), ("GET", "/login"), ("GET", "/get-all-conversations"),
                         ("POST", "/login"), ("GET", "/static/css/app.css"), ("GET", "/nowhere")]:  # fmt: skip
        response = client.open(path, method=method, json={}, base_url=on(host))
        assert response.status_code == 400, (host, method, path)
        assert response.get_json()["error"]["code"] == "bad_host"


def test_healthz_answers_any_host(app):
    for host in ("evil.example", "10.0.0.5:8000", "127.0.0.1"):
        response = app.test_client().get("/healthz", base_url=on(host))
        assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_the_public_url_and_allowed_hosts_replace_the_loopback_default(make_app):
    app = make_app(
        CHAT_PUBLIC_URL="https://chat.example.com/", CHAT_ALLOWED_HOSTS="intra.example, Other:8443"
    )
    client = app.test_client()
    for host in ("chat.example.com", "chat.example.com:443", "intra.example", "other"):
        assert client.get("/login", base_url=f"https://{host}").status_code == 200, host
    for host in ("localhost", "127.0.0.1", "evil.example", "example.com"):
        response = client.get("/login", base_url=f"https://{host}")
        assert response.status_code == 400, host
    assert client.get("/healthz", base_url="http://127.0.0.1").status_code == 200


def test_behind_a_proxy_the_forwarded_host_is_the_one_checked(make_app):
    app = make_app(CHAT_PUBLIC_URL="https://chat.example.com", CHAT_TRUSTED_PROXIES=1)
    client = app.test_client()
    ok = client.get(
        "/login", base_url="http://127.0.0.1:8000", headers={"X-Forwarded-Host": "chat.example.com"}
    )
    assert ok.status_code == 200
    forged = client.get(
        "/login", base_url="http://127.0.0.1:8000", headers={"X-Forwarded-Host": "evil.example"}
    )
    assert forged.status_code == 400


@pytest.mark.parametrize("value", ["*", "https://chat.example.com", "a.example/x", "*.example"])
def test_allowed_hosts_that_are_not_names_stop_the_app_at_start(make_app, value):
    with pytest.raises(RuntimeError, match="CHAT_ALLOWED_HOSTS"):
        make_app(CHAT_ALLOWED_HOSTS=value)
