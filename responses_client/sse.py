"""The raw SSE parser state: the Responses API's JSON events -> neutral events or `ProviderError`s.

Works on plain dicts (no SDK objects), so it is tested with lists of events.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from responses_client.errors import Interrupted, UpstreamFailed, _from_event_code
from responses_client.events import Event, Finished, ReasoningDelta, ResponseStarted, TextDelta

logger = logging.getLogger("responses_client")  # one logger name for the whole package


def _usage(raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, dict):
        return None

    def num(obj: Any, key: str) -> int:
        value = obj.get(key) if isinstance(obj, dict) else None
        return value if isinstance(value, int) else 0

    out = {
        "input_tokens": num(raw, "input_tokens"),
        "cached_tokens": num(raw.get("input_tokens_details"), "cached_tokens"),
        "output_tokens": num(raw, "output_tokens"),
        "reasoning_tokens": num(raw.get("output_tokens_details"), "reasoning_tokens"),
        "total_tokens": num(raw, "total_tokens"),
    }
    if not out["total_tokens"]:
        out["total_tokens"] = out["input_tokens"] + out["output_tokens"]
    return out


class _SSEState:
    """Turns raw SSE events (JSON dicts) into neutral events; raises `ProviderError`s."""

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self.response_id: str | None = None
        self.model: str | None = None
        self.text_seen = False
        self.refusal = False
        self.finished = False
        self.last_seq: int | None = None
        self.items: dict[str, tuple[str, str | None]] = {}  # item id -> (type, phase)
        self.reasoning_key: tuple[Any, ...] | None = None

    def _reasoning(self, key: tuple[Any, ...], delta: str) -> ReasoningDelta:
        if self.reasoning_key is not None and key != self.reasoning_key:
            delta = "\n\n" + delta
        self.reasoning_key = key
        return ReasoningDelta(delta)

    def handle(self, ev: Any) -> Event | None:
        """Return the neutral event for one upstream event (None when it carries nothing for us)."""
        if not isinstance(ev, dict):
            raise Interrupted(request_id=self.request_id, upstream_code="malformed_event")
        seq = ev.get("sequence_number")
        if isinstance(seq, int):
            last = self.last_seq
            if last is not None and seq <= last:
                logger.warning("upstream_sequence_duplicate seq=%d last=%d", seq, last)
                return None
            if last is not None and seq != last + 1:
                logger.warning("upstream_sequence_gap seq=%d last=%d", seq, last)
            self.last_seq = seq
        etype = ev.get("type")
        if etype == "response.output_text.delta":
            kind, phase = self.items.get(ev.get("item_id"), ("message", None))
            if kind != "message":
                return None
            if phase == "commentary":
                # gpt-5.x preambles are not the answer: shown with the reasoning, never mixed in.
                return self._reasoning(("commentary", ev.get("item_id")), ev.get("delta") or "")
            self.text_seen = True
            return TextDelta(ev.get("delta") or "")
        if etype == "response.reasoning_summary_text.delta":
            key = ("summary", ev.get("item_id"), ev.get("summary_index"))
            return self._reasoning(key, ev.get("delta") or "")
        if etype == "response.reasoning_text.delta":
            key = ("raw", ev.get("item_id"), ev.get("content_index"))
            return self._reasoning(key, ev.get("delta") or "")
        if etype == "response.refusal.delta":
            self.text_seen = True
            self.refusal = True
            return TextDelta(ev.get("delta") or "")
        if etype == "response.output_item.added":
            item = ev.get("item") or {}
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                self.items[item["id"]] = (str(item.get("type")), item.get("phase"))
            return None
        if etype == "response.created":
            resp = ev.get("response") or {}
            self.response_id = resp.get("id")
            self.model = resp.get("model")
            return ResponseStarted(str(self.response_id), str(self.model), self.request_id)
        if etype in ("response.completed", "response.incomplete"):
            resp = ev.get("response") or {}
            self.finished = True
            details = resp.get("incomplete_details")
            status: Literal["completed", "incomplete"] = (
                "incomplete" if etype == "response.incomplete" else "completed"
            )
            return Finished(
                status=status,
                response_id=resp.get("id") or self.response_id,
                usage=_usage(resp.get("usage")),
                model=resp.get("model") or self.model,
                reason=details.get("reason") if isinstance(details, dict) else None,
                refusal=self.refusal,
            )
        if etype == "response.failed":
            resp = ev.get("response") or {}
            err = resp.get("error") if isinstance(resp.get("error"), dict) else {}
            code = err.get("code")
            raise UpstreamFailed(request_id=self.request_id, upstream_code=code)
        if etype == "error":
            nested = ev.get("error")
            if isinstance(nested, dict):
                code = nested.get("code") or nested.get("type")
            else:
                code = ev.get("code")
            raise _from_event_code(code if isinstance(code, str) else None, self.request_id)
        return None
