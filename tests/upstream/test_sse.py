"""The layered SSE parser: lines, messages, JSON events, Idle markers, with hostile chunking."""

from __future__ import annotations

import pytest

from responses_client import Idle, Interrupted
from responses_client.sse import DONE, SSEMessage, iter_events, iter_lines, iter_sse

WIRE = (
    b": keep-alive\n"
    b"retry: 3000\n"
    b"event: response.created\n"
    b'data: {"type":"a","n":1}\n'
    b"\n"
    b"id: 7\r\n"
    b'data: {"type":"b",\r\n'
    b'data: "n":2}\r\n'
    b"\r\n"
    b'data:{"type":"c"}\n'
    b"\n"
)


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_lines_lf_and_crlf_and_partial_tail() -> None:
    assert list(iter_lines([b"a\r\nb", b"c\n\nd"])) == [b"a", b"bc", b""]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_messages_whatever_the_chunking(size: int) -> None:
    messages = list(iter_sse(iter_lines(split_every(WIRE, size))))
    assert messages == [
        SSEMessage("response.created", b'{"type":"a","n":1}', None),
        SSEMessage(None, b'{"type":"b",\n"n":2}', "7"),
        SSEMessage(None, b'{"type":"c"}', "7"),
    ]


@pytest.mark.parametrize("size", [1, 5, 1000])
def test_events_json_decoded(size: int) -> None:
    events = list(iter_events(split_every(WIRE, size)))
    assert events == [{"type": "a", "n": 1}, {"type": "b", "n": 2}, {"type": "c"}]


def test_done_marker_stops_events_and_is_surfaced_by_iter_sse() -> None:
    wire = [b'data: {"type":"a"}\n\ndata: [DONE]\n\ndata: {"type":"late"}\n\n']
    assert list(iter_events(wire)) == [{"type": "a"}]
    messages = list(iter_sse(iter_lines(wire)))
    assert messages[1].done and messages[1].data == DONE


def test_idle_after_each_chunk_whose_lines_are_handled() -> None:
    chunks = [b'data: {"type":"a"}\n\n', b'data: {"ty', b'pe":"b"}\n\ndata: {"type":"c"}\n\n']
    out = list(iter_events(chunks, idle=True))
    assert out == [{"type": "a"}, Idle(), {"type": "b"}, {"type": "c"}, Idle()]
    assert list(iter_events(chunks)) == [{"type": "a"}, {"type": "b"}, {"type": "c"}]


def test_a_message_cut_before_its_blank_line_is_dropped() -> None:
    assert list(iter_events([b'data: {"type":"a"}\n\ndata: {"type":"b"}\n'])) == [{"type": "a"}]


def test_data_line_without_colon_and_unknown_fields() -> None:
    msgs = list(iter_sse([b"data", b"foo: bar", b"data: x", b""]))
    assert msgs == [SSEMessage(None, b"\nx", None)]


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_malformed_data_is_interrupted(payload: bytes) -> None:
    with pytest.raises(Interrupted) as info:
        list(iter_events([b"data: " + payload + b"\n\n"]))
    assert info.value.upstream_code == "malformed_event"


def test_a_line_without_end_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from responses_client import sse

    monkeypatch.setattr(sse, "MAX_LINE", 100)
    with pytest.raises(Interrupted) as info:
        list(iter_lines([b"data: " + b"x" * 60] * 3))
    assert info.value.upstream_code == "line_too_long"
    assert list(iter_lines([b"x" * 60, b"y" * 30 + b"\n", b"z" * 60, b"\n"])) == [
        b"x" * 60 + b"y" * 30,
        b"z" * 60,
    ]


def test_a_message_without_end_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from responses_client import sse

    monkeypatch.setattr(sse, "MAX_LINE", 100)
    with pytest.raises(Interrupted):
        list(iter_sse([b"data: " + b"x" * 40] * 3))
    assert len(list(iter_sse([b"data: " + b"x" * 40, b""] * 3))) == 3
