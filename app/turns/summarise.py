"""Summaries of what a replay drops (API "Context": summaries): one model call through the same
`Provider.stream` as a turn, collected into a `Summary` record that covers a prefix of a branch.

A summary grows incrementally: the longest earlier text summary that is a prefix of what must be
covered goes in as text, with only the messages after it. The caller stores the record
(`store.add_summary`) and replans; `compaction.ContextUpkeep` runs the whole step before a turn's
request. Imports no Flask; SDKs only through the provider adapters.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import conversation_manager as cm
import responses_client as rc
from app.attachments.errors import AttachmentRefused
from app.context import (
    ContextPlan,
    TokenCounter,
    context_budget,
    estimate_tokens,
    summary_text_cap,
)
from conversation_manager.models import Summary, Usage
from responses_client.pricing import Quote

from .candidates import output_cap, window_of
from .config import ChatSettings
from .finish import usage_record

# The one fixed instruction of every summary call; the conversation's own instructions stay out.
SUMMARY_INSTRUCTIONS = (
    "You write the running summary of a conversation, so that it can go on without its earlier "
    "messages. Summarise the conversation below: keep the facts, decisions, names, numbers, code "
    "and open questions a continuation needs, and who said what. When an earlier summary is "
    "given, fold it in. Write in the conversation's language. Answer with the summary alone."
)
SUMMARY_OUTPUT_TOKENS = 1024  # a summary longer than this would crowd the turn it serves
# A text file in a summary's input: at most this many characters of its block (~8k tokens).
FILE_CHARS = 32_000
ROLE_NAMES = {"user": "User", "assistant": "Assistant"}

Pricer = Callable[..., Quote]  # ChatService.price: (provider, model, usage, *, echoed_model)
# A text attachment's fenced block (AttachmentSource.text_block for the conversation's user).
TextBlock = Callable[[cm.Attachment], str]


class SummaryFailed(Exception):
    """A summary could not be written; `code` goes in the reply's `metadata.summary_error`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Collected:
    """The text and accounting of one summary call."""

    text: str
    usage: dict[str, int] | None
    model: str | None


def new_summary_id() -> str:
    """A fresh summary id (`s_` + 24 hex digits)."""
    return "s_" + secrets.token_hex(12)


def summary_writer(
    registry: rc.ProviderRegistry, settings: ChatSettings, provider: rc.Provider, model: str
) -> tuple[rc.Provider, str]:
    """The provider and model that write summaries: `CHAT_SUMMARY_MODEL`, else the turn's own.

    Raise `SummaryFailed("unknown_model")` when the setting names a provider not configured.
    """
    if not settings.summary_model:
        return provider, model
    try:
        name, named_model = rc.split_ref(settings.summary_model)
    except ValueError:
        raise SummaryFailed("unknown_model") from None
    live = registry.get(name)
    if live is None:
        raise SummaryFailed("unknown_model")
    return live, named_model


def is_prefix(covers: Sequence[str], ids: Sequence[str]) -> bool:
    """Whether `covers` are the first messages of `ids` (an empty list is no prefix)."""
    return 0 < len(covers) <= len(ids) and list(ids[: len(covers)]) == list(covers)


def base_summary(conversation: cm.Conversation, ids: Sequence[str]) -> Summary | None:
    """The longest text summary of `conversation` that covers a prefix of `ids`, or None."""
    best: Summary | None = None
    for summary in conversation.summaries:
        if summary.text is None or not is_prefix(summary.covers, ids):
            continue
        if best is None or len(summary.covers) > len(best.covers):
            best = summary
    return best


def _cut_block(block: str, name: str, limit: int) -> str:
    """A fenced file block of at most about `limit` characters: its start, closed by its own
    fence, then a line saying how much was left out."""
    if len(block) <= limit:
        return block
    fence = block.rsplit("\n", 1)[-1]  # the closing fence is the block's last line
    keep = max(0, limit - len(fence) - 1)
    left = len(block) - len(fence) - keep
    return f"{block[:keep].rstrip()}\n{fence}\n[the rest of {name}, {left:,} characters, left out]"


def entry(
    message: cm.Message, text_block: TextBlock | None = None, file_chars: int = FILE_CHARS
) -> str:
    """One message as the transcript holds it: `[image: <name>]` for each image, each text file's
    fenced block (cut to `file_chars`; `[file: <name>]` when its content cannot be read), then the
    text; "" for a message with none of these."""
    parts: list[str] = []
    for attachment in message.attachments:
        if attachment.kind == "image":
            parts.append(f"[image: {attachment.name}]")
            continue
        try:
            block = text_block(attachment) if text_block is not None else None
        except (cm.ConversationError, AttachmentRefused, OSError, ValueError):
            block = None  # a file gone from the store: the summary still says there was one
        parts.append(
            f"[file: {attachment.name}]"
            if block is None
            else _cut_block(block, attachment.name, file_chars)
        )
    if message.text:
        parts.append(message.text)
    return "\n\n".join(parts)


def transcript(
    messages: Sequence[cm.Message],
    text_block: TextBlock | None = None,
    file_chars: int = FILE_CHARS,
) -> str:
    """The messages as one plain text, each under its speaker's name (empty replies left out),
    with their attachments (`entry`)."""
    entries = ((m, entry(m, text_block, file_chars)) for m in messages)
    parts = [f"{ROLE_NAMES.get(m.role, m.role)}: {text}" for m, text in entries if text]
    return "\n\n".join(parts)


