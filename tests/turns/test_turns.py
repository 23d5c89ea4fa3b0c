"""Turns over the in-process FakeProvider (no HTTP): what the model was sent, what was saved, the frames."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import conversation_manager as cm
import responses_client as rc
import stream_processor as sp
from app.turns import ChatService, ChatSettings, TurnInProgress, TurnRequest
from responses_client.adapters.fake import FakeProvider
from responses_client.capabilities import Capabilities
from tests.conftest import Frame, parse_sse

USER = "alice"


def make_service(tmp_path: Path, provider: Any, limits: Any = None, **settings: Any) -> ChatService:
    store = cm.JsonConversationStore(tmp_path / "data", lock_timeout=1.0)
    config = ChatSettings(
        default_model="m",
        default_provider=provider.name,
        instructions="Be brief.",
        lock_timeout=1.0,
        **settings,
    )
    return ChatService(
        store,
        {provider.name: provider},
        config,
        coordination_for=lambda user: sp.FileCoordination(store.turn_dir(user)),
        limits=limits,
    )


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider(name="fake")


@pytest.fixture
def service(tmp_path: Path, fake: FakeProvider) -> ChatService:
    return make_service(tmp_path, fake)


def run_turn(service: ChatService, **body: Any) -> list[Frame]:
    """Start a turn and read all its frames."""
    started = service.start(TurnRequest(user=USER, message=body.pop("message", None), **body))
    return parse_sse(b"".join(service.follow(started)))


def text_of(frames: list[Frame]) -> str:
    return "".join(f.data["text"] for f in frames if f.event == "delta")


def reply_on_disk(service: ChatService, frames: list[Frame]) -> cm.Message:
    first = frames[0].data
    return service.store.get(USER, first["conversation_id"]).message(first["assistant_message_id"])


def test_first_turn(service, fake):
    fake.enqueue_reply("Hello there.")
    frames = run_turn(service, message="hello")
    assert frames[0].event == "conversation" and frames[-1].event == "done"
    assert text_of(frames) == "Hello there."
    (request,) = fake.requests
    assert request.input == "hello" and request.previous_response_id is None
    assert request.instructions == "Be brief." and request.store is True
    saved = reply_on_disk(service, frames)
    assert saved.status == "completed" and saved.text == "Hello there."
    assert saved.response_id == frames[-1].data["response_id"] == "resp_fake_1"
    assert saved.context_mode == "first" and saved.request_id == "req_fake_1"
    coordination = service.coordination_for(USER)
    assert service.registry.wait_ended(coordination, frames[0].data["conversation_id"], 5)
    assert sp.conditions_in_use() == 0  # nothing kept per journal once the turn is over


def test_chained_turn_sends_only_the_new_message(service, fake):
    fake.enqueue_reply("One.")
    fake.enqueue_reply("Two.")
    cid = run_turn(service, message="first")[0].data["conversation_id"]
    frames = run_turn(service, message="second", conversation_id=cid)
    assert frames[0].data["context_mode"] == "chained" == frames[-1].data["context_mode"]
    assert fake.requests[1].previous_response_id == "resp_fake_1"
    assert fake.requests[1].input == "second"
    assert service.store.get(USER, cid).last_response_id == "resp_fake_2"


def test_an_expired_chain_is_replayed_exactly_once(service, fake):
    fake.enqueue_reply("One.")
    cid = run_turn(service, message="first")[0].data["conversation_id"]
    fake.enqueue_error(rc.PreviousResponseNotFound(status=400))
    fake.enqueue_reply("Two.")
    frames = run_turn(service, message="second", conversation_id=cid)
    assert frames[-1].event == "done" and frames[-1].data["context_mode"] == "replayed"
    chained, replayed = fake.requests[1:]
    assert chained.previous_response_id == "resp_fake_1"
    assert replayed.previous_response_id is None
    assert replayed.input == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "One."},
        {"role": "user", "content": "second"},
    ]
    assert reply_on_disk(service, frames).context_mode == "replayed"

    # Expired again on the replay: the turn fails, no loop.
    fake.enqueue_error(rc.PreviousResponseNotFound(status=400))
    fake.enqueue_error(rc.PreviousResponseNotFound(status=400))
    fake.enqueue_reply("never sent")
    frames = run_turn(service, message="third", conversation_id=cid)
    assert frames[-1].event == "error" and frames[-1].data["code"] == "bad_request"
    assert len(fake.requests) == 5 and fake.pending() == 1


def test_fitting_drops_the_oldest_turns(tmp_path):
    caps = Capabilities(protocol="fake", stateful=False, context_window=4000, max_output_tokens=500)
    fake = FakeProvider(name="fake", stateful=False, capabilities=caps)
    service = make_service(tmp_path, fake, max_output_tokens=500)
    cid = None
    for n in range(6):
        fake.enqueue_reply("a" * 2000)
        body = {"conversation_id": cid} if cid else {}
        frames = run_turn(service, message=f"{n} " + "q" * 2000, **body)
        cid = frames[0].data["conversation_id"]
    sent = fake.requests[-1].input
    assert isinstance(sent, list)
    assert sent[-1] == {"role": "user", "content": "5 " + "q" * 2000}
    assert sent[0]["role"] == "user" and not sent[0]["content"].startswith("0 ")
    assert len(sent) < 11
    saved = reply_on_disk(service, frames)
    assert saved.context_mode == "replayed" and saved.metadata["trimmed_messages"] > 0


class TextThenHold:
    """A provider that sends some text, then stays silent until it is cancelled."""

    name = "held"
    stateful = True

    def __init__(self) -> None:
        self.requests: list[rc.ResponseRequest] = []
        self.cancelled = threading.Event()

    def stream(
        self, request: rc.ResponseRequest, cancel: rc.CancelToken | None = None
    ) -> Iterator[rc.Event]:
        assert cancel is not None
        self.requests.append(request)
        yield rc.ResponseStarted("resp_held", request.model)
        yield rc.TextDelta("partial ")
        if cancel.wait(30):
            self.cancelled.set()

    def close(self) -> None:
        pass


def test_a_stop_mid_stream_saves_stopped(tmp_path):
    provider = TextThenHold()
    service = make_service(tmp_path, provider)
    started = service.start(TurnRequest(user=USER, message="go"))
    frames = service.follow(started)
    head = b""
    while b"event: delta" not in head:
        head += next(frames)
    service.stop(USER, started.conversation_id)  # returns once the reply is saved
    saved = service.store.get(USER, started.conversation_id).message(started.assistant_message_id)
    assert saved.status == "stopped" and saved.text == "partial " and saved.response_id is None
    assert provider.cancelled.is_set()
    rest = parse_sse(head + b"".join(frames))
    assert rest[-1].event == "done" and rest[-1].data["status"] == "stopped"
    with pytest.raises(cm.NotFound):  # nothing runs any more: no turn to stop
        service.stop(USER, "c_unknown")


def test_a_retryable_error_before_the_first_text_is_retried(service, fake):
    fake.enqueue_error(rc.UpstreamUnavailable(status=503, retry_after=0.01))
    fake.enqueue_reply("Made it.")
    frames = run_turn(service, message="hello")
    assert frames[-1].event == "done" and text_of(frames) == "Made it."
    assert fake.streams_opened == 2


def test_no_retry_after_the_first_text(service, fake):
    fake.enqueue_events(
        [
            rc.ResponseStarted("resp_x", "m"),
            rc.TextDelta("Hel"),
            rc.UpstreamUnavailable(status=503, retry_after=0.01),
        ]
    )
    fake.enqueue_reply("never sent")
    frames = run_turn(service, message="hello")
    assert frames[-1].event == "error" and frames[-1].data["code"] == "upstream_unavailable"
    saved = reply_on_disk(service, frames)
    assert saved.status == "failed" and saved.text == "Hel"
    assert fake.streams_opened == 1 and fake.pending() == 1


def test_the_reply_cap(tmp_path, fake):
    service = make_service(tmp_path, fake, max_reply_chars=10)
    fake.enqueue_reply("x" * 100, chunks=["x" * 7] * 14 + ["x" * 2])
    frames = run_turn(service, message="long please")
    done = frames[-1]
    assert done.event == "done" and done.data["status"] == "incomplete"
    assert done.data["error"]["code"] == "reply_too_long"
    assert text_of(frames) == "x" * 10
    saved = reply_on_disk(service, frames)
    assert saved.text == "x" * 10 and saved.error is not None
    assert saved.error.code == "reply_too_long"


def test_a_missing_response_id_is_interrupted_and_never_chained(service, fake):
    usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    fake.enqueue_events([rc.TextDelta("hi"), rc.Finished("completed", None, usage, "m")])
    frames = run_turn(service, message="one")
    assert frames[-1].event == "error" and frames[-1].data["code"] == "interrupted"
    saved = reply_on_disk(service, frames)
    assert saved.status == "failed" and saved.response_id is None
    cid = frames[0].data["conversation_id"]
    fake.enqueue_reply("Two.")
    run_turn(service, message="two", conversation_id=cid)
    assert fake.requests[-1].previous_response_id is None
    assert isinstance(fake.requests[-1].input, list)


def test_an_incomplete_reason_outside_the_known_set_becomes_other(service, fake):
    fake.enqueue_reply("Cut", status="incomplete", reason="sk-live-0123456789 leaked")
    frames = run_turn(service, message="hello")
    assert frames[-1].data["status"] == "incomplete"
    assert frames[-1].data["error"]["code"] == "other"
    assert "finish_reason" not in reply_on_disk(service, frames).metadata


class RecordingLimits:
    """Limits that admit everything and record what turns asked of them."""

    budget = None  # no budget: a turn's cost estimate is never priced

    def __init__(self) -> None:
        self.calls: list[str] = []

    def precheck(self, user: str) -> None:
        self.calls.append("precheck")

    def admit(self, user: str, *, estimated_tokens: int, estimated_cost_usd: float | None):
        self.calls.append("admit")
        assert estimated_tokens > 0
        limits = self

        class Admission:
            def settle(self, *, cost_usd: float | None, tokens: int) -> None:
                limits.calls.append("settle")

            def release(self) -> None:
                limits.calls.append("release")

        return Admission()

    def add_spend(self, user: str, *, cost_usd: float | None, tokens: int) -> None:
        self.calls.append("add_spend")


def test_admission_order_and_release_on_every_path(tmp_path, fake, monkeypatch):
    limits = RecordingLimits()
    service = make_service(tmp_path, fake, limits=limits)
    fake.enqueue_reply("One.")
    cid = run_turn(service, message="one")[0].data["conversation_id"]
    service.registry.wait_ended(service.coordination_for(USER), cid, 5)
    assert limits.calls == ["precheck", "admit", "settle", "release"]

    # Refused before admission: a bad parent, a turn in progress.
    limits.calls.clear()
    with pytest.raises(cm.NotFound):
        service.start(
            TurnRequest(user=USER, message="x", conversation_id=cid, parent_message_id="m_nope")
        )
    lock = service.coordination_for(USER).acquire(cid)
    with pytest.raises(TurnInProgress):
        service.start(TurnRequest(user=USER, message="x", conversation_id=cid))
    lock.release()
    assert "admit" not in limits.calls

    # A commit that fails after admission releases it too.
    limits.calls.clear()

    def full(*args: Any, **kwargs: Any) -> Any:
        raise cm.StorageFull()

    monkeypatch.setattr(service.store, "begin_turn", full)
    fake.enqueue_hold()
    with pytest.raises(cm.StorageFull):
        service.start(TurnRequest(user=USER, message="two", conversation_id=cid))
    assert limits.calls == ["precheck", "admit", "release"]
    assert not service.coordination_for(USER).is_live(cid)


class FailingWriterCoordination(sp.FileCoordination):
    """A frame log whose writer fails on its third frame (the journal's disk went away)."""

    def writer(self, conversation_id: str, turn_id: str) -> sp.FrameWriter:
        writer = super().writer(conversation_id, turn_id)
        real_append = writer.append

        def append(event: str, data: dict[str, Any]) -> int:
            if writer.count >= 2:  # type: ignore[attr-defined]
                raise OSError(5, "Input/output error")
            return real_append(event, data)

        writer.append = append  # type: ignore[method-assign]
        return writer


def test_a_frame_log_that_fails_mid_stream_still_saves_the_reply(tmp_path, fake):
    service = make_service(tmp_path, fake)
    store = service.store
    service.coordination_for = lambda user: FailingWriterCoordination(store.turn_dir(user))
    fake.enqueue_reply("one two three four", chunks=["one ", "two ", "three ", "four"])
    started = service.start(TurnRequest(user=USER, message="go"))
    coordination = service.coordination_for(USER)
    assert service.registry.wait_ended(coordination, started.conversation_id, 5)
    saved = store.get(USER, started.conversation_id).message(started.assistant_message_id)
    assert saved.status == "failed" and saved.error is not None and saved.error.code == "internal"
    assert saved.text.startswith("one ")
    assert not coordination.is_live(started.conversation_id)
