"""Continuations over the in-process FakeProvider (no HTTP): what the store keeps when a continuation
ends well, is stopped before any text, is cut by the reply cap, dies with its worker, or cannot be
planned; the `done` frame's sums; the store's own merge (conversation_manager.continuations)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import conversation_manager as cm
import responses_client as rc
import stream_processor as sp
from app.turns import BadTurnRequest, ChatService, ChatSettings, ContextTooLongRequest, TurnRequest
from app.turns.continuation import CONTINUE_REQUEST
from conversation_manager import continuations
from responses_client.adapters.fake import FakeProvider
from responses_client.capabilities import Capabilities
from responses_client.pricing import Quote
from tests.conftest import Frame, parse_sse

USER = "alice"
PER_OUTPUT_TOKEN = 0.001  # the test's own price: a known cost per output token


def quote(provider: str, model: str, usage: dict[str, int] | None, **_: Any) -> Quote:
    if usage is None:
        return Quote(None, None)
    return Quote(round(usage.get("output_tokens", 0) * PER_OUTPUT_TOKEN, 10), {"output": 1000.0})


def make_service(tmp_path: Path, fake: FakeProvider, **settings: Any) -> ChatService:
    store = cm.JsonConversationStore(tmp_path / "data", lock_timeout=1.0)
    config = ChatSettings(
        default_model="m",
        default_provider=fake.name,
        instructions="Be brief.",
        lock_timeout=1.0,
        **settings,
    )
    return ChatService(
        store,
        {fake.name: fake},
        config,
        coordination_for=lambda user: sp.FileCoordination(store.turn_dir(user)),
        quote=quote,
    )


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider(name="fake")


@pytest.fixture
def service(tmp_path: Path, fake: FakeProvider) -> ChatService:
    return make_service(tmp_path, fake)


def run(service: ChatService, **body: Any) -> list[Frame]:
    started = service.start(TurnRequest(user=USER, message=body.pop("message", None), **body))
    frames = parse_sse(b"".join(service.follow(started)))
    service.registry.wait_ended(service.coordination_for(USER), started.conversation_id, 5)
    return frames


def text_of(frames: list[Frame]) -> str:
    return "".join(f.data["text"] for f in frames if f.event == "delta")


def cut_off(service: ChatService, fake: FakeProvider, text: str, **reply: Any) -> tuple[str, str]:
    """A first turn that ends `incomplete` (max_output_tokens) with `text`."""
    fake.enqueue_reply(text, status="incomplete", **reply)
    frames = run(service, message="Count.")
    assert frames[-1].data["status"] == "incomplete"
    return frames[0].data["conversation_id"], frames[0].data["assistant_message_id"]


def reply(service: ChatService, cid: str, mid: str) -> cm.Message:
    return service.store.get(USER, cid).message(mid)


def test_the_continuation_sends_the_branch_ending_with_the_reply(service, fake):
    cid, mid = cut_off(service, fake, "One two", usage={"input_tokens": 10, "output_tokens": 2})
    fake.enqueue_reply(" three.", usage={"input_tokens": 30, "output_tokens": 3})
    frames = run(service, conversation_id=cid, continue_message_id=mid)
    sent = fake.requests[-1]
    assert sent.input == [
        {"role": "user", "content": "Count."},
        {"role": "assistant", "content": "One two"},
        {"role": "user", "content": CONTINUE_REQUEST},
    ]
    assert sent.previous_response_id is None and sent.instructions == "Be brief."
    assert frames[0].data == {
        "conversation_id": cid,
        "chat_name": "Count.",
        "user_message_id": None,
        "assistant_message_id": mid,
        "model": "m",
        "provider": "fake",
        "context_mode": "replayed",
        "continue_message_id": mid,
    }
    done = frames[-1].data
    assert done["usage"] == {
        "input_tokens": 40,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "output_tokens": 5,
        "reasoning_tokens": 0,
        "total_tokens": 45,
    }
    assert done["cost_usd"] == pytest.approx(5 * PER_OUTPUT_TOKEN)
    saved = reply(service, cid, mid)
    assert saved.text == "One two three." and saved.status == "completed"
    assert saved.usage is not None and saved.usage.model_dump() == done["usage"]
    assert saved.cost_usd == done["cost_usd"]
    conversation = service.store.get(USER, cid)
    assert conversation.totals.output_tokens == 5
    assert conversation.totals.cost_usd == pytest.approx(5 * PER_OUTPUT_TOKEN)
    # The estimate is summed with the usage, so the calibration's ratio still holds.
    count = saved.metadata["token_count"]
    assert count["method"] == "estimate" and count["raw"] > 0


def test_stopped_before_any_text_the_reply_is_as_it_was(service, fake):
    cid, mid = cut_off(service, fake, "One two", usage={"input_tokens": 10, "output_tokens": 2})
    before = reply(service, cid, mid)
    fake.enqueue_hold()  # the model says nothing until it is stopped
    started = service.start(
        TurnRequest(user=USER, message=None, conversation_id=cid, continue_message_id=mid)
    )
    frames_iter = service.follow(started)
    first = next(frames_iter)  # the conversation frame: the turn runs
    assert b"continue_message_id" in first
    service.stop(USER, cid)
    frames = parse_sse(first + b"".join(frames_iter))
    done = frames[-1]
    assert done.event == "done" and done.data["status"] == "incomplete"  # the status it kept
    assert done.data["error"]["code"] == "max_output_tokens"
    assert done.data["response_id"] == before.response_id
    after = reply(service, cid, mid)
    assert (after.text, after.status, after.error) == (before.text, before.status, before.error)
    assert after.response_id == before.response_id
    assert after.metadata["continuations"] == 1 and "continuation_error" not in after.metadata


def test_the_reply_cap_counts_the_earlier_text(tmp_path, fake):
    service = make_service(tmp_path, fake, max_reply_chars=12)
    cid, mid = cut_off(service, fake, "abcdefgh")
    fake.enqueue_reply("ijklmnop", chunks=["ijkl", "mnop"])
    frames = run(service, conversation_id=cid, continue_message_id=mid)
    assert text_of(frames) == "ijkl"
    assert frames[-1].data["status"] == "incomplete"
    assert frames[-1].data["error"]["code"] == "reply_too_long"
    assert reply(service, cid, mid).text == "abcdefghijkl"
    # At the cap, nothing more can be added: refused before anything is sent.
    sent = len(fake.requests)
    with pytest.raises(BadTurnRequest):
        service.start(
            TurnRequest(user=USER, message=None, conversation_id=cid, continue_message_id=mid)
        )
    assert len(fake.requests) == sent


def test_a_reply_without_text_or_that_no_longer_fits_is_refused(service, fake):
    fake.enqueue_hold()
    started = service.start(TurnRequest(user=USER, message="Hi."))
    frames_iter = service.follow(started)
    next(frames_iter)
    service.stop(USER, started.conversation_id)
    b"".join(frames_iter)
    cid, mid = started.conversation_id, started.assistant_message_id
    assert reply(service, cid, mid).status == "stopped" and reply(service, cid, mid).text == ""
    with pytest.raises(BadTurnRequest, match="no text"):
        service.start(
            TurnRequest(user=USER, message=None, conversation_id=cid, continue_message_id=mid)
        )

    cid, mid = cut_off(service, fake, "word " * 4000)
    fake.capabilities = Capabilities(protocol="fake", stateful=True, context_window=3000)
    with pytest.raises(ContextTooLongRequest):
        service.start(
            TurnRequest(user=USER, message=None, conversation_id=cid, continue_message_id=mid)
        )
    assert reply(service, cid, mid).status == "incomplete"  # nothing changed


def test_a_dead_worker_gives_the_reply_back_its_text_and_status(service, fake):
    cid, mid = cut_off(service, fake, "One two")
    store = service.store
    # A continuation began (its commit is on disk) and its process died with text in its journal.
    store.begin_continuation(USER, cid, mid)
    assert reply(service, cid, mid).status == "in_progress"
    journal = store.turn_dir(USER) / f"{cid}.jsonl"
    journal.write_text(
        f'0 turn {{"turn_id":"{mid}","started_at":1}}\n'
        f'1 conversation {{"conversation_id":"{cid}"}}\n'
        '2 delta {"text":" three, four, five and a long way further"}\n'
    )
    frames = parse_sse(b"".join(service.events(USER, cid, None)))
    assert frames[-1].event == "error" and frames[-1].data["code"] == "interrupted"
    after = reply(service, cid, mid)
    assert after.text == "One two" and after.status == "incomplete"
    assert after.error is not None and after.error.code == "max_output_tokens"
    assert after.metadata["continuation_error"]["code"] == "interrupted"
    assert after.metadata["continuations"] == 1 and "continuing" not in after.metadata
    # And it can be continued again.
    fake.enqueue_reply(" three.")
    assert run(service, conversation_id=cid, continue_message_id=mid)[-1].event == "done"
    assert reply(service, cid, mid).text == "One two three."


def test_a_failed_call_that_created_a_response_makes_the_cost_unknown(service, fake):
    cid, mid = cut_off(service, fake, "One two", usage={"input_tokens": 10, "output_tokens": 2})
    fake.enqueue_events(
        [
            rc.events.ResponseStarted("resp_x", "m", "req_x"),
            rc.events.TextDelta(" three"),
            rc.ProviderError(status=500),
        ]
    )
    frames = run(service, conversation_id=cid, continue_message_id=mid)
    assert frames[-1].event == "error" and frames[-1].data["message_id"] == mid
    after = reply(service, cid, mid)
    assert after.text == "One two" and after.status == "incomplete"
    # No usage came, but a response was created upstream: its usage and cost are unknown, and
    # so are the reply's sums (never guessed, never smaller than what was used).
    assert after.usage is None
    assert after.cost_usd is None
    assert after.metadata["continuation_error"]["code"] == "upstream_error"


def test_the_store_merges_a_call_into_the_reply():
    conv = cm.Conversation(
        id="c_1",
        chat_name="x",
        created_at=1.0,
        last_update=1.0,
        model="m",
        provider="p",
        instructions="",
        messages=[
            cm.Message(id="m_u", role="user", text="q", timestamp=1.0),
            cm.Message(
                id="m_a",
                parent_id="m_u",
                role="assistant",
                text="part",
                timestamp=1.0,
                status="stopped",
                usage=cm.Usage(input_tokens=3, output_tokens=1),
                cost_usd=0.5,
                reasoning_summary="first thoughts",
                latency_ms={"first_token": 100, "total": 900},
                metadata={"upstream_response_id": "resp_old"},
            ),
        ],
        current_message_id="m_u",
    )
    with pytest.raises(cm.InvalidParent):
        continuations.begin_continuation(conv, "m_u", now=2.0)
    msg = continuations.begin_continuation(conv, "m_a", now=2.0)
    assert msg.status == "in_progress" and conv.current_message_id == "m_a"
    with pytest.raises(cm.InvalidParent):
        continuations.begin_continuation(conv, "m_a", now=2.0)  # already running
    merged = continuations.finish_continuation(
        conv,
        "m_a",
        now=3.0,
        text="ial",
        status="completed",
        response_id="resp_new",
        usage={"input_tokens": 5, "output_tokens": 2, "reasoning_tokens": 1},
        cost_usd=0.25,
        reasoning_summary="more thoughts",
        latency_ms={"first_token": 50, "total": 400},
        metadata={"finish_reason": "stop"},
    )
    assert merged.text == "partial" and merged.status == "completed"
    assert merged.usage == cm.Usage(input_tokens=8, output_tokens=3, reasoning_tokens=1)
    assert merged.cost_usd == 0.75 and merged.response_id == "resp_new"
    assert merged.reasoning_summary == "first thoughts\n\nmore thoughts"
    assert merged.latency_ms == {"first_token": 100, "total": 1300}
    assert merged.metadata == {"continuations": 1, "finish_reason": "stop", "continued_at": 3.0}
    assert merged.timestamp == 1.0 and conv.last_update == 3.0  # its usage stays on its day
    assert continuations.summed_cost(0.5, None) is None
    assert continuations.summed_usage(None, None) is None
    some = cm.Usage(input_tokens=3, output_tokens=1)
    # Like the cost: an unknown part makes the sum unknown, whichever side it is.
    assert continuations.summed_usage(None, some) is None
    assert continuations.summed_usage(some, None) is None
    # A call that created no response upstream (no usage, priced 0) adds nothing.
    assert continuations.with_call(some, 0.5, None, 0.0) == (some, 0.5)
    assert continuations.with_call(some, 0.5, None, None) == (None, None)


@pytest.mark.parametrize("fails", [False, True])
def test_a_load_as_a_continuation_begins_does_not_repair_it(service, fake, monkeypatch, fails):
    # Between the store's begin_continuation and the new journal, the journal on disk is the
    # reply's earlier call: ended, and with the reply's id. A load then (GET /chat, a listing)
    # must not take the running continuation for a dead one and mark it interrupted.
    cid, mid = cut_off(service, fake, "One two")
    real = service.store.begin_continuation
    seen: list[cm.Message] = []

    def begin(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        seen.append(service.load(USER, cid).message(mid))  # another request, right then
        return out

    monkeypatch.setattr(service.store, "begin_continuation", begin)
    if fails:
        fake.enqueue_error(rc.ProviderError(status=500))
    else:
        fake.enqueue_reply(" three.")
    frames = run(service, conversation_id=cid, continue_message_id=mid)
    assert seen[0].status == "in_progress"  # running, not repaired
    after = reply(service, cid, mid)
    assert after.metadata["continuations"] == 1  # counted once
    if fails:
        assert frames[-1].event == "error"
        assert after.status == "incomplete" and after.text == "One two"  # as it was
    else:
        assert frames[-1].event == "done"
        assert after.status == "completed" and after.text == "One two three."
