"""A real HTTP server on 127.0.0.1 speaking Chat Completions streaming, misbehaving on demand.

Wire format as providers.md §3, §5, §6: data-only frames of `chat.completion.chunk` (no `event:`
lines), `usage` in an extra last chunk with `choices: []`, `data: [DONE]`, `: keep-alive` (DeepSeek)
or `: OPENROUTER PROCESSING` comments, reasoning in `delta.reasoning_content` (DeepSeek) or
`delta.reasoning` (OpenRouter, vLLM), an `error` object inside a chunk after HTTP 200 (OpenRouter).
`style` ("openai" | "deepseek" | "openrouter") picks the host's dialect: ids, usage fields, headers.

Any POST path ending in `/chat/completions` is served (DeepSeek's root base URL and `.../v1`);
status-error behaviours answer any POST path (so the xAI 400 for a bad key is served on
`/v1/responses` too). Behaviours: queued with `script([...])`, or by model name
`fake-<kind>[-<arg>][-x<N>]` (N: only the first N requests). Use `with running() as fake:` or the
`chat_fake` fixture; `python -m tests.fakes.chat_completions --port 8766` runs it standalone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fake_upstream import Headers, Recorded
from tests.fakes.chat_bodies import LEAKY, STATUS_ERRORS, usage_for
from tests.fakes.model_lists import ModelListing, serve_models
from tests.fakes.server import ClientGone, FakeHandler, FakeServer, serve_until_interrupted, serving

DEFAULT_REPLY = "Hello! How can I help?"
DEFAULT_REASONING = "Let me think. The user greets me."

STREAM_KINDS = frozenset(
    {
        "ok",
        "reasoning",  # reasoning deltas (the style's field) before the text
        "keepalive",  # `: keep-alive` comments before and between the deltas
        "length",  # finish_reason length
        "content_filter",  # finish_reason content_filter
        "refusal",  # delta.refusal instead of content
        "error_after",  # an error chunk after `after` deltas (OpenRouter's shape), then [DONE]
        "error_first",  # an error chunk as the first frame after HTTP 200
        "reset",  # RST after `after` deltas
        "stall",  # silent after `after` deltas until the client goes
        "stall_start",  # headers, then silence (or `seconds`, then the answer)
        "silent",  # not even the status line for `seconds` (default 25), then the answer
        "truncated",  # a clean end after `after` deltas: no finish, no [DONE]
        "no_done",  # finish and usage chunks, then a clean end without [DONE]
        "malformed",  # a frame that is not JSON after `after` deltas
        "no_id",  # chunks without `id`
        "empty",  # 200 and straight `data: [DONE]`
        "usage_on_finish",  # usage on the finish chunk itself (no extra chunk)
    }
)


def behaviour(kind: str, **params: Any) -> dict[str, Any]:
    """One behaviour for `FakeChat.script` (e.g. `behaviour("reset", after=3)`).

    Every behaviour takes `headers` (more response headers) and `request_id` (the x-request-id
    sent; None sends none); stream ones `text`, `reasoning`, `after`, `style`, `code` (error_after).
    """
    if kind not in STATUS_ERRORS and kind not in STREAM_KINDS:
        raise ValueError(f"unknown behaviour {kind!r}")
    return {"kind": kind, **params}


def parse_behaviour(spec: str | dict[str, Any]) -> dict[str, Any]:
    """ "reset:3" -> after=3, "429:2" -> retry_after="2", "silent:1.5" -> seconds=1.5."""
    if isinstance(spec, dict):
        return behaviour(**spec)
    kind, _, arg = spec.partition(":")
    params: dict[str, Any] = {}
    if arg:
        if kind in STATUS_ERRORS:
            params["retry_after"] = arg
        elif kind in ("stall_start", "silent"):
            params["seconds"] = float(arg)
        else:
            params["after"] = int(arg)
    return behaviour(kind, **params)


class FakeChat(FakeServer):
    """Chat Completions fake: set `reply`, `style`, `n_deltas`, `script([...])`; read `requests`."""

    api_path = "/v1"  # the URL to give the SDK is `.../v1`; DeepSeek's is `root_url`

    def __init__(self, host: str = "127.0.0.1", port: int = 0, style: str = "openai") -> None:
        super().__init__(host, port, _Handler, "fake-chat")
        self.style = style
        self.reply = DEFAULT_REPLY
        self.chunk_size = 4
        self.n_deltas: int | None = None
        self.delta_delay = 0.0
        self.requests: list[Recorded] = []
        self._script: list[dict[str, Any]] = []
        self._model_counts: dict[str, int] = {}
        # GET …/models in the style's shape ("openai" serves Ollama's sample ids).
        self.model_listing = ModelListing()

    def script(self, behaviours: list[str | dict[str, Any]]) -> None:
        """Queue behaviours, one per POST (then model-name behaviours or `ok`)."""
        parsed = [parse_behaviour(b) for b in behaviours]
        with self._lock:
            self._script.extend(parsed)

    def long_reply(self, n: int, piece: str = "word ") -> None:
        """Make the default reply `n` deltas of `piece` (for the benchmark)."""
        self.reply = piece
        self.chunk_size = len(piece)
        self.n_deltas = n

    def last(self) -> Recorded:
        """The latest recorded request."""
        with self._lock:
            return self.requests[-1]

    def _pick(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._script:
                return self._script.pop(0)
            model = str(body.get("model") or "")
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

    def _deltas(self, text: str, b: dict[str, Any]) -> list[str]:
        size = max(1, int(b.get("chunk_size", self.chunk_size)))
        pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        n = b.get("n_deltas", self.n_deltas)
        if n:
            pieces = [pieces[i % len(pieces)] for i in range(n)]
        return pieces


class _Handler(FakeHandler[FakeChat]):
    # -- plumbing --------------------------------------------------------------------------------
    def _send_json(self, status: int, obj: Any, headers: dict[str, str]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    # -- routes ----------------------------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        headers = Headers((k.lower(), v) for k, v in self.headers.items())
        rec = Recorded("GET", url.path, query, headers, None, time.time())
        with self.fake._lock:
            self.fake.requests.append(rec)
        if url.path.rstrip("/").endswith("/models"):
            shape = {"openai": "ollama"}.get(self.fake.style, self.fake.style)
            rec.status = serve_models(self, self.fake.model_listing, shape, query)
        else:
            rec.status = 404
            self._send_json(404, {"error": {"message": "Not found", "code": None}}, {})
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
            method=self.command,
            path=url.path,
            query=parse_qs(url.query),
            headers=Headers((k.lower(), v) for k, v in self.headers.items()),
            body=body,
            time=time.time(),
        )
        with self.fake._lock:
            self.fake.requests.append(rec)
        try:
            if not isinstance(body, dict):
                rec.status = 400
                self._send_json(400, {"error": {"message": "bad json"}}, {})
                return
            b = self.fake._pick(body)
            rec.behaviour = b["kind"]
            self._answer(rec, body, b, url.path)
        except (ClientGone, OSError):
            rec.client_closed = True
            self.close_connection = True
        finally:
            rec.done.set()

    def _headers(self, b: dict[str, Any], style: str, rid: str) -> dict[str, str]:
        headers: dict[str, str] = {}
        request_id = b.get("request_id", f"req_{uuid.uuid4().hex[:24]}")
        if request_id is not None and style != "openrouter":
            headers["x-request-id"] = str(request_id)
        if style == "openrouter":
            headers["X-Generation-Id"] = rid
        headers.update(b.get("headers", {}))
        return headers

    def _answer(self, rec: Recorded, body: dict[str, Any], b: dict[str, Any], path: str) -> None:
        kind = b["kind"]
        style = str(b.get("style", self.fake.style))
        rid = (
            f"gen-{int(time.time())}-{uuid.uuid4().hex[:20]}"
            if style == "openrouter"
            else (f"chatcmpl-{uuid.uuid4().hex}")
        )
        rec.response_id = rid
        if kind == "silent":
            self._wait(float(b.get("seconds", 25)))
            kind = "ok"
        if kind in STATUS_ERRORS:
            status, obj = STATUS_ERRORS[kind]
            prev = str(body.get("previous_response_id"))
            obj = json.loads(json.dumps(obj).replace("{prev}", prev))
            headers = self._headers(b, style, rid)
            if status in (429, 503, 529) or "retry_after" in b:
                headers["retry-after"] = str(b.get("retry_after", "0.01"))
            rec.status = status
            self._send_json(status, obj, headers)
            return
        if not path.rstrip("/").endswith("/chat/completions"):
            rec.status = 404
            self._send_json(404, {"error": {"message": "Not found", "code": None}}, {})
            return
        self._stream(rec, body, {**b, "kind": kind}, style, rid)

    def _stream(
        self, rec: Recorded, body: dict[str, Any], b: dict[str, Any], style: str, rid: str
    ) -> None:
        fake = self.fake
        kind = b["kind"]
        after = int(b.get("after", 2))
        delay = float(b.get("delta_delay", fake.delta_delay))
        text = b.get("text", "I'm sorry, I can't help with that." if kind == "refusal" else None)
        deltas = fake._deltas(text if text is not None else fake.reply, b)
        model = str(b.get("model", body.get("model")))
        created = int(time.time())
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        send_usage = include_usage or style == "openrouter"  # OpenRouter always sends it
        comment = b": OPENROUTER PROCESSING\n\n" if style == "openrouter" else b": keep-alive\n\n"

        rec.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        for k, v in self._headers(b, style, rid).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()

        def frame(obj: dict[str, Any]) -> None:
            self._chunk(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n")
            rec.events_written += 1

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
            obj: dict[str, Any] = {} if kind == "no_id" else {"id": rid}
            obj.update(object="chat.completion.chunk", created=created, model=model)
            if style == "openai":
                obj["service_tier"] = "default"
                obj["system_fingerprint"] = "fp_fake01"
            elif style == "deepseek":
                obj["system_fingerprint"] = "fp_ds_0001"
            else:
                obj["provider"] = "Anthropic"
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            obj["choices"] = [choice]
            if include_usage and style == "openai":
                obj["usage"] = None
            obj.update(extra)
            return obj

        if kind == "stall_start":
            if "seconds" in b:
                self._wait(b["seconds"])
            else:
                self._hold()
        if kind == "empty":
            self._chunk(b"data: [DONE]\n\n")
            self._end()
            rec.completed = True
            return
        if kind == "keepalive" or style == "openrouter":
            self._chunk(comment)
        if kind == "error_first":
            frame({"error": {"code": 502, "message": "Provider returned error " + LEAKY}})
            self._chunk(b"data: [DONE]\n\n")
            self._end()
            return
        reasoning_field = "reasoning_content" if style == "deepseek" else "reasoning"
        first: dict[str, Any] = {"role": "assistant", "content": ""}
        if style == "deepseek":
            first = {"role": "assistant", "content": None, "reasoning_content": ""}
        frame(chunk(first))
        n_reason = 0
        if kind == "reasoning":
            reasoning = str(b.get("reasoning", DEFAULT_REASONING))
            for i in range(0, len(reasoning), 8):
                frame(chunk({reasoning_field: reasoning[i : i + 8], "content": None}))
                n_reason += 1
        field = "refusal" if kind == "refusal" else "content"
        n_sent = 0
        for i, d in enumerate(deltas):
            if i == after:
                if kind == "reset":
                    self._reset()
                    return
                if kind == "stall":
                    self._hold()
                if kind == "malformed":
                    self._chunk(b"data: {not json\n\n")
                if kind == "error_after":
                    code = b.get("code", "server_error")
                    err = {"code": code, "message": "Upstream failed " + LEAKY}
                    frame(chunk({"content": ""}, "error", error=err))
                    self._chunk(b"data: [DONE]\n\n")
                    self._end()
                    return
                if kind == "truncated":
                    self._end()
                    return
                if kind in ("length", "content_filter"):
                    break
            if i and delay:
                self._wait(delay)
            if kind == "keepalive" and i:
                self._chunk(comment)
            frame(chunk({field: d}))
            n_sent += 1
        if fake._stopping.is_set():
            raise ClientGone
        finish = {"length": "length", "content_filter": "content_filter"}.get(kind, "stop")
        usage = usage_for(body, n_sent, n_reason, style)
        if kind == "usage_on_finish":
            frame(chunk({"content": ""}, finish, usage=usage))
        else:
            frame(chunk({"content": ""}, finish))
            if send_usage:
                last = chunk({})
                last["choices"] = []
                last["usage"] = usage
                frame(last)
        if kind != "no_done":
            self._chunk(b"data: [DONE]\n\n")
        self._end()
        rec.completed = True


@contextlib.contextmanager
def running(fake: FakeChat | None = None) -> Iterator[FakeChat]:
    """Start a fake for the duration of a `with` block or a fixture (stopped, threads joined)."""
    yield from serving(fake or FakeChat())


@pytest.fixture
def chat_fake() -> Iterator[FakeChat]:
    """A started `FakeChat` (style "openai"), stopped after the test."""
    with running() as fake:
        yield fake


def main(argv: list[str] | None = None) -> None:
    """Run the fake in the foreground."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--style", default="openai", choices=["openai", "deepseek", "openrouter"])
    ap.add_argument("--reply", default=DEFAULT_REPLY)
    ap.add_argument("--n-deltas", type=int, default=None)
    args = ap.parse_args(argv)
    fake = FakeChat(args.host, args.port, style=args.style)
    fake.reply = args.reply
    fake.n_deltas = args.n_deltas
    serve_until_interrupted(fake, "fake chat completions")


if __name__ == "__main__":
    main()
