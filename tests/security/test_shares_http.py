"""Share links over HTTP (S16): create, view, list, revoke, delete-revokes, headers, other workers."""

from __future__ import annotations

import json
import logging

from tests.chat.test_in_flight import Browser
from tests.conftest import chat, parse_sse


def test_share_lifecycle(two_users, data_dir, caplog):
    caplog.set_level(logging.DEBUG)
    a, b, cid = two_users.a, two_users.b, two_users.cid
    created = a.post(f"/conversations/{cid}/share", json={})
    assert created.status_code == 201
    share = created.get_json()
    assert set(share) == {"share_id", "url", "token"}
    token = share["token"]
    assert share["url"] == f"/share/{token}" and len(token) == 43
    # Only the token's hash is stored.
    stored = "".join(p.read_text() for p in (data_dir / ".app").rglob("*.json"))
    assert token not in stored

    visitor = two_users.app.test_client()  # not logged in
    page = visitor.get(share["url"])
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "alice&#39;s secret plans" in html or "alice's secret plans" in html
    for owner_detail in ("alice", cid, two_users.assistant_mid, "fake", "gpt"):
        assert owner_detail not in html.replace("alice&#39;s", "").replace("alice's", ""), (
            owner_detail
        )
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in page.headers["X-Robots-Tag"]
    assert page.headers["Cache-Control"] == "no-store"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert visitor.open(share["url"], method=method, json={}).status_code == 405

    listed = a.get(f"/conversations/{cid}/shares").get_json()["shares"]
    assert [s["share_id"] for s in listed] == [share["share_id"]]
    assert "token" not in json.dumps(listed) and token not in json.dumps(listed)
    assert b.get(f"/conversations/{cid}/shares").status_code == 404
    assert b.delete(f"/shares/{share['share_id']}").status_code == 404
    assert visitor.get(share["url"]).status_code == 200

    assert a.delete(f"/shares/{share['share_id']}").status_code == 204
    gone = visitor.get(share["url"])
    assert gone.status_code == 404 and gone.headers["Referrer-Policy"] == "no-referrer"
    assert a.delete(f"/shares/{share['share_id']}").status_code == 404
    assert a.get(f"/conversations/{cid}/shares").get_json() == {"shares": []}
    for bad in ("x" * 43, "short", token[:-1] + ("A" if token[-1] != "A" else "B")):
        assert visitor.get(f"/share/{bad}").status_code == 404
    assert token not in caplog.text


def test_the_snapshot_is_the_branch_on_screen_and_escaped(client):
    first = chat(client, message="first question", chat_name="branches")[0].data
    cid = first["conversation_id"]
    chat(client, message="second question", conversation_id=cid)
    # A new branch from the root: only it is on screen now.
    chat(client, message="edited question", conversation_id=cid, parent_message_id="root")
    share = client.post(f"/conversations/{cid}/share", json={}).get_json()
    html = client.application.test_client().get(share["url"]).get_data(as_text=True)
    assert "edited question" in html
    assert html.count('class="msg msg-user"') == 1  # one user message: the edited branch only
    assert html.count('class="msg msg-assistant"') == 1
    chat(client, message="<b>bold</b><script>x()</script>", conversation_id=cid)
    share = client.post(f"/conversations/{cid}/share", json={}).get_json()
    html = client.application.test_client().get(share["url"]).get_data(as_text=True)
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "<script>x()" not in html
    assert len(client.get(f"/conversations/{cid}/shares").get_json()["shares"]) == 2


def test_deleting_a_conversation_revokes_its_shares(client):
    cid = chat(client, message="to be deleted")[0].data["conversation_id"]
    keep = chat(client, message="kept")[0].data["conversation_id"]
    urls = [client.post(f"/conversations/{cid}/share", json={}).get_json()["url"] for _ in "ab"]
    kept = client.post(f"/conversations/{keep}/share", json={}).get_json()["url"]
    visitor = client.application.test_client()
    assert all(visitor.get(u).status_code == 200 for u in urls)
    assert client.delete(f"/conversations/{cid}").status_code == 204
    assert [visitor.get(u).status_code for u in urls] == [404, 404]
    assert visitor.get(kept).status_code == 200


def test_revocation_is_immediate_in_another_gunicorn_process(gunicorn_pair, app):
    one, two = gunicorn_pair()
    owner = Browser(one.url, app)
    _, _, body = owner.request("POST", "/chat", {"message": "share me"})
    cid = parse_sse(body)[0].data["conversation_id"]
    status, _, body = owner.request("POST", f"/conversations/{cid}/share", {})
    assert status == 201
    share = json.loads(body)
    visitor = Browser.__new__(Browser)  # no account, no cookie
    visitor.host, visitor.port, visitor.cookie = "127.0.0.1", int(two.url.rsplit(":", 1)[1]), None
    status, headers, page = visitor.request("GET", share["url"])
    assert status == 200 and b"share me" in page
    assert headers["Referrer-Policy"] == "no-referrer"
    assert owner.request("DELETE", f"/shares/{share['share_id']}")[0] == 204
    assert visitor.request("GET", share["url"])[0] == 404
    for server in (one, two):
        assert share["token"] not in server.log()


def test_an_unknown_share_link_is_a_page_that_says_so(make_app):
    visitor = make_app().test_client()
    missing = visitor.get("/share/" + "x" * 43)
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert b"This link is not available" in missing.data
    assert missing.headers["Referrer-Policy"] == "no-referrer"
    assert missing.headers["Cache-Control"] == "no-store"


def test_a_trailing_slash_is_the_same_resource_not_a_redirect(two_users):
    a = two_users.a
    assert a.get(f"/chat?conversation_id={two_users.cid}").status_code == 200
    renamed = a.patch(f"/conversations/{two_users.cid}/", json={"chat_name": "Slash"})
    assert renamed.status_code == 200 and renamed.get_json()["chat_name"] == "Slash"
    assert two_users.b.delete(f"/conversations/{two_users.cid}/").status_code == 404
    for path in (f"/conversations/{two_users.cid}//events", "/conversations/0%2F/current"):
        assert a.get(path).status_code in (404, 405)
        assert a.put(path, json={"message_id": two_users.user_mid}).status_code in (404, 405)


def test_a_share_on_a_full_disk_is_507_and_makes_no_share(client, monkeypatch):
    import errno
    import os

    cid = chat(client, message="to share")[0].data["conversation_id"]

    def fail(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as m:
        m.setattr(os, "write", fail)
        response = client.post(f"/conversations/{cid}/share", json={})
    assert response.status_code == 507
    assert response.get_json()["error"]["code"] == "storage_full"
    assert client.get(f"/conversations/{cid}/shares").get_json() == {"shares": []}
