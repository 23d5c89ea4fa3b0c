"""Cross-site protection on every state-changing route (S5, S6), CORS (S7) and headers (S9)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, chat, login
from tests.security.conftest import tree_state

ROOT = Path(__file__).resolve().parents[2]
SAFE = {"GET", "HEAD", "OPTIONS"}
ARGS = {
    "cid": "c_nonexistent",
    "share_id": "0" * 16,
    "token": "t" * 43,
    "template_id": "t_nonexistent",
}


def unsafe_routes(app) -> list[tuple[str, str]]:
    """(method, path) for every non-GET rule in the URL map, with placeholder arguments."""
    adapter = app.url_map.bind("localhost")
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - SAFE):
            path = adapter.build(rule.endpoint, {a: ARGS[a] for a in rule.arguments})
            out.append((method, path))
    return out


def test_the_route_list_is_complete(app):
    routes = set(unsafe_routes(app))
    for expected in [
        ("POST", "/chat"),
        ("POST", "/login"),
        ("POST", "/logout"),
        ("POST", "/signup"),
        ("POST", "/account/password"),
        ("PATCH", "/conversations/c_nonexistent"),
        ("DELETE", "/conversations/c_nonexistent"),
        ("POST", "/conversations/c_nonexistent/share"),
        ("DELETE", "/shares/0000000000000000"),
    ]:
        assert expected in routes


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://localhost.evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://localhost", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_site_requests_are_refused_on_every_route(client, app, headers):
    for method, path in unsafe_routes(app):
        response = client.open(path, method=method, json={"message": "x"}, headers=headers)
        assert response.status_code == 403, (method, path, response.data)
        assert response.get_json()["error"]["code"] == "cross_site", (method, path)


def test_simple_bodies_are_refused_on_every_route(client, app):
    for method, path in unsafe_routes(app):
        plain = client.open(path, method=method, data='{"message": "x"}', content_type="text/plain")
        assert plain.status_code == 415, (method, path)
        assert plain.get_json()["error"]["code"] == "unsupported_media_type"
        for form in [{"message": "x"}, {"message": "x", "csrf_token": "forged"}]:
            response = client.open(path, method=method, data=form)
            assert response.status_code == 403, (method, path, form)
            assert response.get_json()["error"]["code"] == "csrf_failed"
        multipart = client.open(
            path, method=method, data={"message": "x"}, content_type="multipart/form-data"
        )
        assert multipart.status_code == 403, (method, path)


def test_same_origin_json_needs_no_token_and_a_form_needs_the_pages_token(client, app):
    created = chat(client, message="hello")[0].data
    cid = created["conversation_id"]
    response = client.patch(
        f"/conversations/{cid}",
        json={"chat_name": "renamed"},
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 200 and response.get_json()["chat_name"] == "renamed"
    # The page's token makes a form acceptable (here: the logout form).
    page = client.get("/")
    token = page.data.decode().split('name="csrf-token" content="')[1].split('"')[0]
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/account").status_code == 401


def test_public_url_decides_the_own_host(make_app):
    app = make_app(CHAT_PUBLIC_URL="https://chat.example.com")
    app.extensions["accounts"].create_user("alice", PASSWORD)
    client = app.test_client()
    public = "https://chat.example.com"  # the Host rule: only the public host is answered
    logged_in = client.post(
        "/login", json={"username": "alice", "password": PASSWORD}, base_url=public
    )
    assert logged_in.status_code == 200
    ok = client.patch(
        "/conversations/c_x",
        json={"chat_name": "n"},
        headers={"Origin": "https://chat.example.com"},
        base_url=public,
    )
    assert ok.status_code == 404  # passed the guard; the conversation does not exist
    bad = client.patch(
        "/conversations/c_x",
        json={"chat_name": "n"},
        headers={"Origin": "http://localhost"},
        base_url=public,
    )
    assert bad.status_code == 403


def test_no_get_route_changes_state(two_users, data_dir):
    app, a = two_users.app, two_users.a
    share = a.post(f"/conversations/{two_users.cid}/share", json={}).get_json()
    values = {
        "cid": two_users.cid,
        "share_id": share["share_id"],
        "token": share["token"],
        "filename": "css/app.css",
        "template_id": "t_nonexistent",
        "aid": "att_" + "0" * 24,
    }
    adapter = app.url_map.bind("localhost")
    # The search index is derived data, built on the first read (API "Search"): a repair on read
    # is not a user action. Once built, no GET may change it or anything else.
    assert a.get("/search?q=hello").status_code == 200
    before = tree_state(data_dir)
    seen = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()):
            continue
        path = adapter.build(rule.endpoint, {k: values[k] for k in rule.arguments})
        query = {"conversation_id": two_users.cid} if rule.endpoint == "chat.get_chat" else None
        response = a.get(path, query_string=query)
        assert response.status_code < 500, (path, response.data)
        seen.append(rule.endpoint)
        assert tree_state(data_dir) == before, path
    assert {
        "chat.get_chat",
        "chat.list_conversations",
        "chat.events",
        "shares.share_page",
        "chat.index",
    } <= set(seen)


def test_no_state_changing_method_is_reachable_by_get(client, app):
    for _, path in unsafe_routes(app):
        if path in ("/login", "/chat"):  # GET /login is the page; GET /chat reads
            continue
        assert client.get(path).status_code in (404, 405, 401, 200), path
    assert client.get("/logout").status_code == 405
    assert client.get("/conversations/c_nonexistent/stop").status_code == 405
    assert client.get("/account/password").status_code == 405


def test_no_force_true_in_the_code():
    offenders = []
    for path in ROOT.glob("*.py"):
        if "force=True" in path.read_text():
            offenders.append(path.name)
    for package in ("conversation_manager",):
        for path in (ROOT / package).rglob("*.py"):
            if "force=True" in path.read_text():
                offenders.append(str(path))
    assert offenders == []


def page_token(client) -> str:
    page = client.get("/")
    return page.data.decode().split('name="csrf-token" content="')[1].split('"')[0]


def test_the_csrf_header_is_checked_for_any_non_json_request(client):
    token = page_token(client)
    # The header alone makes a form acceptable ...
    ok = client.post("/logout", data={"x": "1"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 302
    login(client, client.application)
    token = page_token(client)
    # ... a wrong header is refused even when the field is right (the header is checked first) ...
    for data, content_type in [
        ({"csrf_token": token}, None),
        ({"csrf_token": token}, "multipart/form-data"),
        ("x", "text/plain"),
        (None, None),  # no body at all
    ]:
        response = client.post(
            "/logout", data=data, content_type=content_type, headers={"X-CSRF-Token": "forged"}
        )
        assert response.status_code == 403, (data, content_type)
        assert response.get_json()["error"]["code"] == "csrf_failed"
    assert client.get("/account").status_code == 200  # still logged in
    # ... and a right header does not make a body other than JSON or a form acceptable.
    plain = client.post(
        "/logout", data="x", content_type="text/plain", headers={"X-CSRF-Token": token}
    )
    assert plain.status_code == 415


def test_a_wrong_csrf_header_refuses_an_upload_before_reading_it(client, monkeypatch):
    from werkzeug.wrappers import Request

    read = []
    real = Request._load_form_data  # type: ignore[attr-defined]

    def spy(self):
        read.append(self.path)
        return real(self)

    monkeypatch.setattr(Request, "_load_form_data", spy)
    big = b"x" * (3 * 1024 * 1024)  # over CHAT_MAX_BODY_BYTES: reading it would be a 413
    response = client.post(
        "/conversations/c_x/share",
        data={"file": (io.BytesIO(big), "a.png")},
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": "forged"},
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert read == []


def test_same_origin_json_needs_no_token_whatever_the_header(client):
    for headers in ({}, {"X-CSRF-Token": "stale"}):
        response = client.post("/chat", json={"message": "hi"}, headers=headers)
        assert response.status_code == 200, headers
        response.close()
