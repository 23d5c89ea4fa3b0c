"""The stream stages with plain lists, the journal's torn lines, and a turn whose commit fails."""

from __future__ import annotations

import json

import pytest

import conversation_manager as cm
import stream_processor as sp
from responses_client import Finished, Idle, ReasoningDelta, ResponseStarted, TextDelta
from tests.conftest import chat, parse_sse


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sse_frame_is_one_line_of_json_whatever_the_text():
    text = "a\n\nevent: done\ndata: {}\r\n\u2028b"
    raw = sp.sse_frame("delta", {"text": text}, "m_1:7")
    assert raw.count(b"\n\n") == 1 and raw.endswith(b"\n\n")
    event, frame_id, data = raw.decode().rstrip("\n").split("\n")
    assert event == "event: delta" and frame_id == "id: m_1:7"
    assert json.loads(data.removeprefix("data: ")) == {"text": text}


def test_coalesce_sends_first_text_at_once_then_merges_until_idle_and_interval():
    clock = Clock()
    events = iter(
        [
            ResponseStarted("resp_1", "m"),
            TextDelta("He"),  # first text: at once
            TextDelta("ll"),
            Idle(),  # too soon: held
            TextDelta("o"),
        ]
    )
    frames = sp.coalesce(events, clock=clock, min_interval=0.03)
    assert next(frames) == ("delta", "He")
    clock.now = 0.01
    rest = list(frames)
    assert rest == [("delta", "llo")]  # flushed at the end, nothing lost


def test_coalesce_flushes_on_idle_after_the_interval_and_on_kind_change():
    clock = Clock()

    def source():
        yield ReasoningDelta("think")
        yield ReasoningDelta("ing")
        clock.now = 0.05
        yield Idle()
        yield TextDelta("A")
        yield TextDelta("B")
        yield Finished("completed", "resp_1", None, "m")

    assert list(sp.coalesce(source(), clock=clock)) == [
        ("reasoning", "think"),
        ("reasoning", "ing"),
        ("delta", "A"),
        ("delta", "B"),
    ]


def test_coalesce_flushes_pending_text_before_an_error_propagates():
    def source():
        yield TextDelta("a")
        yield TextDelta("b")
        raise RuntimeError("reset")

    frames = sp.coalesce(source())
    assert next(frames) == ("delta", "a")
    assert next(frames) == ("delta", "b")
    with pytest.raises(RuntimeError):
        next(frames)


def test_accumulate_records_the_reply():
    reply = sp.Reply()
    events = [
        ResponseStarted("resp_1", "snap"),
        ReasoningDelta("why"),
        TextDelta("A"),
        TextDelta("B"),
        Finished("incomplete", "resp_1", {"output_tokens": 2}, "snap", reason="max_output_tokens"),
    ]
    assert list(sp.accumulate(events, reply)) == events
    assert (reply.text, reply.reasoning, reply.status, reply.reason) == (
        "AB",
        "why",
        "incomplete",
        "max_output_tokens",
    )
    assert reply.response_id == "resp_1" and reply.first_text_at is not None


def dead_error(message_id: str) -> dict:
    return sp.error_data("interrupted", message="gone", retryable=True, message_id=message_id)


def test_journal_readers_ignore_a_torn_last_line(tmp_path):
    coordination = sp.FileCoordination(tmp_path)
    (tmp_path / "c_1.jsonl").write_text(
        '0 turn {"turn_id":"m_1","started_at":1}\n'
        '1 conversation {"conversation_id":"c_1"}\n'
        '2 delta {"text":"ok"}\n'
        '3 delta {"text":"to'
    )
    assert coordination.reply_text("c_1") == ("m_1", "ok")
    assert coordination.last_frame("c_1") == (2, "delta")
    frames = parse_sse(b"".join(coordination.follow("c_1", dead_error=dead_error)))
    assert [f.event for f in frames] == ["conversation", "delta", "error"]
    assert frames[-1].id == "m_1:3" and frames[-1].data["code"] == "interrupted"


