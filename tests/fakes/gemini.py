"""A real HTTP server on 127.0.0.1 speaking Gemini's wire formats, misbehaving on demand.

`POST /{version}/models/{model}:streamGenerateContent?alt=sse`: data-only SSE frames
(`data: {GenerateContentResponse}` + CRLF CRLF, no event names, no `[DONE]`), thought parts with
base64 `thoughtSignature`s, cumulative `usageMetadata`, the last chunk carrying `finishReason`.
`POST /{version}/interactions` (`"stream": true`): named events whose data carries `event_type`
(`interaction.created`, `interaction.status_update`, `step.start`/`step.delta`/`step.stop`,
`interaction.completed`), then `data: [DONE]`; stored interactions chain by
`previous_interaction_id` (an unknown one is a 404 `not_found`).

Misbehaviour by model name `fake-<kind>[-<arg>][-x<N>]` (the first N calls only) or queued with
`script([...])`: see `STATUS_ERRORS` and `STREAM_KINDS`. For tests (`FakeGemini()`, the
`fake_gemini` fixture, `with running() as fake:`) and standalone runs:
`python -m tests.fakes.gemini --port 8766`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fake_upstream import Headers, Recorded
from tests.fakes.gemini_interactions import InteractionsHandler
from tests.fakes.gemini_wire import (
    DEFAULT_REPLY,
    DEFAULT_THOUGHT,
    SIGNATURE,
    STATUS_ERRORS,
    STREAM_KINDS,
    behaviour,
    input_tokens,
    parse_behaviour,
)
from tests.fakes.model_lists import ModelListing, serve_models
from tests.fakes.server import ClientGone, FakeServer, serve_until_interrupted, serving

__all__ = [
    "DEFAULT_REPLY",
    "DEFAULT_THOUGHT",
    "STATUS_ERRORS",
    "STREAM_KINDS",
    "FakeGemini",
    "behaviour",
    "fake_gemini",
    "running",
]


class FakeGemini(FakeServer):
    """Gemini fake: configure `reply`, `thought`, `n_deltas`, `script([...])`; read `requests`."""

    # `base_url` is the root: the SDK adds `/{api_version}/...`.
    # Not a count: the client addresses, one per connection (tests compare them).
    connections: list[tuple[str, int]]  # type: ignore[assignment]

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port, _Handler, "fake-gemini")
        self.reply: str | Callable[[dict[str, Any]], str] = DEFAULT_REPLY
        self.thought: str | None = (
            None  # thought text sent before the answer (None: only "thinking")
        )
        self.chunk_size = 4
        self.n_deltas: int | None = None
        self.delta_delay = 0.0
        self.model_version: str | None = None
        self.cached_tokens = 0
        self.requests: list[Recorded] = []
        self.connections = []
        self.interactions: dict[str, dict[str, Any]] = {}
        self._script: list[dict[str, Any]] = []
        self._model_counts: dict[str, int] = {}
        self.model_listing = ModelListing()  # GET /{version}/models (paged: nextPageToken)

    def script(self, behaviours: list[str | dict[str, Any]]) -> None:
        """Queue behaviours, consumed one per model call (then the model name's or "ok")."""
        parsed = [parse_behaviour(b) for b in behaviours]
        with self._lock:
            self._script.extend(parsed)

    def forget(self, interaction_id: str) -> None:
        """Expire one stored interaction."""
        with self._lock:
            self.interactions.pop(interaction_id, None)

    def _connected(self, address: Any) -> None:
        self.connections.append(address)

    def last(self) -> Recorded:
        """The latest recorded request."""
        with self._lock:
            return self.requests[-1]

    def _pick(self, model: str) -> dict[str, Any]:
        with self._lock:
            if self._script:
                return self._script.pop(0)
            if not model.startswith("fake-"):
                return {"kind": "ok"}
            spec = model[len("fake-") :]
            times = None
            if "-x" in spec:
                spec, _, n = spec.rpartition("-x")
                times = int(n)
            count = self._model_counts.get(model, 0)
            self._model_counts[model] = count + 1
        if times is not None and count >= times:
            return {"kind": "ok"}
        name, _, arg = spec.partition("-")
        if name not in STATUS_ERRORS and name not in STREAM_KINDS:
            return {"kind": "ok"}
        return parse_behaviour(f"{name}:{arg}" if arg else name)

    def pieces(self, text: str) -> list[str]:
        """The text split into deltas (`chunk_size` characters; `n_deltas` cycles to N)."""
        size = max(1, self.chunk_size)
        parts = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        if self.n_deltas:
            parts = list(itertools.islice(itertools.cycle(parts), self.n_deltas))
        return parts


def _response_id() -> str:
    return secrets.token_urlsafe(16)


class _Handler(InteractionsHandler):
    """generateContent and the request routing; the Interactions route comes from its mixin."""

    # -- routes ----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        headers = Headers((k.lower(), v) for k, v in self.headers.items())
        rec = Recorded("GET", url.path, query, headers, None, time.time())
        with self.fake._lock:
            self.fake.requests.append(rec)
        if url.path.strip("/").split("/")[1:] == ["models"]:
            rec.status = serve_models(self, self.fake.model_listing, "gemini", query)
        else:
            rec.status = 404
            self._send_json(404, {"error": {"code": 404, "status": "NOT_FOUND"}}, {}, {})
        rec.done.set()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        url = urlsplit(self.path)
        rec = Recorded(
            method="POST",
            path=url.path,
            query=parse_qs(url.query),
            headers=Headers((k.lower(), v) for k, v in self.headers.items()),
            body=body,
            time=time.time(),
        )
        with self.fake._lock:
            self.fake.requests.append(rec)
        try:
            parts = url.path.strip("/").split("/")
            if not isinstance(body, dict):
                self._send_json(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}}, {}, {})
            elif len(parts) == 2 and parts[1] == "interactions":
                self._interaction(rec, body)
            elif len(parts) == 3 and parts[1] == "models" and ":" in parts[2]:
                model, _, method = parts[2].partition(":")
                if method != "streamGenerateContent":
                    rec.status = 404
                    self._send_json(404, {"error": {"code": 404, "status": "NOT_FOUND"}}, {}, {})
                else:
                    self._generate(rec, model, body)
            else:
                rec.status = 404
                self._send_json(404, {"error": {"code": 404, "status": "NOT_FOUND"}}, {}, {})
        except (ClientGone, OSError):
            rec.client_closed = True
            self.close_connection = True
        finally:
            rec.done.set()

    def _generate(self, rec: Recorded, model: str, body: dict[str, Any]) -> None:
        fake = self.fake
        b = self._pre(rec, model, "generate")
        if b is None:
            return
        kind = b["kind"]
        after = int(b.get("after", 2))
        rid = _response_id()
        rec.response_id = rid
        version = fake.model_version or model
        text = b.get("text") or (fake.reply(body) if callable(fake.reply) else fake.reply)
        n_in = input_tokens(body)
        thought = fake.thought or (
            DEFAULT_THOUGHT if kind in ("thinking", "bad_signature") else None
        )
        self._start_stream(rec, b)
        if kind == "stall_start":
            if "seconds" in b:
                self._wait(float(b["seconds"]))
            else:
                self._hold()

        n_thoughts = 0
        n_out = 0

        def usage(final: bool) -> dict[str, Any]:
            u: dict[str, Any] = {"promptTokenCount": n_in, "totalTokenCount": n_in}
            if fake.cached_tokens:
                u["cachedContentTokenCount"] = fake.cached_tokens
            if n_thoughts:
                u["thoughtsTokenCount"] = n_thoughts * 10
            if n_out or final:
                u["candidatesTokenCount"] = n_out
            u["totalTokenCount"] = n_in + n_out + n_thoughts * 10
            if final:
                u["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": n_in}]
                u["trafficType"] = "ON_DEMAND"
            return u

        def emit(obj: dict[str, Any]) -> None:
            if kind != "no_id":
                obj["responseId"] = rid
            obj["modelVersion"] = version
            self._chunk(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\r\n\r\n")
            rec.events_written += 1

        def candidate(parts: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
            return {"content": {"role": "model", "parts": parts}, "index": 0, **more}

        if kind == "blocked":
            emit(
                {
                    "promptFeedback": {
                        "blockReason": b.get("reason", "SAFETY"),
                        "safetyRatings": [
                            {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}
                        ],
                    },
                    "usageMetadata": usage(False),
                }
            )
            self._end()
            rec.completed = True
            return
        if thought:
            for i in range(0, len(thought), 12):
                n_thoughts += 1
                emit(
                    {
                        "candidates": [candidate([{"text": thought[i : i + 12], "thought": True}])],
                        "usageMetadata": usage(False),
                    }
                )
        pieces = [] if kind == "empty" else fake.pieces(text)
        for i, piece in enumerate(pieces):
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
                    code = int(b.get("code", 500))
                    gstatus = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}.get(code, "INTERNAL")
                    err = {
                        "code": code,
                        "message": "An internal error has occurred.",
                        "status": gstatus,
                    }
                    self._chunk(b"data: " + json.dumps({"error": err}).encode() + b"\r\n\r\n")
                    rec.events_written += 1
                    self._end()
                    return
                if kind in ("safety", "max_tokens"):
                    break
            if i and fake.delta_delay:
                self._wait(fake.delta_delay)
            part: dict[str, Any] = {"text": piece}
            if i == 0 and thought:
                part["thoughtSignature"] = "not base64!" if kind == "bad_signature" else SIGNATURE
            n_out += 1
            emit({"candidates": [candidate([part])], "usageMetadata": usage(False)})
        if fake._stopping.is_set():
            raise ClientGone
        finish = {"safety": "SAFETY", "max_tokens": "MAX_TOKENS"}.get(kind, "STOP")
        finish = b.get("reason", finish) if kind in ("safety", "max_tokens") else finish
        last: dict[str, Any] = {"finishReason": finish, "index": 0}
        if kind == "safety":
            last["content"] = {"role": "model", "parts": []}
            last["safetyRatings"] = [
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}
            ]
        else:
            last["content"] = {"role": "model", "parts": [{"text": ""}]}
        emit({"candidates": [last], "usageMetadata": usage(True)})
        self._end()
        rec.completed = True

    # -- Interactions ----------------------------------------------------------------------------


@contextlib.contextmanager
def running(fake: FakeGemini | None = None) -> Iterator[FakeGemini]:
    """Start a fake for the duration of a `with` block: `with running() as fake: fake.base_url`."""
    yield from serving(fake or FakeGemini())


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    """A started `FakeGemini`, stopped (threads joined) after the test."""
    with running() as fake:
        yield fake


def main(argv: list[str] | None = None) -> None:
    """Run the fake in the foreground."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--reply", default=DEFAULT_REPLY)
    ap.add_argument("--chunk-size", type=int, default=4)
    ap.add_argument("--n-deltas", type=int, default=None)
    ap.add_argument("--delta-delay", type=float, default=0.0)
    args = ap.parse_args(argv)
    fake = FakeGemini(args.host, args.port)
    fake.reply = args.reply
    fake.chunk_size = args.chunk_size
    fake.n_deltas = args.n_deltas
    fake.delta_delay = args.delta_delay
    serve_until_interrupted(fake, "fake Gemini")


if __name__ == "__main__":
    main()
