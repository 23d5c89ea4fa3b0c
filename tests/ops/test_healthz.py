"""`/healthz` (API "Operations"): 200 while the data directory can be written, 503
`data_dir_not_writable` (no path) when it cannot, without a login or a host check."""

from __future__ import annotations

import time

from app.observe import DataDirProbe


def test_healthz_is_ok_without_a_session_or_a_known_host(make_app):
    client = make_app().test_client()
    response = client.get("/healthz", headers={"Host": "probe.internal"})
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_healthz_is_503_when_the_data_dir_cannot_be_written(make_app, data_dir, tmp_path):
    app = make_app()
    client = app.test_client()
    app.extensions["services"].ops.health.ttl = 0  # probe on every request here
    assert client.get("/healthz").status_code == 200
    # Root may write anywhere whatever the mode bits say: a file where the directory was stops
    # every writer.
    moved = tmp_path / "moved"
    data_dir.rename(moved)
    data_dir.write_text("not a directory")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "reason": "data_dir_not_writable"}
    assert str(data_dir) not in response.get_data(as_text=True)
    data_dir.unlink()
    moved.rename(data_dir)
    assert client.get("/healthz").status_code == 200
    assert not [p for p in (data_dir / ".app").iterdir() if p.name.startswith(".healthz")]


def test_the_probe_keeps_its_answer_for_its_ttl(tmp_path, monkeypatch):
    probe = DataDirProbe(tmp_path, ttl=3600)
    assert probe.writable()
    calls = []
    monkeypatch.setattr(probe, "_probe", lambda: calls.append(1) or False)
    for _ in range(100):
        assert probe.writable()  # no disk work per request
    assert calls == []
    probe.ttl = 0
    time.sleep(0.001)
    assert not probe.writable() and calls == [1]
