"""Metrics (API "Operations"): what a turn counts, bounded labels, the open-stream gauge summed
over live processes, the import order that multiprocess mode needs, and `/metrics`' 404s.

Anything that records metrics runs in a fresh process (prometheus_client's mode is chosen once
per process); the 404s run in this one.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import responses_client as rc
from app.observe.setup import known_model, known_provider
from responses_client.adapters.fake import FakeProvider
from responses_client.registry import ModelInfo, ProviderSettings
from tests.conftest import chat, login
from tests.ops.promtext import run_python, total, value

TOKEN = "metrics-token-for-tests-5d1e"

COUNT_TURNS = """
    from pathlib import Path
    import os, sys
    from app.observe import multiproc
    path = multiproc.prepare(Path(os.environ["DATA"]))
    from app.observe.metrics import Metrics, multiprocess_mode
    from app.observe import TurnReport
    assert multiprocess_mode()
    m = Metrics(
        path, "t",
        known_provider=lambda p: p in ("openai", "gemini"),
        known_model=lambda p, m: (p, m) in (("openai", "gpt-a"), ("gemini", "gem-a")),
    )
    def report(**kw):
        base = dict(user="u", conversation_id="c", message_id="m", provider="openai",
                    model="gpt-a", context_mode="chained", status="completed", error_code=None,
                    usage=None, cost_usd=None, latency_ms={"first_token": 300, "total": 900})
        base.update(kw)
        return TurnReport(**base)
    m.turn_finished(report(usage={"input_tokens": 10, "cached_tokens": 4, "cache_write_tokens": 2,
                                  "output_tokens": 5, "reasoning_tokens": 3, "total_tokens": 15},
                           cost_usd=0.25))
    m.turn_finished(report(model="a model name someone typed", cost_usd=0.5))
    m.turn_finished(report(provider="not-configured", model="gpt-a"))
    m.turn_finished(report(
        provider="gemini", model="gem-a",
        fallback_from=[{"provider": "openai", "model": "gpt-a", "code": "rate_limited"},
                       {"provider": "openai", "model": "big", "code": "context_too_long"}],
    ))
    m.turn_finished(report(status="failed", error_code="upstream_auth",
                           upstream_error="upstream_auth", latency_ms={"first_token": None}))
    m.turn_finished(report(status="failed", error_code="x", upstream_error="Not A Code!"))
    sys.stdout.write(m.render().decode())
"""


def test_a_turn_counts_its_status_tokens_cost_errors_and_first_text(tmp_path):
    text = run_python(COUNT_TURNS, {"DATA": str(tmp_path), "PROMETHEUS_MULTIPROC_DIR": None})
    turns = "chat_turns_total"
    assert value(text, turns, provider="openai", model="gpt-a", status="completed") == 1
    # A model neither configured nor cached, and a provider not configured, are `other`.
    assert value(text, turns, provider="openai", model="other", status="completed") == 1
    assert value(text, turns, provider="other", model="other", status="completed") == 1
    assert value(text, turns, provider="gemini", model="gem-a", status="completed") == 1
    assert value(text, turns, provider="openai", model="gpt-a", status="failed") == 2
    assert total(text, turns) == 6
    for kind, n in (("input", 10), ("cached", 4), ("cache_write", 2), ("output", 5)):
        assert value(text, "chat_tokens_total", provider="openai", model="gpt-a", kind=kind) == n
    assert value(text, "chat_tokens_total", provider="openai", model="gpt-a", kind="reasoning") == 3
    assert value(text, "chat_cost_usd_total", provider="openai", model="gpt-a") == 0.25
    assert value(text, "chat_cost_usd_total", provider="openai", model="other") == 0.5
    # Every failed candidate counts, also one a fallback recovered from; a skip without a call
    # does not; a code that is not one is `other`.
    errors = "chat_upstream_errors_total"
    assert value(text, errors, provider="openai", code="rate_limited") == 1
    assert value(text, errors, provider="openai", code="upstream_auth") == 1
    assert value(text, errors, provider="openai", code="other") == 1
    assert total(text, errors) == 3
    assert "context_too_long" not in text and "someone typed" not in text
    first = "chat_time_to_first_text_seconds"
    assert value(text, first + "_count") == 5  # the failed one without text is not observed
    assert value(text, first + "_bucket", le="0.25") == 0
    assert value(text, first + "_bucket", le="0.5") == 5
    assert value(text, first + "_sum") == pytest.approx(1.5)


STREAM = """
    import os, sys
    from pathlib import Path
    from app.observe import multiproc
    path = multiproc.prepare(Path(os.environ["DATA"]))
    from app.observe.metrics import Metrics
    from app import limits
    m = Metrics(path, "t", known_provider=lambda p: True, known_model=lambda p, m: True)
    records = type("NoRecords", (), {})()
    streams = limits.StreamLimits(records, per_user=None, per_process=5, gauge=m)
    slots = [streams.open("u") for _ in range(int(os.environ["OPEN"]))]
    for slot in slots[: int(os.environ["CLOSE"])]:
        slot.release()
        slot.release()  # idempotent: counted once
    print(m.render().decode())
    sys.stdout.flush()
    if os.environ.get("DIE"):
        os._exit(0)  # gone without any bookkeeping, like a killed dev server
