"""The one log line per finished turn (API "Operations"): its fields, and what it never holds
(message text, the reply, keys, share tokens)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.observe import TurnReport, user_digest
from app.observe.turn_log import FIELDS
from responses_client.adapters.fake import FakeProvider
from tests.chat.multi_provider import make_service, run_turn
from tests.chat.test_fallback import chain_settings
from tests.conftest import SENTINEL_KEY, chat, login

SECRET = "test-secret-key-" + "x" * 32
MESSAGE = "my very private question about zebras 7731"
REPLY = "a very private answer about okapis 9042"


def turn_lines(text: str) -> list[dict[str, Any]]:
    """The turn lines in captured stderr: from the first `{` of each `turn` line, JSON."""
    return [json.loads(line[line.index("{") :]) for line in text.splitlines() if "turn {" in line]


def test_a_turn_writes_one_line_with_the_contracts_fields(make_app, upstream, capsys):
    upstream.reply = REPLY
    app = make_app(SECRET_KEY=SECRET)
    client = login(app.test_client(), app)
    capsys.readouterr()
    frames = chat(client, message=MESSAGE)
    done = frames[-1].data
    # The line is written before the final frame is built: it is there once `done` is read.
    err = capsys.readouterr().err
    (line,) = turn_lines(err)
    assert tuple(line) == FIELDS
    assert line["event"] == "turn"
    assert line["user"] == user_digest(SECRET, "alice") and len(line["user"]) == 16
    assert int(line["user"], 16) >= 0
    assert line["conversation_id"] == frames[0].data["conversation_id"]
    assert line["message_id"] == done["message_id"]
    assert (line["provider"], line["model"]) == (done["provider"], done["model"])
    assert line["context_mode"] == done["context_mode"]
    assert (line["status"], line["error_code"], line["fallback_from"]) == ("completed", None, None)
    assert line["input_tokens"] == done["usage"]["input_tokens"] > 0
    assert line["output_tokens"] == done["usage"]["output_tokens"] > 0
    assert line["cached_tokens"] == done["usage"]["cached_tokens"]
    assert line["reasoning_tokens"] == done["usage"]["reasoning_tokens"]
    assert line["cost_usd"] == done["cost_usd"]
    assert isinstance(line["time_to_first_text_ms"], int)
    assert line["total_ms"] >= line["time_to_first_text_ms"] >= 0
    for secret in (MESSAGE, REPLY, "zebras", "okapis", SENTINEL_KEY, SECRET, "alice"):
        assert secret not in err, secret


def test_the_line_never_holds_a_share_token_and_says_a_failure(make_app, upstream, capsys):
    app = make_app(SECRET_KEY=SECRET)
    client = login(app.test_client(), app)
    cid = chat(client, message=MESSAGE)[0].data["conversation_id"]
    token = client.post(f"/conversations/{cid}/share", json={}).get_json()["token"]
    assert client.get(f"/share/{token}").status_code == 200
    capsys.readouterr()
    frames = chat(client, message=MESSAGE, conversation_id=cid, model="fake-401")
    assert frames[-1].event == "error"
    err = capsys.readouterr().err
    (line,) = turn_lines(err)
    assert (line["status"], line["error_code"]) == ("failed", "upstream_auth")
    assert line["model"] == "fake-401" and line["conversation_id"] == cid
    assert line["time_to_first_text_ms"] is None
    for secret in (token, token[:12], MESSAGE, SENTINEL_KEY, SECRET):
        assert secret not in err, secret


class Recorder:
    def __init__(self) -> None:
        self.reports: list[TurnReport] = []

    def turn_finished(self, report: TurnReport) -> None:
        self.reports.append(report)


@pytest.fixture
def three() -> tuple[FakeProvider, FakeProvider, FakeProvider]:
    return (
        FakeProvider(name="anthropic", stateful=False),
        FakeProvider(name="gemini", stateful=False),
        FakeProvider(name="openai", stateful=True),
    )


def test_the_observer_hears_each_turn_once_with_its_fallbacks(tmp_path, three):
    import responses_client as rc

    service = make_service(
        tmp_path, three, settings=chain_settings(), default=("anthropic", "claude-a")
    )
    recorder = Recorder()
    service.observer = recorder
    anthropic, gemini, _ = three
    anthropic.enqueue_error(rc.RateLimited(status=429))
    gemini.enqueue_reply("From Gemini.")
    run_turn(service, message="hello")
    (report,) = recorder.reports
    assert (report.provider, report.model, report.status) == ("gemini", "gem-a", "completed")
    assert report.upstream_error is None and report.error_code is None
    assert report.fallback_from == [
        {"provider": "anthropic", "model": "claude-a", "code": "rate_limited"}
    ]
    assert report.latency_ms["first_token"] is not None

    anthropic.enqueue_error(rc.AuthFailed(status=401))
    gemini.enqueue_error(rc.AuthFailed(status=401))
    three[2].enqueue_error(rc.BadRequest(status=400))
    run_turn(service, message="again")
    report = recorder.reports[-1]
    assert len(recorder.reports) == 2
    assert (report.provider, report.status, report.upstream_error) == (
        "openai",
        "failed",
        "bad_request",
    )
    assert [ref["code"] for ref in report.fallback_from or ()] == ["upstream_auth", "upstream_auth"]
