"""A ChatService over several in-process FakeProviders (a ProviderRegistry), and frame helpers,
for the switching and fallback tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import conversation_manager as cm
import responses_client as rc
import stream_processor as sp
from app.turns import ChatService, ChatSettings, TurnRequest
from responses_client.registry import ModelInfo, ProviderSettings
from tests.conftest import Frame, parse_sse

USER = "alice"


def make_service(
    tmp_path: Path,
    providers: Iterable[Any],
    *,
    settings: Iterable[ProviderSettings] = (),
    models: Iterable[ModelInfo] = (),
    default: tuple[str, str] = ("openai", "gpt-a"),
    limits: Any = None,
    **chat: Any,
) -> ChatService:
    """A service whose registry holds `providers` (the first is the default, with `default`)."""
    store = cm.JsonConversationStore(tmp_path / "data", lock_timeout=1.0)
    registry = rc.ProviderRegistry.of(
        list(providers), settings=settings, models=models, default=default
    )
    chat.setdefault("max_retries", 2)
    config = ChatSettings(
        default_model=default[1],
        default_provider=default[0],
        instructions="Be brief.",
        lock_timeout=1.0,
        **chat,
    )
    return ChatService(
        store,
        registry,
        config,
        coordination_for=lambda user: sp.FileCoordination(store.turn_dir(user)),
        limits=limits,
    )


def run_turn(service: ChatService, **body: Any) -> list[Frame]:
    """Start a turn and read all its frames."""
    started = service.start(TurnRequest(user=USER, message=body.pop("message", None), **body))
    frames = parse_sse(b"".join(service.follow(started)))
    service.registry.wait_ended(service.coordination_for(USER), started.conversation_id, 5)
    return frames


def text_of(frames: list[Frame]) -> str:
    return "".join(f.data["text"] for f in frames if f.event == "delta")


def events(frames: list[Frame]) -> list[str]:
    return [f.event for f in frames]


def reply_of(service: ChatService, frames: list[Frame]) -> cm.Message:
    first = frames[0].data
    return service.store.get(USER, first["conversation_id"]).message(first["assistant_message_id"])


def conversation_of(service: ChatService, frames: list[Frame]) -> cm.Conversation:
    return service.store.get(USER, frames[0].data["conversation_id"])