"""


def test_open_streams_are_summed_over_live_processes_only(tmp_path):
    env = {"DATA": str(tmp_path), "PROMETHEUS_MULTIPROC_DIR": None}
    text = run_python(STREAM, {**env, "OPEN": "3", "CLOSE": "1"})
    assert value(text, "chat_streams_open") == 2
    # That process is gone: a new process drops its live gauge; its own streams count.
    text = run_python(STREAM, {**env, "OPEN": "4", "CLOSE": "3", "DIE": "1"})
    assert value(text, "chat_streams_open") == 1
    text = run_python(STREAM, {**env, "OPEN": "0", "CLOSE": "0"})
    assert value(text, "chat_streams_open") == 0


IMPORT_ORDER = """
    import os, sys, json
    from app import create_app
    app = create_app({
        "TESTING": True, "CHAT_DATA_DIR": os.environ["DATA"], "SECRET_KEY": "k" * 40,
        "CHAT_METRICS_TOKEN": os.environ.get("TOKEN") or None,
    })
    loaded = "prometheus_client" in sys.modules
    mode = None
    if loaded:
        from prometheus_client import values
        mode = bool(getattr(values.ValueClass, "_multiprocess", False))
    print(json.dumps({"loaded": loaded, "multiprocess": mode,
                      "dir": os.environ.get("PROMETHEUS_MULTIPROC_DIR")}))
"""


def test_metrics_off_loads_nothing_and_on_is_multiprocess_from_the_start(tmp_path):
    import json

    data = tmp_path / "data"
    off = json.loads(
        run_python(IMPORT_ORDER, {"DATA": str(data), "PROMETHEUS_MULTIPROC_DIR": None})
    )
    assert off == {"loaded": False, "multiprocess": None, "dir": None}
    assert not (data / ".app" / "metrics").exists()
    on = json.loads(
        run_python(
            IMPORT_ORDER, {"DATA": str(data), "TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": None}
        )
    )
    assert on == {
        "loaded": True,
        "multiprocess": True,
        "dir": str((data / ".app" / "metrics").resolve()),
    }
    given = tmp_path / "elsewhere"
    on = json.loads(
        run_python(
            IMPORT_ORDER,
            {"DATA": str(data), "TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(given)},
        )
    )
    assert on["dir"] == str(given.resolve()) and given.is_dir()


def test_labels_come_from_the_configured_and_cached_models():
    registry = rc.ProviderRegistry.of(
        [FakeProvider(name="openai"), FakeProvider(name="ollama")],
        settings=[
            ProviderSettings(
                name="openai", protocol="fake", models=("gpt-a",), default_model="gpt-d"
            ),
            ProviderSettings(name="ollama", protocol="fake"),
        ],
        models=[ModelInfo(provider="ollama", id="llama3:8b")],
        default=("openai", "gpt-x"),
    )
    listed = {"ollama": SimpleNamespace(find=lambda m: m if m == "qwen3:4b" else None)}
    registry.cached_list = listed.get  # the model-list cache
    assert known_model(registry, "ollama", "qwen3:4b")
    assert not known_model(registry, "ollama", "qwen3:14b")
    assert known_provider(registry, "openai") and not known_provider(registry, "anthropic")
    for model in ("gpt-a", "gpt-d", "gpt-x"):
        assert known_model(registry, "openai", model)
    assert known_model(registry, "ollama", "llama3:8b")
    assert not known_model(registry, "openai", "llama3:8b")
    assert not known_model(registry, "anthropic", "gpt-a")


# -- /metrics answers 404 unless the configured token comes as a Bearer token -----------------


def test_no_token_configured_is_404_even_with_a_bearer(make_app):
    client = make_app().test_client()
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 404
        assert response.get_json() == client.get("/no-such-path").get_json()


@pytest.fixture
def metrics_app(make_app, tmp_path, monkeypatch):
    # This process's multiprocess directory (restored after the test; see the module docstring).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prom"))
    return make_app(CHAT_METRICS_TOKEN=TOKEN)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer wrong",
    ],
)
def test_a_missing_or_wrong_token_is_404(metrics_app, authorization):
    client = metrics_app.test_client()
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 404
    assert TOKEN not in response.get_data(as_text=True)


def test_the_token_opens_metrics_without_a_session(metrics_app):
    client = metrics_app.test_client()
    response = client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    # What it shows is tested under gunicorn (this process's metric files are another test's).
    assert "Set-Cookie" not in response.headers


TOO_EARLY = """
    import os, sys
    import prometheus_client  # before the app could set PROMETHEUS_MULTIPROC_DIR
    from app import create_app
    app = create_app({
        "TESTING": True, "CHAT_DATA_DIR": os.environ["DATA"], "SECRET_KEY": "k" * 40,
        "CHAT_METRICS_TOKEN": "t" * 20,
    })
    response = app.test_client().get("/metrics", headers={"Authorization": "Bearer " + "t" * 20})
    print(response.status_code)
    print(response.get_data(as_text=True))
