"""Model-written titles (`CHAT_AUTO_TITLES`, API "Conversations: more fields"): after the first
completed reply of a conversation still named from its first message, ask the conversation's own
model for a short title, clean it, and save it with the call's usage and cost.

It runs after the turn's final frame (never delaying `done`), in a thread of its own so the turn's
lock is free at once; every failure is logged and ignored. The store keeps the user's name: only a
name whose source is still "message" is replaced (`ConversationStore.set_title`). Imports no Flask;
SDKs only through the providers.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import conversation_manager as cm
import responses_client as rc
from conversation_manager.models import TITLE_CALL
from conversation_manager.usage import is_model_reply
from responses_client.pricing import Quote

from .finish import usage_record

log = logging.getLogger(__name__)

TITLE_MAX_CHARS = 60
# A title is a dozen tokens, but a reasoning model spends output tokens thinking first: room for
# that, still small. Where the model's reasoning efforts are known, the lightest one is asked for.
TITLE_MAX_OUTPUT_TOKENS = 256
LIGHT_EFFORTS = ("none", "minimal", "low")
# What the model reads of the first exchange: enough for the topic, never a whole long message.
EXCHANGE_CHARS = 2_000
TITLE_INSTRUCTIONS = (
    "You name conversations. Reply with a short title (at most six words) for the conversation "
    "below, in its language. Reply with the title only: no quotes, no Markdown, no full stop."
)
_PREFIX = re.compile(r"^(title|titel|titre)\s*:\s*", re.IGNORECASE)
_MARKUP = re.compile(r"[*_`#>\[\]]+")
_QUOTES = "\"'“”‘’„«»「」『』"

Price = Callable[..., Quote]


def clean_title(text: str) -> str | None:
    """One line of at most 60 characters, without quotes, Markdown or a trailing full stop; None
    when nothing is left."""
    line = next((part for part in text.splitlines() if part.strip()), "")
    line = _MARKUP.sub("", line)
    line = " ".join(line.split())
    line = _PREFIX.sub("", line)
    line = line.translate({ord(q): None for q in _QUOTES}).strip()
    line = line.rstrip(".。!:;,- ").strip()
    if len(line) > TITLE_MAX_CHARS:
        cut = line[:TITLE_MAX_CHARS]
        space = cut.rfind(" ")
        line = (cut[:space] if space > TITLE_MAX_CHARS // 2 else cut).rstrip(" ,;:-")
    return line or None


def light_reasoning(efforts: tuple[str, ...] | None) -> dict[str, str] | None:
    """The lightest reasoning effort the model is known to take, or None (send none)."""
    for effort in LIGHT_EFFORTS:
        if efforts and effort in efforts:
            return {"effort": effort}
    return None


def first_exchange(conversation: cm.Conversation, reply_id: str) -> str | None:
    """The user message and the reply `reply_id` to it, as the title call's input."""
    try:
        path = conversation.path_to(reply_id)
    except cm.NotFound:
        return None
    question = next((m.text for m in path if m.role == "user" and m.text.strip()), "")
    answer = path[-1].text
    if not question.strip() and not answer.strip():
        return None
    return (
        f"User: {question[:EXCHANGE_CHARS]}\n\nAssistant: {answer[:EXCHANGE_CHARS]}\n\n"
        "Title of this conversation:"
    )


def may_want_title(conversation: cm.Conversation) -> bool:
    """True while the conversation is named from its first message and has no title call yet."""
    return conversation.chat_name_source == "message" and TITLE_CALL not in conversation.metadata


def wants_title(conversation: cm.Conversation, reply_id: str) -> bool:
    """True when `reply_id` is the conversation's first completed reply, the name still comes
    from the first message, and no title was asked for yet."""
    if not may_want_title(conversation):
        return False
    completed = [m for m in conversation.messages if is_model_reply(m) and m.status == "completed"]
    return len(completed) == 1 and completed[0].id == reply_id


@dataclass
class TitleWriter:
    """Asks for and saves titles; `price(provider, model, usage, ...)` is the turn's own pricing."""

    store: cm.ConversationStore
    registry: rc.ProviderRegistry
    price: Price
    # The budget's ledger: a title call is spend of no turn (None: no limits configured).
    spend: Callable[..., None] | None = None

    def after_turn(
        self, then: Callable[[], None] | None, user: str, cid: str, reply_id: str
    ) -> Callable[[], None]:
        """A turn's `on_end`: run `then` (the admission's release), then start the title's thread."""

        def on_end() -> None:
            if then is not None:
                then()
            thread = threading.Thread(
                target=self.write, args=(user, cid, reply_id), name=f"title-{cid}", daemon=True
            )
            thread.start()

        return on_end

    def write(self, user: str, cid: str, reply_id: str) -> cm.ConversationSummary | None:
        """Ask for the title when the conversation wants one and save it; never raises."""
        try:
            return self._write(user, cid, reply_id)
        except Exception:
            log.warning("title_failed conversation=%s", cid, exc_info=True)
            return None

    def _write(self, user: str, cid: str, reply_id: str) -> cm.ConversationSummary | None:
        try:
            conversation = self.store.get(user, cid)
        except (cm.NotFound, cm.HistoryUnavailable):
            return None
        if not wants_title(conversation, reply_id):
            return None
        exchange = first_exchange(conversation, reply_id)
        provider = self.registry.get(conversation.provider)
        if exchange is None or provider is None:
            return None
        model = conversation.model
        request = rc.ResponseRequest(
            model=model,
            input=[{"role": "user", "content": exchange}],
            instructions=TITLE_INSTRUCTIONS,
            store=False,
            max_output_tokens=TITLE_MAX_OUTPUT_TOKENS,
            reasoning=light_reasoning(self.registry.model_info(provider.name, model).reasoning),
        )
        started = time.time()
        text: list[str] = []
        finished: rc.Finished | None = None
        for event in provider.stream(request, rc.CancelToken()):
            if isinstance(event, rc.TextDelta):
                text.append(event.text)
            elif isinstance(event, rc.Finished):
                finished = event
        usage = usage_record(finished.usage if finished is not None else None)
        quote = self.price(
            provider.name,
            model,
            usage,
            echoed_model=finished.model if finished is not None else None,
            billed_cost_usd=finished.cost_usd if finished is not None else None,
        )
        call: dict[str, Any] = {
            "provider": provider.name,
            "model": model,
            "usage": usage,
            "cost_usd": quote.cost_usd,
            "created_at": started,
        }
        if self.spend is not None:
            self.spend(user, cost_usd=quote.cost_usd, tokens=(usage or {}).get("total_tokens") or 0)
        title = clean_title("".join(text))
        if title is None:
            log.warning("title_empty conversation=%s", cid)
            title = conversation.chat_name  # the call still counts; the name stays
            call["empty"] = True
        try:
            saved = self.store.set_title(user, cid, title, call)
        except cm.NotFound:
            return None  # deleted meanwhile: never re-created
        log.info("title_written conversation=%s replaced=%s", cid, saved is not None)
        return saved
