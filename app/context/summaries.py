"""The summaries a context plan may stand for the oldest messages of a branch (API "Context"): which
stored ones are reusable for a provider and model, what one counts as sent, and how a fresh text
summary is cut to the room its plan left for it (so a summary that was paid for is always used).

Pure functions over conversation records and a `TokenCounter`; imports neither Flask nor an SDK.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from conversation_manager import Conversation, Message
from conversation_manager.models import Summary

from .tokens import TURN_OVERHEAD, TokenCounter, estimate_tokens

__all__ = [
    "ELLIPSIS",
    "SUMMARY_PREFIX",
    "SUMMARY_RESERVE_TOKENS",
    "reusable_summaries",
    "summary_text_cap",
    "summary_tokens",
    "text_summary_tokens",
    "trim_summary",
]

SUMMARY_PREFIX = "\n\nSummary of the earlier conversation:\n"
# With summaries on, the prefix to summarise is cut so that the later messages leave this much
# room: a summary at most this long (its prefix included) then fits beside them.
SUMMARY_RESERVE_TOKENS = 1024
ELLIPSIS = " …"  # ends a summary cut to its room


def text_summary_tokens(counter: TokenCounter, text: str) -> int:
    """The tokens a text summary adds to a request: its prefix and text on the instructions."""
    return counter.text(SUMMARY_PREFIX + text) - TURN_OVERHEAD


def summary_tokens(counter: TokenCounter, summary: Summary) -> int:
    """The tokens `summary` adds to a request (a compaction: its reported output, else a guess)."""
    if summary.text is not None:
        return text_summary_tokens(counter, summary.text)
    if summary.usage is not None and summary.usage.output_tokens:
        return summary.usage.output_tokens
    return estimate_tokens(json.dumps(summary.provider_items or []))


def summary_text_cap(counter: TokenCounter, room: int) -> int:
    """The most tokens a summary's text may have so that, with its prefix, it fits `room` (one
    spare for a token merged or a count rounded up at the seam); 0 when nothing fits."""
    return max(0, room - text_summary_tokens(counter, "") - 1)


def trim_summary(counter: TokenCounter, text: str, room: int) -> str | None:
    """`text` itself when it fits `room` as a summary; else its longest run of whole words that
    fits with `ELLIPSIS` after it; None when not even one word does.

    The summary call's output cap is in the writer's tokens, which need not be the turn's (another
    model, a calibrated estimate): this is what makes a summary written for a plan fit it.
    """
    if text_summary_tokens(counter, text) <= room:
        return text
    # Cut points: the end of each word (before the whitespace that follows it).
    ends = [i for i in range(1, len(text)) if text[i].isspace() and not text[i - 1].isspace()]
    lo, hi = -1, len(ends)  # ends[lo] fits (-1: none known), ends[hi] does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if text_summary_tokens(counter, text[: ends[mid]] + ELLIPSIS) <= room:
            lo = mid
        else:
            hi = mid
    return text[: ends[lo]] + ELLIPSIS if lo >= 0 else None


def reusable_summaries(
    conversation: Conversation, path: Sequence[Message], provider: str, model: str
) -> list[Summary]:
    """The summaries that stand for a prefix of `path` (their `covers` are exactly its first
    messages), longest first.

    A provider's compaction (opaque items) goes back only to the provider and model that made it
    (API "Storage": provider items only to the same provider and model family; no family is known
    here, so the same model).
    """
    ids = [m.id for m in path]
    out = []
    for summary in conversation.summaries:
        k = len(summary.covers)
        if k == 0 or k > len(ids) or summary.covers != ids[:k]:
            continue
        if summary.text is None and (
            (summary.provider, summary.model) != (provider, model) or not summary.provider_items
        ):
            continue
        out.append(summary)
    out.sort(key=lambda s: len(s.covers), reverse=True)
    return out
