"""The fake Gemini upstream's Interactions route: `POST /{version}/interactions` with `"stream": true`.

Named events whose data carries `event_type` (`interaction.created`, `interaction.status_update`,
`step.start`/`step.delta`/`step.stop`, `interaction.completed`, `error`), then `data: [DONE]`.
Stored interactions chain by `previous_interaction_id`; an unknown one is a 404 `not_found`.
"""

from __future__ import annotations

import itertools
import json
import secrets
from typing import Any

from tests.fake_upstream import Recorded
from tests.fakes.gemini_wire import (
    DEFAULT_THOUGHT,
    SIGNATURE,
    StreamingHandler,
    input_tokens,
)
from tests.fakes.server import ClientGone


class InteractionsHandler(StreamingHandler):
    """The Interactions route (mixed into the fake's handler)."""

    def _interaction(self, rec: Recorded, body: dict[str, Any]) -> None:
        fake = self.fake
        model = str(body.get("model") or "")
        prev = body.get("previous_interaction_id")
        if prev is not None:
            with fake._lock:
                known = prev in fake.interactions
            if not known:
                rec.behaviour = "prev_not_found"
                rec.status = 404
                msg = f"Interaction {prev} not found."
                self._send_json(404, {"error": {"code": "not_found", "message": msg}}, {}, {})
                return
        b = self._pre(rec, model, "interactions")
        if b is None:
            return
        kind = b["kind"]
        after = int(b.get("after", 2))
        iid = f"v1_{secrets.token_urlsafe(18)}"
        rec.response_id = iid
        if body.get("store", True) is not False:
            with fake._lock:
                fake.interactions[iid] = {"previous": prev, "input": body.get("input")}
        text = b.get("text") or (fake.reply(body) if callable(fake.reply) else fake.reply)
        summaries = (body.get("generation_config") or {}).get("thinking_summaries")
        thought = fake.thought or (DEFAULT_THOUGHT if kind == "thinking" else None)
        if summaries == "none":
            thought = None
        self._start_stream(rec, b)
        if kind == "stall_start":
            if "seconds" in b:
                self._wait(float(b["seconds"]))
            else:
                self._hold()
        eid = itertools.count(1)

        def emit(name: str, data: dict[str, Any]) -> None:
            data = {"event_type": name, **data, "event_id": f"evt_{next(eid)}"}
            frame = f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
            self._chunk(frame.encode())
            rec.events_written += 1

        shown = {"id": iid, "status": "in_progress", "model": model, "object": "interaction"}
        emit("interaction.created", {"interaction": shown})
        emit("interaction.status_update", {"interaction_id": iid, "status": "in_progress"})
        index = 0
        n_thought = 0
        if thought:
            emit("step.start", {"index": 0, "step": {"type": "thought", "summary": []}})
            for i in range(0, len(thought), 12):
                n_thought += 1
                summary = {"type": "text", "text": thought[i : i + 12]}
                emit(
                    "step.delta",
                    {"index": 0, "delta": {"type": "thought_summary", "content": summary}},
                )
            sig = {"type": "thought_signature", "signature": SIGNATURE}
            emit("step.delta", {"index": 0, "delta": sig})
            emit("step.stop", {"index": 0})
            index = 1
        emit("step.start", {"index": index, "step": {"type": "model_output", "content": []}})
        n_out = 0
        status = "completed"
        for i, piece in enumerate([] if kind == "empty" else fake.pieces(text)):
            if i == after:
                if kind == "reset":
                    self._reset()
                    return
                if kind == "stall":
                    self._hold()
                if kind == "truncated":
                    self._end()
                    return
                if kind == "error_after":
                    code = str(b.get("error_code", "internal"))
                    emit(
                        "error", {"error": {"code": code, "message": "An internal error occurred."}}
                    )
                    self._chunk(b"data: [DONE]\n\n")
                    self._end()
                    return
                if kind in ("max_tokens", "safety"):
                    status = "incomplete"
                    break
            if i and fake.delta_delay:
                self._wait(fake.delta_delay)
            n_out += 1
            emit("step.delta", {"index": index, "delta": {"type": "text", "text": piece}})
        if fake._stopping.is_set():
            raise ClientGone
        emit("step.stop", {"index": index})
        n_in = input_tokens(body)
        usage = {
            "total_input_tokens": n_in,
            "total_output_tokens": n_out,
            "total_thought_tokens": n_thought * 10,
            "total_cached_tokens": fake.cached_tokens,
            "total_tokens": n_in + n_out + n_thought * 10,
        }
        final = {**shown, "status": status, "usage": usage, "service_tier": "standard"}
        emit("interaction.completed", {"interaction": final})
        self._chunk(b"data: [DONE]\n\n")
        self._end()
        rec.completed = True
