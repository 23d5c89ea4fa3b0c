"""POST /attachments: the type from the content, Pillow's checks, the text rules, the limits."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import threading
from urllib.parse import urlsplit

import pytest
from PIL import Image, ImageFile
from werkzeug.serving import make_server

from app.attachments import checks
from tests.attachments.conftest import (
    image_bytes,
    noisy_png,
    page_token,
    png_header_only,
    upload,
)
from tests.conftest import login


@pytest.mark.parametrize(
    ("fmt", "name", "media_type"),
    [
        ("PNG", "a.png", "image/png"),
        ("JPEG", "a.jpg", "image/jpeg"),
        ("WEBP", "a.webp", "image/webp"),
        ("GIF", "a.gif", "image/gif"),
    ],
)
def test_images_are_accepted_with_their_dimensions(client, data_dir, fmt, name, media_type):
    data = image_bytes(fmt, (41, 23))
    response = upload(client, data, name, media_type)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    sha = hashlib.sha256(data).hexdigest()
    assert body == {
        "id": "att_" + sha[:24],
        "kind": "image",
        "name": name,
        "media_type": media_type,
        "bytes": len(data),
        "width": 41,
        "height": 23,
    }
    # Content-addressed, in the uploader's directory, with its metadata beside it.
    assert (data_dir / "alice" / ".attachments" / sha).read_bytes() == data
    meta = json.loads((data_dir / "alice" / ".attachments" / f"{body['id']}.json").read_text())
    assert meta["sha256"] == sha and meta["attachment"]["media_type"] == media_type


def test_the_same_content_twice_is_one_file(client, data_dir):
    data = image_bytes("PNG")
    first = upload(client, data, "one.png").get_json()
    second = upload(client, data, "two.png").get_json()
    assert first["id"] == second["id"] and second["name"] == "two.png"
    files = [p.name for p in (data_dir / "alice" / ".attachments").iterdir()]
    assert sorted(f for f in files if not f.startswith(".")) == sorted(
        [f"{first['id']}.json", hashlib.sha256(data).hexdigest()]
    )


def _noisy(fmt: str) -> bytes:
    image = Image.frombytes("RGB", (300, 200), os.urandom(300 * 200 * 3))
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("PNG", "cut.png"), ("JPEG", "cut.jpg"), ("GIF", "cut.gif"), ("WEBP", "cut.webp")],
)
def test_a_truncated_image_is_refused(client, fmt, name):
    data = noisy_png((300, 200)) if fmt == "PNG" else _noisy(fmt)
    response = upload(client, data[: len(data) * 2 // 3], name)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_attachment"
    assert (fmt if fmt != "WEBP" else "WebP") in error["message"] and (
        "truncated" in error["message"] or "damaged" in error["message"]
    )


def test_a_damaged_png_is_refused(client):
    data = bytearray(image_bytes("PNG", (60, 60)))
    data[40:48] = b"\xff" * 8  # inside the IDAT chunk: its checksum no longer matches
    response = upload(client, bytes(data), "bad.png")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_attachment"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("photo.png", None), ("photo.png", "image/png"), ("notes.txt", "image/jpeg")],
)
def test_a_file_claiming_to_be_an_image_that_is_not_one_is_refused(client, name, content_type):
    response = upload(client, b"just some text, not pixels\n", name, content_type)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_attachment"
    assert "named or sent as an image" in error["message"]


def test_the_type_comes_from_the_content_not_the_name(client):
    data = image_bytes("PNG", (8, 9))
    response = upload(client, data, "readme.txt", "text/plain")
    assert response.status_code == 201
    body = response.get_json()
    assert (body["kind"], body["media_type"], body["width"], body["height"]) == (
        "image",
        "image/png",
        8,
        9,
    )


@pytest.mark.parametrize("edge", [8000, 20000])  # over our limit; also over Pillow's own guard
def test_a_huge_image_is_refused_from_its_header_without_decoding(client, monkeypatch, edge):
    decoded = []
    real_load = ImageFile.ImageFile.load

    def spy(self):  # type: ignore[no-untyped-def]
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    data = png_header_only(edge, edge)
    assert len(data) < 100
    response = upload(client, data, "bomb.png")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_attachment"
    assert "pixels" in error["message"] and "40,000,000" in error["message"]
    if edge == 8000:
        assert "8000x8000" in error["message"]
    assert decoded == []


def test_the_pixel_limit_is_a_setting(make_app):
    app = make_app(CHAT_IMAGE_MAX_PIXELS=100)
    client = login(app.test_client(), app)
    assert upload(client, image_bytes("PNG", (10, 10)), "ok.png").status_code == 201
    refused = upload(client, image_bytes("PNG", (11, 10)), "big.png")
    assert refused.status_code == 400 and "11x10" in refused.get_json()["error"]["message"]


def test_text_files_are_accepted(client):
    text = "# Notes\n\nnaïve café ```code```\n".encode()
    response = upload(client, text, "notes.md", "application/octet-stream")
    assert response.status_code == 201
    body = response.get_json()
    assert body["kind"] == "text" and body["media_type"] == "text/markdown"
    assert body["bytes"] == len(text) and "width" not in body
    plain = upload(client, b"def f():\n    return 1\n", "x.py").get_json()
    assert (plain["kind"], plain["media_type"]) == ("text", "text/plain")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x00\x01\x02binary\x00data", "binary"),
        (bytes(range(128, 256)) * 4, "neither an image"),
        (b"PK\x03\x04" + b"\x00" * 60, "binary"),  # a zip
        (b"%PDF-1.7\n\xe2\xe3\xcf\xd3\n", "neither an image"),
    ],
)
def test_binary_files_are_refused(client, data, words):
    response = upload(client, data, "file.bin")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_attachment" and words in error["message"]


def test_a_text_file_over_its_limit_is_refused(make_app):
    app = make_app(CHAT_TEXT_ATTACHMENT_MAX_BYTES=1000)
    client = login(app.test_client(), app)
    assert upload(client, b"a" * 1000, "ok.txt").status_code == 201
    response = upload(client, b"a" * 1001, "long.txt")
    assert response.status_code == 400
    assert "1,000 bytes" in response.get_json()["error"]["message"]


def test_an_empty_file_or_no_file_is_refused(client):
    empty = upload(client, b"", "empty.txt")
    assert empty.status_code == 400 and empty.get_json()["error"]["code"] == "bad_attachment"
    none = client.post(
        "/attachments",
        data={"other": "x"},
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": page_token(client)},
    )
    assert none.status_code == 400 and none.get_json()["error"]["code"] == "bad_request"


def test_the_name_loses_its_path_parts(client):
    body = upload(client, b"hello\n", "../../etc/pass\x00wd.txt").get_json()
    assert body["name"] == "passwd.txt"
    long_name = "x" * 300 + ".txt"
    assert upload(client, b"hello again\n", long_name).get_json()["name"] == "x" * 196 + ".txt"


def test_the_name_loses_c1_controls_and_bidi_overrides():
    # U+202E (RIGHT-TO-LEFT OVERRIDE) makes "photo\u202egnp.exe" read "photoexe.png" on a page.
    assert checks.clean_name("photo\u202egnp.exe") == "photognp.exe"
    assert checks.clean_name("a\x85b\x9fc\u200bd\u2066e\ufeff.txt") == "abcde.txt"
    assert checks.clean_name("\u202e\u200f") == "file"


def test_the_upload_has_its_own_body_limit(make_app):
    # The app's body limit is far below the file: the upload route raises its own.
    app = make_app(CHAT_MAX_BODY_BYTES=20_000, CHAT_ATTACHMENT_MAX_BYTES=400_000)
    client = login(app.test_client(), app)
    data = noisy_png((200, 200))
    assert 100_000 < len(data) < 400_000
    response = upload(client, data, "noise.png")
    assert response.status_code == 201, response.get_json()
    # Other routes keep the app's limit.
    big = client.post("/chat", json={"message": "x" * 30_000})
    assert big.status_code == 413


def test_an_oversized_body_is_413_naming_the_limit(make_app):
    app = make_app(CHAT_ATTACHMENT_MAX_BYTES=50_000)
    client = login(app.test_client(), app)
    data = noisy_png((200, 200))  # ~120 KB: over the limit plus the form's allowance
    response = upload(client, data, "noise.png")
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "body_too_large" and "50,000 bytes" in error["message"]
    assert error["limit_bytes"] == 50_000
    # A file over the limit in a body within the allowance is refused the same way.
    near = upload(client, b"a" * 50_001, "a.txt")
    assert near.status_code == 413 and near.get_json()["error"]["code"] == "body_too_large"


def test_the_quota_is_413(make_app, data_dir):
    app = make_app(CHAT_ATTACHMENT_QUOTA_BYTES=3000)
    client = login(app.test_client(), app)
    assert upload(client, b"a" * 2000, "one.txt").status_code == 201
    again = upload(client, b"a" * 2000, "same.txt")  # the same content takes no more room
    assert again.status_code == 201
    response = upload(client, b"b" * 1500, "two.txt")
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "body_too_large" and "3,000 bytes" in error["message"]
    # Another user has a quota of their own.
    other = login(app.test_client(), app, "bobby")
    assert upload(other, b"b" * 1500, "two.txt").status_code == 201


def test_an_upload_needs_a_login_and_the_csrf_token(app, client):
    anonymous = app.test_client()
    # A logged-out page still holds the session's CSRF token (the login page's): the upload
    # passes the CSRF guard and is refused as the API says of every logged-out JSON call.
    login_page = anonymous.get("/login").data.decode()
    token = login_page.split('name="csrf_token" value="')[1].split('"')[0]
    response = anonymous.post(
        "/attachments",
        data={"file": (io.BytesIO(b"hi"), "a.txt")},
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"
    # Without any token the CSRF guard answers first.
    tokenless = anonymous.post("/attachments", data={"file": (io.BytesIO(b"hi"), "a.txt")})
    assert tokenless.status_code == 403 and tokenless.get_json()["error"]["code"] == "csrf_failed"
    forged = client.post(
        "/attachments",
        data={"file": (__import__("io").BytesIO(b"hi"), "a.txt")},
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": "forged"},
    )
    assert forged.status_code == 403 and forged.get_json()["error"]["code"] == "csrf_failed"
    field = client.post(
        "/attachments",
        data={"file": (__import__("io").BytesIO(b"hi"), "a.txt"), "csrf_token": page_token(client)},
        content_type="multipart/form-data",
    )
    assert field.status_code == 201


def _chunked_post(url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST `body` chunked over a raw socket (the test client always sends a Content-Length)."""
    parts = urlsplit(url)
    head = f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTransfer-Encoding: chunked\r\n"
    head += "Connection: close\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    piece = 16384
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + piece]), body[i : i + piece])
        for i in range(0, len(body), piece)
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n" + chunks + b"0\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    status_line, _, rest = raw.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_a_chunked_upload_gets_the_uploads_limit_too(make_app):
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    app = make_app(CHAT_MAX_BODY_BYTES=20_000, CHAT_ATTACHMENT_MAX_BYTES=400_000)
    client = login(app.test_client(), app)
    token = page_token(client)  # before reading the cookie: the page puts the token in the session
    cookie = client.get_cookie("chat_session")
    headers = {"Cookie": f"chat_session={cookie.value}", "X-CSRF-Token": token}
    data = noisy_png((200, 200))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        for payload, status in ((data, 201), (data * 4, 413)):
            upload_file = FileStorage(io.BytesIO(payload), filename="noise.png")
            boundary, body = encode_multipart({"file": upload_file})
            kind = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
            got, answer = _chunked_post(url, "/attachments", body, headers | kind)
            assert got == status, answer
            if status == 413:
                assert b"400,000 bytes" in answer
    finally:
        server.shutdown()
        thread.join(5)