def test_a_failed_commit_is_a_json_error_and_frees_the_conversation(
    client, app, upstream, monkeypatch, data_dir
):
    one = chat(client, message="one")
    cid = one[0].data["conversation_id"]
    store = app.extensions["store"]
    real = store.begin_turn

    def full(*args, **kwargs):
        raise cm.StorageFull()

    monkeypatch.setattr(store, "begin_turn", full)
    upstream.delta_delay = 0.2  # slow enough that the abort is seen mid-answer
    refused = client.post("/chat", json={"message": "two", "conversation_id": cid})
    assert refused.status_code == 507 and refused.get_json()["error"]["code"] == "storage_full"
    doc = json.loads((data_dir / "alice" / f"{cid}.json").read_text())
    assert [m["text"] for m in doc["messages"]] == ["one", "Hello! How can I help?"]
    # The aborted turn left nothing behind: its journal still holds the previous turn.
    events = parse_sse(client.get(f"/conversations/{cid}/events").data)
    assert events[0].data["assistant_message_id"] == one[0].data["assistant_message_id"]
    for record in upstream.responses_requests()[1:]:  # opened while the commit ran, then cut
        assert record.wait_done(5) and record.client_closed and not record.completed

    monkeypatch.setattr(store, "begin_turn", real)
    upstream.delta_delay = 0.0
    again = chat(client, message="two", conversation_id=cid)
    assert again[-1].event == "done" and again[-1].data["status"] == "completed"


def test_a_turn_that_ends_between_the_read_and_the_liveness_probe_is_not_interrupted(tmp_path):
    """The worker writes its last frame and releases its lock just after the reader's read."""
    journal = tmp_path / "c_1.jsonl"
    journal.write_text(
        '0 turn {"turn_id":"m_1","started_at":1}\n'
        '1 conversation {"conversation_id":"c_1"}\n'
        '2 delta {"text":"ok"}\n'
    )

    finished = []

    def owner_finishes_now() -> bool:
        if not finished:  # the last frame lands, then the lock is released
            finished.append(True)
            with open(journal, "a") as f:
                f.write('3 done {"status":"completed"}\n')
        return False

    frames = parse_sse(
        b"".join(sp.journal.follow(journal, is_live=owner_finishes_now, dead_error=dead_error))
    )
    assert [f.event for f in frames] == ["conversation", "delta", "done"]
    assert frames[-1].id == "m_1:3"


def test_journal_conditions_are_dropped_when_no_writer_or_reader_uses_them(tmp_path):
    """Defect: one `threading.Condition` per journal path was kept forever."""
    coordination = sp.FileCoordination(tmp_path)
    before = sp.conditions_in_use()
    for n in range(20):
        cid = f"c_{n}"
        writer = coordination.writer(cid, f"m_{n}")
        writer.begin("conversation", {"conversation_id": cid})
        frames = coordination.follow(cid, dead_error=dead_error)
        assert next(frames).startswith(b"event: conversation")
        assert sp.conditions_in_use() == before + 1  # shared by the writer and the reader
        writer.append("done", {"status": "completed"})
        writer.close()
        assert [f.event for f in parse_sse(b"".join(frames))] == ["done"]
        coordination.wait_for_change(cid, 0.01)
    assert sp.conditions_in_use() == before


def test_the_file_lock_is_one_turn_at_a_time_and_free_once_released(tmp_path):
    coordination = sp.FileCoordination(tmp_path)
    held = coordination.acquire("c_1")
    assert coordination.is_live("c_1") and not coordination.is_live("c_2")
    with pytest.raises(sp.TurnBusy):
        coordination.acquire("c_1")
    held.release()
    held.release()  # twice is fine
    assert not coordination.is_live("c_1")
    coordination.acquire("c_1").release()
    coordination.request_stop("c_1")
    assert coordination.stop_requested("c_1")
    coordination.clear_stop("c_1")
    assert not coordination.stop_requested("c_1")


def test_text_cap_keeps_the_text_up_to_the_cap_and_closes_its_source():
    closed = []

    def source():
        try:
            yield ResponseStarted("resp_1", "m")
            yield TextDelta("abcd")
            yield ReasoningDelta("not counted")
            yield TextDelta("efgh")
            yield TextDelta("never read")
        finally:
            closed.append(True)

    cap = sp.TextCap(6)
    out = list(cap.apply(source()))
    assert [e.text for e in out if isinstance(e, TextDelta)] == ["abcd", "ef"]
    assert cap.reached and closed == [True]


def test_text_cap_at_exactly_the_cap_or_0_does_not_cut():
    events = [TextDelta("abc"), TextDelta("def"), Finished("completed", "resp_1", None, "m")]
    cap = sp.TextCap(6)
    assert list(cap.apply(events)) == events and not cap.reached
    unlimited = sp.TextCap(0)
    assert list(unlimited.apply(events)) == events and not unlimited.reached


def test_error_frames_have_one_shape():
    data = sp.error_data("interrupted", message="words", retryable=True, message_id="m_1")
    assert data == {
        "code": "interrupted",
        "message": "words",
        "retryable": True,
        "message_id": "m_1",
    }
    line = sp.journal_line(3, "error", data)
    assert sp.parse_journal_line(line) == (3, "error", sp.dumps(data))
