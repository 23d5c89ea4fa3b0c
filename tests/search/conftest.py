"""Search test fixtures: a JSON store in a temporary directory and helpers to fill it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conversation_manager import JsonConversationStore
from conversation_manager.search import SearchHit, SearchQuery

USER = "alice"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def store(data_dir: Path) -> JsonConversationStore:
    return JsonConversationStore(data_dir, lock_timeout=5.0)


def new_chat(
    store: JsonConversationStore, name: str = "A chat", user: str = USER, **kw: Any
) -> str:
    """Create a conversation; return its id."""
    args: dict[str, Any] = {"model": "gpt-test", "provider": "openai", "instructions": ""}
    args.update(kw)
    return store.create(user, chat_name=name, **args).id


def exchange(
    store: JsonConversationStore,
    cid: str,
    question: str,
    answer: str,
    *,
    parent_id: str | None = None,
    user: str = USER,
    model: str = "gpt-test",
    provider: str = "openai",
    cost_usd: float | None = 0.001,
) -> tuple[str, str]:
    """One finished turn; return (user message id, reply id)."""
    _, umsg, reply = store.begin_turn(
        user,
        cid,
        text=question,
        parent_id=parent_id,
        model=model,
        provider=provider,
        context_mode="first",
    )
    assert umsg is not None
    store.finish_assistant_message(
        user,
        cid,
        reply.id,
        text=answer,
        status="completed",
        usage={"input_tokens": 10, "output_tokens": 5, "cached_tokens": 2},
        cost_usd=cost_usd,
    )
    return umsg.id, reply.id


def find(store: JsonConversationStore, text: str, user: str = USER, **kw: Any) -> list[SearchHit]:
    return store.search(user, SearchQuery(text, **kw))


def ids(hits: list[SearchHit]) -> set[tuple[str, str | None]]:
    """The (conversation, message) pairs of the hits."""
    return {(h.conversation_id, h.message_id) for h in hits}
