"""A real HTTP server on 127.0.0.1 speaking the Anthropic Messages API, misbehaving on demand.

`POST /v1/messages` with `stream: true` answers named SSE events byte for byte as the reference
(providers.md §1.2) shows: `event: <name>` then `data: {"type": "<name>", ...}` and a blank line,
`message_start` -> blocks (`thinking` with its `signature_delta`, then `text`) -> `message_delta`
-> `message_stop`, with `ping`s, the `request-id` header and the rate-limit headers. Like the
real API it refuses `temperature`/`top_p`/`top_k` (400), a missing `max_tokens` (400), and keeps
message threads (beta `message-threads-2026-08-12`): `thread: {"type": "create"}` holds the
conversation under the reply's id, `{"type": "continue", "previous_message_id": ...}` continues
it (404 `thread_not_found` when gone, 400 `thread_already_continued` when continued twice).

Misbehaviour by model name (`fake-<kind>[-<arg>][-x<N>]`: the first N calls only) or by a queued
`script([...])`: see `behaviour()`. For tests (`FakeAnthropic()`, `with running() as fake:`, the
`fake_anthropic` fixture) and standalone runs: `python -m tests.fakes.anthropic --port 8766`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fake_upstream import Headers, Recorded
from tests.fakes.model_lists import ModelListing, serve_models
from tests.fakes.server import ClientGone, FakeHandler, FakeServer, serve_until_interrupted, serving

DEFAULT_REPLY = "Hello! How can I help?"
DEFAULT_THINKING = ["Let me think about the greeting.", "A short answer will do."]
THREADS_BETA = "message-threads-2026-08-12"
SIGNATURE = "EqQBCkgIARABGAIiQJ1t0Ld1pQq8pX4Ff2wJ1vW0aYrZb3m7c1QxvW9sPzQ=="  # base64, as sent

# name: (status, error.type, error.details.error_code or None, message)
STATUS_ERRORS: dict[str, tuple[int, str, str | None, str]] = {
    "400": (400, "invalid_request_error", None, "messages: text content blocks must be non-empty"),
    "context": (
        400,
        "invalid_request_error",
        None,
        "prompt is too long: 208656 tokens > 200000 maximum",
    ),
    "credit": (
        400,
        "invalid_request_error",
        None,
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
        "Billing to upgrade or purchase credits.",
    ),
    "401": (401, "authentication_error", None, "invalid x-api-key"),
    "402": (402, "billing_error", None, "Your account has no credit."),
    "403": (403, "permission_error", None, "Your API key does not have permission."),
    "404": (404, "not_found_error", None, "model: {model}"),
    "thread404": (
        404,
        "not_found_error",
        "thread_not_found",
        "No usable thread found for previous_message_id.",
    ),
    "413": (413, "request_too_large", None, "Request exceeds the maximum allowed size."),
    "429": (429, "rate_limit_error", None, "Number of request tokens has exceeded your limit."),
    "spend": (
        429,
        "rate_limit_error",
        "enforced_spend_limit_reached",
        "You have reached your spend limit.",
    ),
    "500": (500, "api_error", None, "Internal server error"),
    "503": (503, "api_error", None, "Service unavailable"),
    "504": (504, "timeout_error", None, "Request timed out"),
    "529": (529, "overloaded_error", None, "Overloaded"),
}
STREAM_KINDS = {
    "ok",  # a plain reply
    "thinking",  # a thinking block (two, with `thinking` as a list) before the text
    "error_event",  # `event: error` (type `error_type`, default overloaded_error) after `after` deltas
    "reset",  # the connection dropped (RST) after `after` deltas
    "truncated",  # the stream ends cleanly after `after` deltas, without message_stop
    "stall",  # after `after` deltas, silent until the client goes
    "stall_start",  # headers sent, then silent (for `seconds`, else until the client goes)
    "silent",  # not even the status line for `seconds` (default 25), then answers normally
    "malformed",  # a data line that is not JSON after `after` deltas
    "max_tokens",  # stop_reason max_tokens
    "refusal",  # stop_reason refusal (with stop_details)
    "context_window",  # stop_reason model_context_window_exceeded
    "keepalive",  # `: keep-alive` comments and pings between the deltas
    "injection",  # a text delta that looks like SSE framing and HTML
    "linger",  # after message_stop the body does not end (for `seconds`, else until the client goes)
    "data_only",  # no `event:` lines (not what the API sends: the SDK then sees no events)
}
INJECTION_TEXT = 'a\n\nevent: message_stop\ndata: {}\n\nb <script>alert("x")</script>\n\nc'


def behaviour(kind: str, **params: Any) -> dict[str, Any]:
    """Build one behaviour for `FakeAnthropic.script` (e.g. `behaviour("reset", after=3)`).

    Every behaviour takes `request_id` (the request-id header), `headers` (more response
    headers, e.g. `{"x-should-retry": "false"}`), `text` (the reply), `message_id`. Status
    errors take `retry_after` (a 429 sends `retry-after: 1` unless told) and `retry_after_ms`;
    `error_event` takes `error_type`; `stall_start` and `silent` take `seconds`.
    """
    if kind not in STATUS_ERRORS and kind not in STREAM_KINDS:
        raise ValueError(f"unknown behaviour {kind!r}")
    return {"kind": kind, **params}


def parse_behaviour(spec: str | dict[str, Any]) -> dict[str, Any]:
    """Turn "reset:3", "429:5" or "stall_start:1.5" into a behaviour dict; dicts pass through."""
    if isinstance(spec, dict):
        return behaviour(**spec)
    kind, _, arg = spec.partition(":")
    params: dict[str, Any] = {}
    if arg:
        if kind in STATUS_ERRORS:
            params["retry_after"] = arg
        elif kind in ("stall_start", "silent", "linger"):
            params["seconds"] = float(arg)
        elif kind == "error_event" and not arg.isdigit():
            params["error_type"] = arg
        else:
            params["after"] = int(arg)
    return behaviour(kind, **params)


class FakeAnthropic(FakeServer):
    """Messages API fake: configure `reply`, `thinking`, `script([...])`; read `requests`."""

    # `base_url` is the root: the SDK adds `/v1/messages`.

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port, _Handler, "fake-anthropic")
        self.reply: str | Callable[[dict[str, Any]], str] = DEFAULT_REPLY
        self.thinking: list[str] | None = None  # thinking blocks sent before every reply
        self.chunk_size = 4
        self.delta_delay = 0.0
        self.n_deltas: int | None = None
        self.resolved_model: str | None = None
        self.cache_read = 0
        self.cache_write = 0
        self.service_tier = "standard"
        self.threads: dict[str, dict[str, Any]] = {}  # message id -> thread state
        self.requests: list[Recorded] = []
        self._script: list[dict[str, Any]] = []
        self._model_counts: dict[str, int] = {}
        self.model_listing = ModelListing()  # GET /v1/models (paged: has_more, after_id)

    def script(self, behaviours: list[str | dict[str, Any]]) -> None:
        """Queue behaviours, consumed one per POST /v1/messages (then the model name's applies)."""
        parsed = [parse_behaviour(b) for b in behaviours]
        with self._lock:
            self._script.extend(parsed)

    def long_reply(self, n_deltas: int, *, delta: str = "word ", delay: float = 0.0) -> None:
        """Make every reply `n_deltas` text deltas of `delta` (for benchmarks and stop tests)."""
        self.reply = delta
        self.chunk_size = len(delta)
        self.n_deltas = n_deltas
        self.delta_delay = delay

    def forget(self, message_id: str) -> None:
        """Expire one thread (a later continue from it gets 404 thread_not_found)."""
        with self._lock:
            self.threads.pop(message_id, None)

    def forget_all(self) -> None:
        """Expire every thread (the API deletes them 5 min after their last use)."""
        with self._lock:
            self.threads.clear()

    def messages_requests(self) -> list[Recorded]:
        """The recorded POST /v1/messages requests, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/") == "/v1/messages"]

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

    def _deltas(self, text: str) -> list[str]:
        size = max(1, self.chunk_size)
        pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        if self.n_deltas:
            pieces = list(itertools.islice(itertools.cycle(pieces), self.n_deltas))
        return pieces


def _tokens(value: Any) -> int:
    return max(1, len(json.dumps(value)) // 4)


class _Handler(FakeHandler[FakeAnthropic]):
    # -- plumbing --------------------------------------------------------------------------------
    def _record(self, body: Any) -> Recorded:
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
        return rec

    def _common_headers(self, b: dict[str, Any]) -> None:
        self.send_header("request-id", self.request_id)
        self.send_header("anthropic-organization-id", "org-fake")
        self.send_header("anthropic-ratelimit-requests-remaining", "49")
        self.send_header("anthropic-ratelimit-tokens-remaining", "79000")
        for k, v in b.get("headers", {}).items():
            self.send_header(k, v)

    def _error(
        self,
        rec: Recorded,
        b: dict[str, Any],
        status: int,
        etype: str,
        code: str | None,
        message: str,
    ) -> None:
        err: dict[str, Any] = {"type": etype, "message": message}
        if code:
            err["details"] = {"error_code": code}
        data = json.dumps({"type": "error", "error": err, "request_id": self.request_id}).encode()
        rec.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._common_headers(b)
        if "retry_after" in b:
            self.send_header("retry-after", str(b["retry_after"]))
        elif status == 429:
            self.send_header("retry-after", "1")
        if "retry_after_ms" in b:
            self.send_header("retry-after-ms", str(b["retry_after_ms"]))
        if status == 529 or etype == "overloaded_error":
            self.send_header("x-should-retry", "true")
        self.end_headers()
        self.wfile.write(data)

    # -- routes ----------------------------------------------------------------------------------
    def do_GET(self) -> None:
        rec = self._record(None)
        self.request_id = f"req_{uuid.uuid4().hex[:24]}"
        if rec.path.rstrip("/") == "/v1/models":
            rec.status = serve_models(self, self.fake.model_listing, "anthropic", rec.query)
        else:
            self._error(rec, {}, 404, "not_found_error", None, "Not found")
        rec.done.set()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        rec = self._record(body)
        self.request_id = f"req_{uuid.uuid4().hex[:24]}"
        try:
            if rec.path.rstrip("/") != "/v1/messages" or not isinstance(body, dict):
                self._error(rec, {}, 404, "not_found_error", None, "Not found")
                return
            self._messages(rec, body)
        except (ClientGone, OSError):
            rec.client_closed = True
            self.close_connection = True
        finally:
            rec.done.set()

    def _refusal(self, body: dict[str, Any]) -> tuple[int, str, str | None, str] | None:
        """What the real API refuses whatever the behaviour (under 2026-10-21)."""
        for name in ("temperature", "top_p", "top_k"):
            if name in body:
                return 400, "invalid_request_error", None, f"{name}: Extra inputs are not permitted"
        if not isinstance(body.get("max_tokens"), int):
            return 400, "invalid_request_error", None, "max_tokens: Field required"
        thread = body.get("thread")
        if thread is not None:
            betas = self.headers.get("anthropic-beta", "")
            if THREADS_BETA not in [b.strip() for b in betas.split(",")]:
                return 400, "invalid_request_error", None, "thread: requires the threads beta"
            if isinstance(thread, dict) and thread.get("type") == "continue":
                if "system" in body or "tools" in body:
                    return (
                        400,
                        "invalid_request_error",
                        "thread_unsupported_request",
                        ("system: not allowed when continuing a thread"),
                    )
                prev = thread.get("previous_message_id")
                with self.fake._lock:
                    state = self.fake.threads.get(str(prev))
                if state is None:
                    return STATUS_ERRORS["thread404"]
                if state.get("continued"):
                    return (
                        400,
                        "invalid_request_error",
                        "thread_already_continued",
                        ("This message was already continued."),
                    )
        return None

    def _messages(self, rec: Recorded, body: dict[str, Any]) -> None:
        fake = self.fake
        b = fake._pick(body)
        kind = b["kind"]
        rec.behaviour = kind
        self.request_id = str(b.get("request_id", self.request_id))
        if kind == "silent":
            self._wait(float(b.get("seconds", 25)))
            b, kind = {**b, "kind": "ok"}, "ok"
        refused = self._refusal(body)
        if refused is not None:
            self._error(rec, b, *refused)
            return
        if kind in STATUS_ERRORS:
            status, etype, code, message = STATUS_ERRORS[kind]
            self._error(rec, b, status, etype, code, message.replace("{model}", str(body["model"])))
            return
        self._stream(rec, body, b)

    def _stream(self, rec: Recorded, body: dict[str, Any], b: dict[str, Any]) -> None:
        fake = self.fake
        kind = b["kind"]
        after = int(b.get("after", 2))
        mid = str(b.get("message_id", f"msg_01{uuid.uuid4().hex[:22]}"))
        rec.response_id = mid
        model = fake.resolved_model or str(body.get("model"))
        if kind == "injection":
            text = INJECTION_TEXT
        elif "text" in b:
            text = b["text"]
        else:
            text = fake.reply(body) if callable(fake.reply) else fake.reply
        if kind == "refusal" and "text" not in b:
            text = "I can't help with that."
        deltas = fake._deltas(text)
        thinking = b.get("thinking", fake.thinking)
        if thinking is None and kind == "thinking":
            thinking = DEFAULT_THINKING

        thread = body.get("thread")
        cache_read, cache_write = fake.cache_read, fake.cache_write
        if isinstance(thread, dict) and thread.get("type") == "continue":
            with fake._lock:
                prior = fake.threads[str(thread.get("previous_message_id"))]
                prior["continued"] = True
            cache_read = cache_read or prior["input_tokens"]
        n_in = _tokens(body.get("messages")) + _tokens(body.get("system") or "")

        rec.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self._common_headers(b)
        self.end_headers()
        self.wfile.flush()

        named = kind != "data_only"

        def emit(name: str, data: dict[str, Any]) -> None:
            payload = json.dumps({"type": name, **data}, separators=(",", ":"))
            frame = f"event: {name}\ndata: {payload}\n\n" if named else f"data: {payload}\n\n"
            self._chunk(frame.encode())
            rec.events_written += 1

        if kind == "stall_start":
            if "seconds" in b:
                self._wait(float(b["seconds"]))
            else:
                self._hold()

        usage0 = {
            "input_tokens": n_in,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": cache_write,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": 1,
            "service_tier": fake.service_tier,
        }
        message: dict[str, Any] = {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage0,
        }
        emit("message_start", {"message": message})
        index = 0
        n_think = 0
        for part in thinking or []:
            emit(
                "content_block_start",
                {
                    "index": index,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                },
            )
            emit("ping", {})
            for i in range(0, len(part), 12):
                piece = part[i : i + 12]
                thought = {"type": "thinking_delta", "thinking": piece}
                emit("content_block_delta", {"index": index, "delta": thought})
                n_think += 1
            sig = {"type": "signature_delta", "signature": SIGNATURE}
            emit("content_block_delta", {"index": index, "delta": sig})
            emit("content_block_stop", {"index": index})
            index += 1
        emit("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
        delay = float(b.get("delta_delay", fake.delta_delay))
        n_sent = 0
        for i, d in enumerate(deltas):
            if i == after:
                if kind == "reset":
                    self._reset()
                    return
                if kind == "stall":
                    self._hold()
                if kind == "truncated":
                    self._end()
                    return
                if kind == "malformed":
                    self._chunk(b"event: content_block_delta\ndata: {not json\n\n")
                    rec.events_written += 1
                if kind == "error_event":
                    etype = str(b.get("error_type", "overloaded_error"))
                    err = {"type": etype, "message": "Overloaded (key sk-ant-SECRET...)"}
                    emit("error", {"error": err, "request_id": self.request_id})
                    self._end()
                    return
            if i and delay:
                self._wait(delay)
            if kind == "keepalive":
                self._chunk(b": keep-alive\n\n")
                emit("ping", {})
            emit(
                "content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": d}}
            )
            n_sent += 1
        if fake._stopping.is_set():
            raise ClientGone
        emit("content_block_stop", {"index": index})
        stop_reason = {
            "max_tokens": "max_tokens",
            "refusal": "refusal",
            "context_window": "model_context_window_exceeded",
        }.get(kind, "end_turn")
        delta: dict[str, Any] = {"stop_reason": stop_reason, "stop_sequence": None}
        if kind == "refusal":
            delta["stop_details"] = {"type": "refusal", "category": None, "explanation": None}
        n_out = n_sent + n_think
        usage: dict[str, Any] = {"output_tokens": n_out}
        if n_think:
            usage["output_tokens_details"] = {"thinking_tokens": n_think}
        emit("message_delta", {"delta": delta, "usage": usage})
        if isinstance(thread, dict):
            # Stored before the body ends: the client reads to the end, then a test may forget it.
            with fake._lock:
                fake.threads[mid] = {"input_tokens": n_in + cache_read, "continued": False}
        emit("message_stop", {})
        if kind == "linger":
            if "seconds" in b:
                self._wait(float(b["seconds"]))
            else:
                self._hold()
        self._end()
        rec.completed = True


@contextlib.contextmanager
def running(fake: FakeAnthropic | None = None) -> Iterator[FakeAnthropic]:
    """Start a fake Anthropic for the duration of a `with` block (`fake.base_url`)."""
    yield from serving(fake or FakeAnthropic())


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    """A started `FakeAnthropic`, stopped (threads joined) after the test."""
    with running() as fake:
        yield fake


def main(argv: list[str] | None = None) -> None:
    """Run the fake in the foreground."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--reply", default=DEFAULT_REPLY)
    ap.add_argument("--chunk-size", type=int, default=4)
    ap.add_argument("--delta-delay", type=float, default=0.0)
    ap.add_argument("--n-deltas", type=int, default=None)
    ap.add_argument("--thinking", action="store_true", help="send thinking blocks first")
    args = ap.parse_args(argv)
    fake = FakeAnthropic(args.host, args.port)
    fake.reply = args.reply
    fake.chunk_size = args.chunk_size
    fake.delta_delay = args.delta_delay
    fake.n_deltas = args.n_deltas
    fake.thinking = DEFAULT_THINKING if args.thinking else None
    serve_until_interrupted(fake, "fake anthropic")


if __name__ == "__main__":
    main()
