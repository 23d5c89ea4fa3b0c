"""The inputs of a turn: the deployment's chat settings and one validated `POST /chat` request.

Plain frozen dataclasses; imports nothing of the app.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_REPLY_CHARS = 200_000
# How long past the store's lock timeout a finishing turn keeps trying to save its reply.
SAVE_GRACE_SECONDS = 5.0
# How long past the save deadline a stop or delete waits for the turn to end (the cancel itself).
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class ChatSettings:
    """The chat defaults and limits of this deployment."""

    default_model: str
    default_provider: str
    instructions: str
    max_message_chars: int = 100_000
    max_output_tokens: int | None = 16_000
    context_tokens: int = 128_000
    keepalive_seconds: float = 15.0
    max_reply_chars: int = DEFAULT_MAX_REPLY_CHARS  # 0: no cap
    max_retries: int = 2
    max_retry_after: float = 10.0
    lock_timeout: float = 10.0
    secrets: tuple[str, ...] = ()  # redacted from every upstream value before it is kept
    summaries: bool = False  # summarise what a replay drops (API "Context")
    summary_model: str | None = None  # `provider:model` writing them; None: the turn's own
    compact_after: int | None = None  # CHAT_COMPACT_INPUT_TOKENS: compact a chain past it
    auto_titles: bool = False  # CHAT_AUTO_TITLES: a model-written title after the first reply

    @property
    def save_deadline(self) -> float:
        """Seconds a finishing turn may spend saving its reply (all attempts together)."""
        return self.lock_timeout + SAVE_GRACE_SECONDS

    @property
    def stop_deadline(self) -> float:
        """Seconds a stop or delete waits for the reply to be saved before answering 503."""
        return self.save_deadline + STOP_GRACE_SECONDS


@dataclass(frozen=True)
class TurnRequest:
    """A validated `POST /chat` body, with the user it is for."""

    user: str
    message: str | None
    conversation_id: str | None = None
    chat_name: str | None = None
    model: str | None = None
    provider: str | None = None
    parent_message_id: str | None = None
    regenerate: bool = False
    template_id: str | None = None  # start a new conversation from this template
    variables: Mapping[str, str] | None = None  # the template's variables
    attachments: tuple[str, ...] = ()  # attachment ids uploaded by this user (API "Attachments")
    options: Mapping[str, Any] | None = None  # per-model options (API "Providers"), checked later
    # A stopped or incomplete reply to continue in place (app/turns/continuation.py).
    continue_message_id: str | None = None
