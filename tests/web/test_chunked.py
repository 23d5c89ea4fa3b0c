"""Chunked request bodies (issue 10, item 14) work under both servers the README names, the
werkzeug development server and gunicorn, within the body size limit; over it is 413."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, parse_sse
from tests.security.conftest import start_gunicorn, stop_gunicorn

LIMIT = 4096


def chunked_request(
    url: str, path: str, body: bytes, *, cookie: str = "", piece: int = 7
) -> tuple[int, dict[str, str], bytes]:
    """Send `body` in `piece`-byte chunks over a raw socket; return status, headers, body."""
    parts = urlsplit(url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\nConnection: close\r\n"
        + (f"Cookie: {cookie}\r\n" if cookie else "")
        + "\r\n"
    ).encode()
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + piece]), body[i : i + piece])
        for i in range(0, len(body), piece)
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head + chunks + b"0\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    header_block, _, content = raw.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        headers[name.lower()] = value
    if headers.get("transfer-encoding", "").lower() == "chunked":
        content = dechunk(content)
    return int(lines[0].split()[1]), headers, content


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return out


def exercise(url: str) -> None:
    """Sign up, log in, run a turn and hit the size limit, every body chunked."""
    credentials = json.dumps({"username": "alice", "password": PASSWORD}).encode()
    status, headers, body = chunked_request(url, "/signup", credentials)
    assert status == 201, body
    status, headers, body = chunked_request(url, "/login", credentials, piece=1)
    assert status == 200 and json.loads(body) == {"username": "alice"}, body
    cookie = headers["set-cookie"].split(";")[0]
    status, headers, body = chunked_request(
        url, "/chat", json.dumps({"message": "hello"}).encode(), cookie=cookie
    )
    assert status == 200, body
    frames = parse_sse(body)
    assert frames[0].event == "conversation" and frames[-1].event == "done"
    big = json.dumps({"message": "x" * (2 * LIMIT)}).encode()
    status, _, body = chunked_request(url, "/chat", big, cookie=cookie, piece=1000)
    assert status == 413, body
    assert json.loads(body)["error"]["code"] == "body_too_large"


@pytest.fixture
def dev_server(make_app) -> Iterator[str]:
    app = make_app(CHAT_MAX_BODY_BYTES=LIMIT)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def test_chunked_bodies_under_the_werkzeug_server(dev_server):
    exercise(dev_server)


def test_chunked_bodies_under_gunicorn(data_dir: Path, upstream, tmp_path: Path):
    server = start_gunicorn(
        data_dir, upstream.base_url, tmp_path / "gunicorn.log", CHAT_MAX_BODY_BYTES=str(LIMIT)
    )
    try:
        exercise(server.url)
    finally:
        stop_gunicorn(server)
