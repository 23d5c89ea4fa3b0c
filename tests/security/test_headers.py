"""Security headers on every response (S9), CORS only for listed origins (S7), and the old app's
`static/chats/` never served."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import login

STATIC = Path(__file__).resolve().parents[2] / "static"
EVIL = "https://evil.example"
FRIEND = "https://friend.example"


def check_headers(response, what: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives.get("script-src") == "script-src 'self'", (what, csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, what
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", what
    assert directives.get("object-src") == "object-src 'none'", what
    assert directives.get("base-uri") == "base-uri 'none'", what
    assert directives.get("form-action") == "form-action 'self'", what
    assert response.headers.get("X-Content-Type-Options") == "nosniff", what
    assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), what
    assert "Access-Control-Allow-Origin" not in response.headers, what


def test_headers_on_every_html_and_json_response(two_users):
    a, b = two_users.a, two_users.b
    share = a.post(f"/conversations/{two_users.cid}/share", json={}).get_json()
    anonymous = two_users.app.test_client()
    responses = {
        "index": a.get("/"),
        "login page": anonymous.get("/login"),
        "login redirect": anonymous.get("/"),
        "healthz": anonymous.get("/healthz"),
        "401": anonymous.get("/get-all-conversations"),
        "list": a.get("/get-all-conversations"),
        "chat": a.get("/chat", query_string={"conversation_id": two_users.cid}),
        "404 foreign": b.get("/chat", query_string={"conversation_id": two_users.cid}),
        "404 route": a.get("/no-such-page"),
        "405": a.get("/logout"),
        "415": a.post("/chat", data="x", content_type="text/plain"),
        "403": a.post("/chat", json={"message": "x"}, headers={"Origin": EVIL}),
        "events": a.get(f"/conversations/{two_users.cid}/events"),
        "share page": anonymous.get(share["url"]),
        "share 404": anonymous.get("/share/" + "x" * 43),
        "static": anonymous.get("/static/css/app.css"),
    }
    for what, response in responses.items():
        check_headers(response, what)
        if response.mimetype == "application/json":
            assert response.headers.get("Cache-Control") == "no-store", what
    assert responses["share page"].headers["Referrer-Policy"] == "no-referrer"
    html = responses["index"].data.decode() + responses["share page"].data.decode()
    # No inline script anywhere: every <script> has a src.
    for chunk in html.split("<script")[1:]:
        assert chunk.split(">")[0].strip().startswith(("src=", 'type="module" src=')), chunk[:80]
    assert " on" + "click=" not in html and "javascript:" not in html


def test_no_cors_headers_without_configuration(client):
    response = client.get("/get-all-conversations", headers={"Origin": EVIL})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Credentials" not in response.headers
    pre = client.options("/chat", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in pre.headers


def test_cors_only_for_listed_origins(make_app):
    app = make_app(CHAT_CORS_ORIGINS=f"{FRIEND}, http://localhost:3000/")
    client = login(app.test_client(), app)
    pre = app.test_client().options(
        "/chat",
        headers={
            "Origin": FRIEND,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == FRIEND
    assert pre.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in pre.headers["Access-Control-Allow-Headers"]

    listed = client.get("/get-all-conversations", headers={"Origin": "http://localhost:3000"})
    assert listed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "Origin" in listed.headers["Vary"]

    for origin in (EVIL, "https://friend.example.evil.example", "null", "http://friend.example"):
        response = client.get("/get-all-conversations", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in response.headers, origin
        pre = app.test_client().options(
            "/chat", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        assert pre.status_code == 403 and "Access-Control-Allow-Origin" not in pre.headers
        refused = client.post("/chat", json={"message": "hi"}, headers={"Origin": origin})
        assert refused.status_code == 403

    # A listed origin passes the cross-site guard (a browser sends Sec-Fetch-Site: cross-site).
    frames = client.post(
        "/chat",
        json={"message": "hi"},
        headers={"Origin": FRIEND, "Sec-Fetch-Site": "cross-site"},
    )
    assert frames.status_code == 200 and frames.headers["Access-Control-Allow-Origin"] == FRIEND
    frames.close()
    # ... but still needs JSON: a simple text/plain body stays refused.
    plain = client.post("/chat", data="{}", content_type="text/plain", headers={"Origin": FRIEND})
    assert plain.status_code == 415


@pytest.mark.parametrize("value", ["*", "https://a.example/path", "friend.example"])
def test_cors_wildcards_and_non_origins_are_refused_at_start(make_app, value):
    with pytest.raises(RuntimeError, match="CHAT_CORS_ORIGINS"):
        make_app(CHAT_CORS_ORIGINS=value)


def test_old_static_chats_are_never_served(app):
    chats = STATIC / "chats"
    created_dir = not chats.exists()
    name = f"planted-{uuid.uuid4().hex}.json"
    planted = chats / name
    chats.mkdir(exist_ok=True)
    try:
        planted.write_text('{"thread_id": "thread_secret"}')
        client = app.test_client()
        variants = [
            f"/static/chats/{name}",
            f"/static/chats/{name.replace('.json', '%2ejson')}",
            f"/static/%63hats/{name}",
            f"/static/./chats/{name}",
            f"/static/css/../chats/{name}",
            f"/static/css/%2e%2e/chats/{name}",
            f"/static/CHATS/{name}",
            f"/static//chats/{name}",
            f"/static/chats%2f{name}",
            "/static/chats/",
            "/static/chats",
        ]
        for path in variants:
            response = client.get(path, follow_redirects=True)
            assert response.status_code == 404, (path, response.status_code)
            assert b"thread_secret" not in response.data, path
        assert client.get("/static/css/app.css").status_code == 200  # other files still served
    finally:
        planted.unlink(missing_ok=True)
        if created_dir:
            chats.rmdir()