def summary_input(
    base: Summary | None,
    messages: Sequence[cm.Message],
    text_block: TextBlock | None = None,
    file_chars: int = FILE_CHARS,
) -> str:
    """The input of a summary call: the earlier summary (if any), then the messages after it."""
    body = f"Conversation:\n\n{transcript(messages, text_block, file_chars)}"
    if base is None or not base.text:
        return body
    earlier = f"Earlier summary:\n\n{base.text}"
    return f"{earlier}\n\n{body}" if messages else earlier


def file_chars_for(budget: int) -> int:
    """The characters one text file may take in a summary's input of `budget` tokens: at most
    a quarter of the budget (about four characters a token), and at most FILE_CHARS."""
    return max(0, min(FILE_CHARS, budget))


def fitted(
    base: Summary | None,
    messages: Sequence[cm.Message],
    budget: int,
    text_block: TextBlock | None = None,
) -> list[cm.Message]:
    """The oldest of `messages` whose summary input fits `budget` tokens (at least one message,
    so a summary always makes progress; the model's own check refuses one that cannot fit).
    A message counts with its attachments as `entry` writes them."""
    used = estimate_tokens(SUMMARY_INSTRUCTIONS) + estimate_tokens(summary_input(base, []))
    file_chars = file_chars_for(budget)
    kept: list[cm.Message] = []
    for message in messages:
        used += estimate_tokens(entry(message, text_block, file_chars)) + 2
        if kept and used > budget:
            break
        kept.append(message)
    return kept


def collect(
    provider: rc.Provider, request: rc.ResponseRequest, cancel: rc.CancelToken
) -> Collected:
    """Stream one summary call and collect its text; raise `SummaryFailed` unless it completed
    with text (a stopped call too: its summary would be cut short)."""
    text: list[str] = []
    finished: rc.Finished | None = None
    try:
        for event in provider.stream(request, cancel):
            if isinstance(event, rc.TextDelta):
                text.append(event.text)
            elif isinstance(event, rc.Finished):
                finished = event
    except rc.ProviderError as exc:
        raise SummaryFailed(exc.code) from exc
    joined = "".join(text).strip()
    if finished is None:
        raise SummaryFailed("interrupted")
    if finished.status != "completed":
        raise SummaryFailed(finished.reason or "other")
    if not joined:
        raise SummaryFailed("other")
    return Collected(joined, finished.usage, finished.model)


def summary_record(
    covers: Sequence[str],
    text: str | None,
    provider: str,
    model: str,
    usage: dict[str, int] | None,
    price: Pricer,
    *,
    echoed_model: str | None = None,
    provider_items: list[dict[str, object]] | None = None,
) -> Summary:
    """The stored record of a summary (or compaction) call, priced (None when unknown)."""
    record = usage_record(usage)
    quote = price(provider, model, usage, echoed_model=echoed_model) if usage else Quote(None, None)
    return Summary(
        id=new_summary_id(),
        covers=list(covers),
        text=text,
        provider=provider,
        model=model,
        usage=Usage.model_validate(record) if record is not None else None,
        cost_usd=quote.cost_usd,
        created_at=time.time(),
        provider_items=provider_items,
    )


def summary_cap(context: ContextPlan, counter: TokenCounter) -> int:
    """The output cap of a summary for the turn `context` plans (`counter`: that turn's): the room
    its plan leaves beside the messages kept, less the summary's prefix, so that the summary fits
    (the upkeep still cuts one that does not, counted by another tokenizer)."""
    return max(1, min(SUMMARY_OUTPUT_TOKENS, summary_text_cap(counter, context.summary_room)))


def summarise(
    conversation: cm.Conversation,
    ids: Sequence[str],
    writer: tuple[rc.Provider, str],
    registry: rc.ProviderRegistry,
    settings: ChatSettings,
    price: Pricer,
    cancel: rc.CancelToken,
    *,
    max_tokens: int = SUMMARY_OUTPUT_TOKENS,
    text_block: TextBlock | None = None,
) -> Summary:
    """Summarise the messages `ids` (a prefix of a branch, root first) in one call of at most
    `max_tokens` output tokens.

    The longest earlier summary of a prefix of them goes in as text with only the messages after
    it; as many of those as the writer's window holds are covered (the rest on a later turn).
    Images are named (`[image: <name>]`), text files go in as their blocks (`text_block`; cut to
    a share of the budget; without it, named). Raise `SummaryFailed`.
    """
    provider, model = writer
    base = base_summary(conversation, ids)
    start = len(base.covers) if base is not None else 0
    by_id = {m.id: m for m in conversation.messages}
    try:
        later = [by_id[mid] for mid in ids[start:]]
    except KeyError:
        raise SummaryFailed("not_found") from None
    if not later and base is None:
        raise SummaryFailed("other")  # nothing to summarise
    # No message after `base`: it stands for all of them but did not fit (a smaller window since),
    # so the call writes it again within this turn's cap.
    window, output_limit = window_of(registry, provider, model)
    budget = context_budget(
        window,
        context_tokens=settings.context_tokens,
        output_limits=(output_limit, max_tokens),
    )
    later = fitted(base, later, budget, text_block)
    own = registry.settings.get(provider.name)
    request = rc.ResponseRequest(
        model=model,
        input=summary_input(base, later, text_block, file_chars_for(budget)),
        instructions=SUMMARY_INSTRUCTIONS,
        store=False,  # a summary call is never chained from
        max_output_tokens=output_cap(max_tokens, output_limit),
        provider_options=dict(own.options) if own else {},
    )
    got = collect(provider, request, cancel)
    covers = [*ids[:start], *(m.id for m in later)]
    return summary_record(
        covers, got.text, provider.name, model, got.usage, price, echoed_model=got.model
    )
