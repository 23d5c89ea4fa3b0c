"""HTTPS through the cancellable transport: a normal stream, a stop mid-stream and during the handshake."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from responses_client import CancelToken, Finished, OpenAIProvider, ResponseRequest, TextDelta
from tests.fake_upstream import FakeUpstream

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def req() -> ResponseRequest:
    return ResponseRequest("gpt-test", "hi", "Be brief.")


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    d = tmp_path_factory.mktemp("tls")
    crt, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(crt),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return crt, key


@pytest.fixture
def tls_fake(cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeUpstream]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # the client trusts the test certificate
    fake = FakeUpstream(tls=ctx).start()
    yield fake
    fake.stop()


def test_https_stream_and_connection_reuse(tls_fake: FakeUpstream) -> None:
    assert tls_fake.base_url.startswith("https://")
    p = OpenAIProvider("k", base_url=tls_fake.base_url)
    try:
        for _ in range(3):
            events = list(p.stream(req()))
            assert isinstance(events[-1], Finished)
            assert (
                "".join(e.text for e in events if isinstance(e, TextDelta))
                == "Hello! How can I help?"
            )
    finally:
        p.close()


def test_https_stop_mid_stream(tls_fake: FakeUpstream) -> None:
    tls_fake.n_deltas = 400
    tls_fake.delta_delay = 0.01
    p = OpenAIProvider("k", base_url=tls_fake.base_url)
    token = CancelToken()
    seen: list[object] = []
    errors: list[BaseException] = []
    got_text = threading.Event()

    def consume() -> None:
        try:
            for ev in p.stream(req(), token):
                seen.append(ev)
                if isinstance(ev, TextDelta):
                    got_text.set()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=consume)
    t.start()
    assert got_text.wait(5)
    started = time.monotonic()
    token.cancel()
    t.join(5)
    assert not t.is_alive() and errors == []
    assert time.monotonic() - started < 2
    rec = tls_fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed and not rec.completed
    p.close()


def test_stop_during_the_tls_handshake() -> None:
    # A server that accepts the TCP connection and never answers the ClientHello.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(srv.accept()[0])
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept)
    acceptor.start()
    p = OpenAIProvider(
        "k", base_url=f"https://127.0.0.1:{srv.getsockname()[1]}/v1", connect_timeout=30.0
    )
    token = CancelToken()
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            assert list(p.stream(req(), token)) == []
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=consume)
    t.start()
    end = time.monotonic() + 5
    while not accepted and time.monotonic() < end:
        time.sleep(0.01)
    assert accepted
    time.sleep(0.3)  # the client now waits for the ServerHello
    started = time.monotonic()
    token.cancel()
    t.join(5)
    assert not t.is_alive() and errors == []
    assert time.monotonic() - started < 2
    p.close()
    stop.set()
    acceptor.join(5)
    for s in [*accepted, srv]:
        s.close()


def test_https_stop_before_headers(tls_fake: FakeUpstream) -> None:
    tls_fake.script([{"kind": "silent", "seconds": 25}])
    p = OpenAIProvider("k", base_url=tls_fake.base_url, read_timeout=30.0)
    token = CancelToken()
    out: list[object] = []
    t = threading.Thread(target=lambda: out.extend(p.stream(req(), token)))
    t.start()
    end = time.monotonic() + 5
    while not tls_fake.requests and time.monotonic() < end:
        time.sleep(0.01)
    time.sleep(0.3)
    started = time.monotonic()
    token.cancel()
    t.join(5)
    assert not t.is_alive() and out == []
    assert time.monotonic() - started < 2
    rec = tls_fake.requests[0]
    assert rec.wait_done(5) and rec.client_closed
    p.close()
