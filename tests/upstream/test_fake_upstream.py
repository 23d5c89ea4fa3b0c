"""The fake upstream itself: non-stream answers, wire details, thread pages, recording, shutdown."""

from __future__ import annotations

import contextlib
import json
import threading

import httpx2
import openai
import pytest

from tests.fake_upstream import FakeUpstream


def sse_events(raw: str) -> list[tuple[str | None, dict]]:
    out = []
    for frame in raw.strip().split("\n\n"):
        name = None
        for line in frame.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((name, json.loads(line[6:])))
    return out


def test_wire_format_matches_reference(fake: FakeUpstream) -> None:
    r = httpx2.post(f"{fake.base_url}/responses", json={"model": "m", "input": "x", "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["transfer-encoding"] == "chunked"
    assert "[DONE]" not in r.text
    events = sse_events(r.text)
    assert all(name == ev["type"] for name, ev in events)
    assert [ev["sequence_number"] for _, ev in events] == list(range(len(events)))
    types = [ev["type"] for _, ev in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    delta = events[4][1]
    assert delta["logprobs"] == [] and delta["obfuscation"]
    assert events[0][1]["response"]["status"] == "in_progress"
    assert events[-1][1]["response"]["usage"]["total_tokens"] > 0


def test_non_stream_response_through_sdk(fake: FakeUpstream) -> None:
    fake.reply = lambda body: f"echo {body['input']}"
    client = openai.OpenAI(api_key="k", base_url=fake.base_url)
    resp = client.responses.create(model="m", input="ping")
    assert resp.output_text == "echo ping" and resp.status == "completed"
    assert resp.id in fake.responses
    client.close()


def test_sdk_typed_stream_parses_fake(fake: FakeUpstream) -> None:
    fake.reasoning_summary = ["**A**\n\nb"]
    client = openai.OpenAI(api_key="k", base_url=fake.base_url)
    with client.responses.stream(model="m", input="x") as stream:
        final = stream.get_final_response()
    assert final.output_text == "Hello! How can I help?"
    assert final.output[0].type == "reasoning" and final.output[1].type == "message"
    client.close()


def test_thread_messages_pages(fake: FakeUpstream) -> None:
    msgs = [
        {"id": f"msg_{i}", "object": "thread.message", "created_at": 100 + i, "role": "user"}
        for i in range(5)
    ]
    fake.threads = {"thread_a": msgs, "thread_bad": "500"}
    url = f"{fake.base_url}/threads/thread_a/messages"
    page = httpx2.get(url, params={"limit": 2}).json()
    assert [m["id"] for m in page["data"]] == ["msg_4", "msg_3"]
    assert page["has_more"] is True and page["first_id"] == "msg_4" and page["last_id"] == "msg_3"
    page = httpx2.get(url, params={"limit": 2, "after": "msg_3"}).json()
    assert [m["id"] for m in page["data"]] == ["msg_2", "msg_1"]
    page = httpx2.get(url, params={"limit": 10, "order": "asc", "after": "msg_2"}).json()
    assert [m["id"] for m in page["data"]] == ["msg_3", "msg_4"] and page["has_more"] is False
    assert httpx2.get(f"{fake.base_url}/threads/nope/messages").status_code == 404
    assert httpx2.get(f"{fake.base_url}/threads/thread_bad/messages").status_code == 500
    assert fake.requests[0].query == {"limit": ["2"]}


def test_recording_and_script_queue(fake: FakeUpstream) -> None:
    fake.script(["500", "ok"])
    body = {"model": "m", "input": "x", "stream": True}
    assert httpx2.post(f"{fake.base_url}/responses", json=body).status_code == 500
    assert httpx2.post(f"{fake.base_url}/responses", json=body).status_code == 200
    first, second = fake.requests
    assert first.behaviour == "500" and second.behaviour == "ok"
    # The handler marks the request done after the body's end, which the client may read first.
    assert second.wait_done(5)
    assert second.body == body and second.events_written == 14 and second.completed
    assert second.time >= first.time


def test_unknown_behaviour_rejected(fake: FakeUpstream) -> None:
    with pytest.raises(ValueError, match="unknown behaviour"):
        fake.script(["explode"])


def test_stop_joins_handler_threads() -> None:
    fake = FakeUpstream().start()
    fake.script(["stall_start"])

    def call() -> None:
        body = {"model": "m", "input": "x", "stream": True}
        with contextlib.suppress(httpx2.HTTPError):
            httpx2.post(f"{fake.base_url}/responses", json=body)

    t = threading.Thread(target=call, daemon=True)
    t.start()
    while not fake.requests:
        threading.Event().wait(0.01)
    fake.stop()  # must not hang on the stalled stream
    t.join(5)
    assert not t.is_alive()
    assert fake.requests[0].client_closed