"""


def test_prometheus_imported_too_early_still_serves_this_process(tmp_path):
    out = run_python(TOO_EARLY, {"DATA": str(tmp_path), "PROMETHEUS_MULTIPROC_DIR": None})
    status, _, text = out.partition("\n")
    assert status == "200"
    assert value(text, "chat_streams_open") == 0 and "chat_turns_total" in text


# -- an unwritable multiprocess directory turns metrics off, not the app ----------------------


def test_a_file_in_place_of_the_metrics_directory_runs_with_metrics_off(
    make_app, tmp_path, monkeypatch, caplog, capsys
):
    # As root no directory is read-only: a file where a parent directory should be stands in.
    (tmp_path / "blocker").write_text("not a directory")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "blocker" / "metrics"))
    with caplog.at_level("INFO"):
        app = make_app(CHAT_METRICS_TOKEN=TOKEN)
        client = login(app.test_client(), app)
        capsys.readouterr()
        frames = chat(client, message="hello")
    assert frames[-1].event == "done" and frames[-1].data["status"] == "completed"
    assert sum("metrics_unavailable" in r.getMessage() for r in caplog.records) == 1
    assert '"event":"turn"' in capsys.readouterr().err  # the turn log still writes its line
    assert client.get("/healthz").status_code == 200
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404  # off, as without a token


UNWRITABLE_FILES = """
    import os
    from pathlib import Path
    from app import create_app
    path = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    path.mkdir()
    for kind in ("counter", "gauge_livesum", "histogram", "gauge_all"):
        (path / f"{kind}_{os.getpid()}.db").mkdir()  # the value files cannot be made
    app = create_app({
        "TESTING": True, "CHAT_DATA_DIR": os.environ["DATA"], "SECRET_KEY": "k" * 40,
        "CHAT_METRICS_TOKEN": "t" * 20,
    })
    client = app.test_client()
    print(client.get("/healthz").status_code)
    print(client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 20}).status_code)
"""


def test_metric_files_that_cannot_be_made_run_with_metrics_off(tmp_path):
    out = run_python(
        UNWRITABLE_FILES,
        {"DATA": str(tmp_path / "data"), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")},
    )
    assert out.split() == ["200", "404"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("configured", [False, True])
def test_another_method_is_404_like_an_unknown_path(
    make_app, tmp_path, monkeypatch, method, configured
):
    # A 405 (with `Allow`) would say that the route exists; an unknown path is 404.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prom"))
    app = make_app(CHAT_METRICS_TOKEN=TOKEN) if configured else make_app()
    client = app.test_client()
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
        response = client.open("/metrics", method=method, headers=headers)
        unknown = client.open("/no-such-path", method=method, headers=headers)
        assert (response.status_code, response.get_json()) == (404, unknown.get_json())
        assert "Allow" not in response.headers
