"""The upkeep step over the in-process FakeProvider: a stateful provider without a compaction of its
own gets a text summary and a replay past the threshold; a summary cut short is a noted failure; a
stop during the summary call stops the turn and stores nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from app.context import SUMMARY_PREFIX
from app.turns import ChatService, TurnRequest
from app.turns.summarise import SUMMARY_INSTRUCTIONS
from responses_client.adapters.fake import FakeProvider
from tests.chat.multi_provider import USER, make_service, run_turn
from tests.conftest import parse_sse

BIG_USAGE = {"input_tokens": 500, "output_tokens": 10, "total_tokens": 510}


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider(name="fake", stateful=True)  # chains, but has no `compact`


@pytest.fixture
def service(tmp_path: Path, fake: FakeProvider) -> ChatService:
    return make_service(tmp_path, [fake], default=("fake", "m"), compact_after=100)


def first_turn(service: ChatService, fake: FakeProvider) -> str:
    fake.enqueue_reply("first answer", usage=BIG_USAGE)
    frames = run_turn(service, message="one")
    return str(frames[0].data["conversation_id"])


def test_a_provider_without_compaction_gets_a_text_summary_and_a_replay(
    service: ChatService, fake: FakeProvider
) -> None:
    cid = first_turn(service, fake)
    fake.enqueue_reply("SUM")
    fake.enqueue_reply("second answer")
    two = run_turn(service, message="two", conversation_id=cid)
    _, call, turn = fake.requests
    assert call.instructions == SUMMARY_INSTRUCTIONS and call.store is False
    assert call.input == "Conversation:\n\nUser: one\n\nAssistant: first answer"
    assert call.model == "m" and call.previous_response_id is None
    assert turn.previous_response_id is None
    assert turn.instructions == "Be brief." + SUMMARY_PREFIX + "SUM"
    assert turn.input == [{"role": "user", "content": "two"}]
    assert two[-1].event == "done" and two[-1].data["context_mode"] == "compacted"
    conversation = service.store.get(USER, cid)
    (summary,) = conversation.summaries
    assert summary.text == "SUM" and summary.covers == [m.id for m in conversation.messages[:2]]
    assert summary.provider == "fake" and summary.usage is not None

    # The new chain is small: the next turn chains from the reply that started it.
    fake.enqueue_reply("third answer")
    run_turn(service, message="three", conversation_id=cid)
    assert fake.requests[-1].previous_response_id == two[-1].data["response_id"]


def test_a_summary_cut_short_is_a_noted_failure(service: ChatService, fake: FakeProvider) -> None:
    cid = first_turn(service, fake)
    fake.enqueue_reply("SU", status="incomplete")
    fake.enqueue_reply("second answer")
    two = run_turn(service, message="two", conversation_id=cid)
    assert fake.requests[-1].previous_response_id == "resp_fake_1"  # still the chain
    assert two[-1].data["context_mode"] == "chained"
    conversation = service.store.get(USER, cid)
    assert conversation.summaries == []
    reply = conversation.message(two[0].data["assistant_message_id"])
    assert reply.metadata["summary_error"] == "max_output_tokens"


def test_a_stop_during_the_summary_call_stops_the_turn(
    service: ChatService, fake: FakeProvider
) -> None:
    cid = first_turn(service, fake)
    fake.enqueue_hold()  # the summary call: held until stopped
    started = service.start(TurnRequest(user=USER, message="two", conversation_id=cid))
    deadline = time.monotonic() + 5
    while len(fake.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.requests[-1].instructions == SUMMARY_INSTRUCTIONS
    service.stop(USER, cid)  # returns once the reply is saved
    frames = parse_sse(b"".join(service.follow(started)))
    assert frames[-1].event == "done" and frames[-1].data["status"] == "stopped"
    conversation = service.store.get(USER, cid)
    reply = conversation.message(started.assistant_message_id)
    assert reply.status == "stopped" and "summary_error" not in reply.metadata
    assert conversation.summaries == []
    assert len(fake.requests) == 2  # the turn's own request was never made


class Recorded:
    """Limits that admit every turn and record what each settles."""

    budget = None  # no budget: a turn's estimate is never priced

    def __init__(self) -> None:
        self.settled: list[tuple[float | None, int]] = []

    def precheck(self, user: str) -> None:
        pass

    def admit(self, user: str, *, estimated_tokens: int, estimated_cost_usd: float | None) -> Any:
        limits = self

        class Admitted:
            def settle(self, *, cost_usd: float | None, tokens: int) -> None:
                limits.settled.append((cost_usd, tokens))

            def release(self) -> None:
                pass

        return Admitted()

    def add_spend(self, user: str, *, cost_usd: float | None, tokens: int) -> None:
        self.settled.append((cost_usd, tokens))


def test_the_summary_call_counts_in_the_turns_spend(tmp_path: Path, fake: FakeProvider) -> None:
    limits = Recorded()
    service = make_service(
        tmp_path, [fake], default=("fake", "m"), compact_after=100, limits=limits
    )
    cid = first_turn(service, fake)
    fake.enqueue_reply("SUM", usage={"input_tokens": 40, "output_tokens": 2, "total_tokens": 42})
    fake.enqueue_reply("second", usage={"input_tokens": 10, "output_tokens": 1, "total_tokens": 11})
    run_turn(service, message="two", conversation_id=cid)
    assert limits.settled[-1][1] == 42 + 11
    (summary,) = service.store.get(USER, cid).summaries
    assert summary.usage is not None and summary.usage.total_tokens == 42
