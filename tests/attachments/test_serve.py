"""GET /attachments/ID and GET /share/<token>/attachments/<id>: owner only, safe headers, the
shared branch's files only, no path escapes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.attachments.conftest import image_bytes, upload
from tests.conftest import chat


def test_the_owner_gets_an_image_with_safe_headers(client):
    data = image_bytes("PNG")
    aid = upload(client, data, "a picture.png").get_json()["id"]
    response = client.get(f"/attachments/{aid}")
    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert "filename*=UTF-8''a%20picture.png" in response.headers["Content-Disposition"]
    cache = response.headers["Cache-Control"]
    assert cache.startswith("private") and "public" not in cache
    # Content-addressed: the id is the ETag, and a revalidation is a 304.
    again = client.get(f"/attachments/{aid}", headers={"If-None-Match": f'"{aid}"'})
    assert again.status_code == 304 and again.data == b""


def test_a_text_file_is_served_as_a_download_of_plain_text(client):
    aid = upload(client, b"<script>alert(1)</script>\n", "page.html", "text/html").get_json()["id"]
    response = client.get(f"/attachments/{aid}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_another_users_attachment_is_not_found(client, bob, data_dir):
    aid = upload(client, image_bytes("PNG"), "a.png").get_json()["id"]
    for who in (bob,):
        response = who.get(f"/attachments/{aid}")
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    # The same id with a guessed neighbour, or bob uploading the same content: bob's own copy.
    guessed = aid[:-1] + ("0" if aid[-1] != "0" else "1")
    assert client.get(f"/attachments/{guessed}").status_code == 404
    assert upload(bob, image_bytes("PNG"), "mine.png").get_json()["id"] == aid
    assert bob.get(f"/attachments/{aid}").status_code == 200
    assert (data_dir / "bobby" / ".attachments" / f"{aid}.json").exists()
    assert client.get(f"/attachments/{aid}").status_code == 200  # alice still has hers


def test_no_login_no_attachment(app, client):
    aid = upload(client, b"secret\n", "s.txt").get_json()["id"]
    assert app.test_client().get(f"/attachments/{aid}").status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/attachments/..%2F..%2Fbobby%2F.attachments%2Fx",
        "/attachments/..",
        "/attachments/att_..%2f..%2fbobby",
        "/attachments/ATT_0123456789ABCDEF01234567",
        "/attachments/att_0123456789abcdef0123456",
        "/attachments/att_0123456789abcdef012345678",
        "/attachments/%2Fetc%2Fpasswd",
        "/attachments/{sha}",
        "/attachments/{id}.json",
        "/attachments/.lock",
    ],
)
def test_no_path_escapes_through_the_id(client, bob, path):
    data = b"bob's secret\n"
    sha = hashlib.sha256(data).hexdigest()
    upload(bob, data, "s.txt")
    response = client.get(path.format(sha=sha, id="att_" + sha[:24]))
    assert response.status_code == 404
    assert b"secret" not in response.data


def test_the_store_refuses_ids_of_the_wrong_shape(app, client, data_dir):
    import conversation_manager as cm
    from conversation_manager.json.attachments import JsonAttachmentStore

    upload(client, b"hello\n", "h.txt")
    store = JsonAttachmentStore(data_dir)
    sha = hashlib.sha256(b"hello\n").hexdigest()
    for bad in ("../alice/.attachments/" + sha, sha, "att_" + sha[:24] + "/..", "", "att_"):
        assert store.get("alice", bad) is None
        with pytest.raises(cm.NotFound):
            store.read("alice", bad)
        assert store.read_variant("alice", bad, "x") is None
    with pytest.raises(cm.InvalidId):
        store.get("../alice", "att_" + sha[:24])
    with pytest.raises(ValueError):
        store.read_variant("alice", "att_" + sha[:24], "../x")


def _attach(data_dir: Path, user: str, cid: str, message_id: str, attachment: dict) -> None:
    """Put an attachment reference on a stored user message (the turn's own work, done by hand)."""
    path = data_dir / user / f"{cid}.json"
    record = json.loads(path.read_text())
    for message in record["messages"]:
        if message["id"] == message_id:
            message.setdefault("attachments", []).append(attachment)
    path.write_text(json.dumps(record))


def _share(client: Any, cid: str) -> str:
    response = client.post(f"/conversations/{cid}/share")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


@pytest.fixture
def shared(client, data_dir):
    """A conversation with two branches, an image on each; the second branch shared."""
    first = upload(client, image_bytes("PNG", (10, 10)), "first.png").get_json()
    second = upload(client, image_bytes("GIF", (12, 12)), "second.gif").get_json()
    other = upload(client, b"never shared\n", "other.txt").get_json()
    frames = chat(client, message="one")
    cid = frames[0].data["conversation_id"]
    _attach(data_dir, "alice", cid, frames[0].data["user_message_id"], first)
    frames = chat(client, message="two", conversation_id=cid, parent_message_id="root")
    _attach(data_dir, "alice", cid, frames[0].data["user_message_id"], second)
    token = _share(client, cid)
    return {"cid": cid, "token": token, "first": first, "second": second, "other": other}


def test_the_snapshot_keeps_the_branchs_attachment_references(client, app, shared):
    snapshot = app.extensions["shares"].get(shared["token"])
    listed = [a for m in snapshot["messages"] for a in m.get("attachments", [])]
    assert listed == [{k: shared["second"][k] for k in ("id", "kind", "name", "media_type")}]


def test_a_share_serves_only_its_branchs_attachments(client, bob, shared):
    token = shared["token"]
    ok = client.get(f"/share/{token}/attachments/{shared['second']['id']}")
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "image/gif"
    assert ok.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert ok.headers["X-Content-Type-Options"] == "nosniff"
    assert ok.headers["Referrer-Policy"] == "no-referrer"
    # The other branch's image and a file never shared are not reachable through the share.
    for key in ("first", "other"):
        assert client.get(f"/share/{token}/attachments/{shared[key]['id']}").status_code == 404
    # Nor through a wrong token, nor bob's own copy of the same content.
    assert client.get(f"/share/{'x' * 43}/attachments/{shared['second']['id']}").status_code == 404
    assert bob.get(f"/attachments/{shared['second']['id']}").status_code == 404


def test_a_revoked_share_serves_nothing(client, shared):
    token = shared["token"]
    url = f"/share/{token}/attachments/{shared['second']['id']}"
    assert client.get(url).status_code == 200
    assert client.delete(f"/shares/{token}").status_code == 204
    assert client.get(url).status_code == 404


def test_a_share_serves_its_attachments_without_a_login(app, shared):
    anonymous = app.test_client()
    url = f"/share/{shared['token']}/attachments/{shared['second']['id']}"
    response = anonymous.get(url)
    assert response.status_code == 200
    assert (
        anonymous.get(f"/share/{shared['token']}/attachments/{shared['first']['id']}").status_code
        == 404
    )
