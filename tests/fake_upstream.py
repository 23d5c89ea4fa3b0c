"""A real HTTP server on 127.0.0.1 speaking the Responses API wire format, misbehaving on demand.

For tests (`FakeUpstream()`, the `fake_upstream` fixture) and standalone runs:
`python -m tests.fake_upstream --port 8765`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.model_lists import ModelListing, serve_models
from tests.fakes.server import ClientGone, FakeHandler, FakeServer, serve_until_interrupted, serving

DEFAULT_REPLY = "Hello! How can I help?"
INJECTION_TEXT = 'a\n\nevent: done\ndata: {}\n\nb data: <script>alert("x")</script>\n\nc'
DEFAULT_SUMMARY = ["**Thinking it over**\n\nThe user greets me.", "**Answering**\n\nI greet back."]

# Status-error behaviours. Model names "fake-<name>[-<arg>][-x<N>]" select any behaviour.
_STATUS_ERRORS: dict[str, tuple[int, str, str | None, str, str]] = {
    # name: (status, type, param, code, message)
    "429": (429, "requests", None, "rate_limit_exceeded", "Rate limit reached for requests."),
    "quota": (
        429,
        "insufficient_quota",
        None,
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details.",
    ),
    "500": (500, "server_error", None, "server_error", "The server had an error."),
    "503": (503, "server_error", None, "server_is_overloaded", "The server is overloaded."),
    "401": (401, "invalid_request_error", None, "invalid_api_key", "Incorrect API key provided"),
    "403": (
        403,
        "invalid_request_error",
        None,
        "unsupported_country_region_territory",
        "Forbidden",
    ),
    "context": (
        400,
        "invalid_request_error",
        "input",
        "context_length_exceeded",
        "Your input exceeds the context window of this model.",
    ),
    "model404": (
        404,
        "invalid_request_error",
        "model",
        "model_not_found",
        "The model does not exist or you do not have access to it.",
    ),
    "400": (400, "invalid_request_error", "temperature", "unsupported_value", "Unsupported value."),
    # A server without the route (a Responses server lacking POST /responses/compact).
    "404": (404, "invalid_request_error", None, "not_found", "Not found."),
    "405": (405, "invalid_request_error", None, "method_not_allowed", "Method not allowed."),
    "prev_not_found": (
        400,
        "invalid_request_error",
        "previous_response_id",
        "previous_response_not_found",
        "Previous response with id '{prev}' not found.",
    ),
    "prev_invalid": (
        400,
        "invalid_request_error",
        None,
        "invalid_request_error",
        "Invalid `previous_response_id`.",
    ),
}
_STREAM_KINDS = {
    "ok",
    "reset",
    "stall",
    "stall_start",
    "gap",
    "malformed",
    "error_nested",
    "error_flat",
    "failed",
    "incomplete",
    "content_filter",
    "openrouter",
    "noseq",
    "dupseq",
    "gapseq",
    "refusal",
    "injection",
    "text",
    "reasoning",
    "reasoning_raw",
    "truncated",
    "commentary",
    "silent",
}


def behaviour(kind: str, **params: Any) -> dict[str, Any]:
    """Build one behaviour for `FakeUpstream.script` (e.g. `behaviour("reset", after=3)`).

    Parameters every behaviour takes: `request_id` (the x-request-id header sent), `headers`
    (more response headers, e.g. `{"x-should-retry": "false"}`), `response_id` (the id in the
    stream's response objects; None leaves the key out), `reason` (an incomplete reason).
    `silent` reads the request and says nothing for `seconds` (default 25), then answers normally.
    """
    if kind not in _STATUS_ERRORS and kind not in _STREAM_KINDS:
        raise ValueError(f"unknown behaviour {kind!r}")
    return {"kind": kind, **params}


def parse_behaviour(spec: str | dict[str, Any]) -> dict[str, Any]:
    """Turn "reset:3", "429:0.05" or "gap:1.5" into a behaviour dict; dicts pass through."""
    if isinstance(spec, dict):
        return behaviour(**spec)
    kind, _, arg = spec.partition(":")
    params: dict[str, Any] = {}
    if arg:
        if kind in ("429", "quota", "503", "500"):
            params["retry_after"] = arg
        elif kind in ("gap", "stall_start", "silent"):
            params["seconds"] = float(arg)
        else:
            params["after"] = int(arg)
    return behaviour(kind, **params)


class Headers(dict[str, str]):
    """Request headers with case-insensitive lookup (keys stored lower-case)."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(str(key).lower())


@dataclass
class Recorded:
    """One request as the fake upstream saw it, plus what happened on its stream."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: Any
    time: float
    behaviour: str = "ok"
    status: int = 0
    response_id: str | None = None
    events_written: int = 0
    client_closed: bool = False
    completed: bool = False
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait_done(self, timeout: float = 5.0) -> bool:
        """Wait until the handler finished with this request (stream ended or client went away)."""
        return self.done.wait(timeout)


class FakeUpstream(FakeServer):
    """Responses API fake: configure `reply`, `script([...])`, `threads`; read `requests`."""

    api_path = "/v1"  # the URL to give the SDK is `.../v1`

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(host, port, _Handler, "fake-upstream")
        self.tls = tls  # a server-side context: HTTPS instead of HTTP
        self.reply: str | Callable[[dict[str, Any]], str] = DEFAULT_REPLY
        self.chunk_size = 4
        self.delta_delay = 0.0
        self.n_deltas: int | None = None
        self.reasoning_summary: list[str] | None = None
        self.resolved_model: str | None = None
        self.threads: dict[str, Any] = {}
        self.requests: list[Recorded] = []
        self.responses: dict[str, dict[str, Any]] = {}
        self._script: list[dict[str, Any]] = []
        self._model_counts: dict[str, int] = {}
        # POST /v1/responses/compact: None answers; a status-error name ("500") refuses it.
        self.compact_error: str | None = None
        self.model_listing = ModelListing()  # GET /v1/models (OpenAI's and xAI's shape)

    # -- configuration ---------------------------------------------------------------------------
    def script(self, behaviours: list[str | dict[str, Any]]) -> None:
        """Queue behaviours, consumed one per POST /v1/responses (then the default applies)."""
        parsed = [parse_behaviour(b) for b in behaviours]
        with self._lock:
            self._script.extend(parsed)

    def forget(self, response_id: str) -> None:
        """Expire one stored response id."""
        with self._lock:
            self.responses.pop(response_id, None)

    def forget_all(self) -> None:
        """Expire every stored response id."""
        with self._lock:
            self.responses.clear()

    def reset(self) -> None:
        """Clear recordings, script and settings back to defaults (ids are kept)."""
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self._model_counts.clear()
        self.reply = DEFAULT_REPLY
        self.chunk_size = 4
        self.delta_delay = 0.0
        self.n_deltas = None
        self.reasoning_summary = None
        self.compact_error = None

    def compact_requests(self) -> list[Recorded]:
        """The recorded POST /v1/responses/compact requests, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/").endswith("/responses/compact")]

    def responses_requests(self) -> list[Recorded]:
        """The recorded POST /v1/responses requests, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/").endswith("/responses")]

    def last(self) -> Recorded:
        """The latest recorded request."""
        with self._lock:
            return self.requests[-1]

    # -- internals -------------------------------------------------------------------------------
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
        if name not in _STATUS_ERRORS and name not in _STREAM_KINDS:
            return {"kind": "ok"}
        return parse_behaviour(f"{name}:{arg}" if arg else name)

    def _deltas(self, text: str, b: dict[str, Any]) -> list[str]:
        offsets = b.get("offsets")
        if offsets is not None:
            cuts = [0, *sorted(o for o in offsets if 0 < o < len(text)), len(text)]
            return [text[a:z] for a, z in itertools.pairwise(cuts) if z > a]
        size = max(1, int(b.get("chunk_size", self.chunk_size)))
        pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        n = b.get("n_deltas", self.n_deltas)
        if n:
            pieces = list(itertools.islice(itertools.cycle(pieces), n))
        return pieces


def _mask_key(auth: str) -> str:
    key = auth.removeprefix("Bearer ").strip()
    return f"{key[:10]}***{key[-4:]}" if len(key) > 14 else "***"


def _response_obj(
    rid: str,
    body: dict[str, Any],
    model: str,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    created: int,
    incomplete_reason: str | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": error,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": None,
        "prompt_cache_retention": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default" if usage else "auto",
        "store": body.get("store", True),
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


def _user_texts(inputs: list[Any]) -> list[str]:
    """The user messages' texts of a chain's inputs (strings, plain turns or input items)."""
    texts: list[str] = []
    for value in inputs:
        if isinstance(value, str):
            texts.append(value)
            continue
        for item in value if isinstance(value, list) else []:
            if not isinstance(item, dict) or item.get("role") != "user":
                continue
            content = item.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                parts = [p for p in content if isinstance(p, dict)]
                texts.append("".join(str(p.get("text", "")) for p in parts))
    return texts


def _user_item(text: str) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex}",
        "type": "message",
        "status": "completed",
        "content": [{"type": "input_text", "text": text}],
        "role": "user",
    }


def _obf() -> str:
    return secrets.token_urlsafe(8).replace("-", "a").replace("_", "b")


class _Handler(FakeHandler[FakeUpstream]):
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

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self._request_id())
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _request_id(self) -> str:
        b = getattr(self, "behaviour_now", None) or {}
        return str(b.get("request_id", f"req_{uuid.uuid4().hex[:24]}"))

    # -- routes ----------------------------------------------------------------------------------
    def do_GET(self) -> None:
        rec = self._record(None)
        parts = rec.path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["v1", "threads"] and parts[3] == "messages":
            self._thread_messages(rec, parts[2])
        elif parts == ["v1", "models"]:
            rec.status = serve_models(self, self.fake.model_listing, "openai", rec.query)
        else:
            rec.status = 404
            self._send_json(
                404, {"error": {"message": "Not found", "type": "invalid_request_error"}}
            )
        rec.done.set()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        rec = self._record(body)
        if len(raw) < length:
            # The client went away while sending its body (a stop as the request went out on a
            # pooled connection): nothing was asked, so nothing is answered.
            rec.client_closed = True
            self.close_connection = True
            rec.done.set()
            return
        try:
            if rec.path.rstrip("/") == "/v1/responses/compact" and isinstance(body, dict):
                self._compact(rec, body)
                return
            if rec.path.rstrip("/") != "/v1/responses" or not isinstance(body, dict):
                rec.status = 404 if isinstance(body, dict) else 400
                self._send_json(
                    rec.status, {"error": {"message": "bad", "type": "invalid_request_error"}}
                )
                return
            self._responses(rec, body)
        except (ClientGone, OSError):
            # OSError: the connection was shut (a stop of the server, a client reset) while the
            # status line or headers were being written, before _chunk could say so.
            rec.client_closed = True
            self.close_connection = True
        finally:
            rec.done.set()

    def _thread_messages(self, rec: Recorded, thread_id: str) -> None:
        msgs = self.fake.threads.get(thread_id)
        if msgs is None:
            rec.status = 404
            err = {
                "message": f"No thread found with id '{thread_id}'.",
                "type": "invalid_request_error",
            }
            self._send_json(404, {"error": {**err, "param": None, "code": None}})
            return
        if isinstance(msgs, str):  # a behaviour name such as "500"
            rec.status = 500
            self._send_json(500, {"error": {"message": "server error", "type": "server_error"}})
            return
        q = {k: v[-1] for k, v in rec.query.items()}
        limit = max(1, min(100, int(q.get("limit", 20))))
        items = sorted(msgs, key=lambda m: m.get("created_at", 0), reverse=q.get("order") != "asc")
        if "after" in q:
            ids = [m["id"] for m in items]
            items = items[ids.index(q["after"]) + 1 :] if q["after"] in ids else []
        page = items[:limit]
        rec.status = 200
        self._send_json(
            200,
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": len(items) > limit,
            },
        )

    def _compact(self, rec: Recorded, body: dict[str, Any]) -> None:
        """`POST /v1/responses/compact`: a `CompactedResponse` (the chain's user messages, then
        one opaque `compaction` item), or the status error `compact_error` names."""
        fake = self.fake
        if fake.compact_error is not None:
            status, etype, param, code, message = _STATUS_ERRORS[fake.compact_error]
            rec.status = status
            err = {"message": message, "type": etype, "param": param, "code": code}
            self._send_json(status, {"error": err})
            return
        prev = body.get("previous_response_id")
        inputs: list[Any] = []
        with fake._lock:
            while prev is not None and prev in fake.responses:
                stored = fake.responses[prev]
                inputs.insert(0, stored["input"])
                prev = stored["previous_response_id"]
        if prev is not None:
            rec.status = 400
            err = {
                "message": f"Previous response with id '{prev}' not found.",
                "type": "invalid_request_error",
                "param": "previous_response_id",
                "code": "previous_response_not_found",
            }
            self._send_json(400, {"error": err})
            return
        inputs.append(body.get("input"))
        output = [_user_item(text) for text in _user_texts(inputs)]
        output.append(
            {
                "id": f"cmp_{uuid.uuid4().hex}",
                "type": "compaction",
                "encrypted_content": "gAAAA" + secrets.token_urlsafe(24),
            }
        )
        n_in = max(1, len(json.dumps(inputs)) // 4)
        usage = {
            "input_tokens": n_in,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 40,
            "output_tokens_details": {"reasoning_tokens": 8},
            "total_tokens": n_in + 40,
        }
        rid = f"resp_{uuid.uuid4().hex}"
        rec.response_id = rid
        rec.status = 200
        rec.completed = True
        obj = {
            "id": rid,
            "object": "response.compaction",
            "created_at": int(time.time()),
            "output": output,
            "usage": usage,
        }
        self._send_json(200, obj)

    def _responses(self, rec: Recorded, body: dict[str, Any]) -> None:
        fake = self.fake
        b = fake._pick(body)
        kind = b["kind"]
        rec.behaviour = kind
        self.behaviour_now = b
        if kind == "silent":
            # Accepted, then not a byte, not even the status line: the wait for headers.
            self._wait(float(b.get("seconds", 25)))
            b = {**b, "kind": "ok"}
            kind = "ok"
        prev = body.get("previous_response_id")
        if kind in _STATUS_ERRORS:
            status, etype, param, code, message = _STATUS_ERRORS[kind]
            if kind == "401":
                masked = _mask_key(self.headers.get("Authorization", ""))
                message = f"Incorrect API key provided: {masked}."
            message = message.replace("{prev}", str(prev))
            headers = {}
            if status == 429:
                headers["retry-after"] = str(b.get("retry_after", "0.01"))
            elif "retry_after" in b:
                headers["retry-after"] = str(b["retry_after"])
            headers.update(b.get("headers", {}))
            rec.status = status
            err = {"message": message, "type": etype, "param": param, "code": code}
            self._send_json(status, {"error": err}, headers)
            return
        if prev is not None:
            with fake._lock:
                known = prev in fake.responses
            if not known:
                rec.status = 400
                err = {
                    "message": f"Previous response with id '{prev}' not found.",
                    "type": "invalid_request_error",
                    "param": "previous_response_id",
                    "code": "previous_response_not_found",
                }
                self._send_json(400, {"error": err})
                return
        rid = f"resp_{uuid.uuid4().hex}{uuid.uuid4().hex[:16]}"
        rec.response_id = rid
        if body.get("store", True) is not False:
            with fake._lock:
                fake.responses[rid] = {
                    "input": body.get("input"),
                    "previous_response_id": prev,
                    "instructions": body.get("instructions"),
                    "model": body.get("model"),
                }
        if body.get("stream"):
            self._stream(rec, body, b, rid)
        else:
            self._non_stream(rec, body, b, rid)

    def _plan(
        self, body: dict[str, Any], b: dict[str, Any]
    ) -> tuple[str, list[str], list[str] | None]:
        fake = self.fake
        kind = b["kind"]
        if kind == "injection":
            text = INJECTION_TEXT
        elif "text" in b:
            text = b["text"]
        else:
            text = fake.reply(body) if callable(fake.reply) else fake.reply
        summary = b.get("summary", fake.reasoning_summary)
        if summary is None and (
            kind == "reasoning" or (body.get("reasoning") or {}).get("summary")
        ):
            summary = DEFAULT_SUMMARY
        return text, fake._deltas(text, b), summary

    def _usage(self, body: dict[str, Any], n_out: int, n_reason: int) -> dict[str, Any]:
        n_in = max(
            1, len(json.dumps(body.get("input"))) // 4 + len(body.get("instructions") or "") // 4
        )
        with self.fake._lock:
            cached = 8 if body.get("previous_response_id") in self.fake.responses else 0
        return {
            "input_tokens": n_in,
            "input_tokens_details": {"cached_tokens": min(cached, n_in)},
            "output_tokens": n_out + n_reason,
            "output_tokens_details": {"reasoning_tokens": n_reason},
            "total_tokens": n_in + n_out + n_reason,
        }

    def _non_stream(self, rec: Recorded, body: dict[str, Any], b: dict[str, Any], rid: str) -> None:
        text, deltas, _ = self._plan(body, b)
        model = self.fake.resolved_model or str(body.get("model"))
        msg = {
            "id": f"msg_{uuid.uuid4().hex}",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}],
        }
        usage = self._usage(body, len(deltas), 0)
        obj = _response_obj(rid, body, model, "completed", [msg], usage, int(time.time()))
        rec.status = 200
        rec.completed = True
        self._send_json(200, obj)

    def _stream(self, rec: Recorded, body: dict[str, Any], b: dict[str, Any], rid: str) -> None:
        fake = self.fake
        kind = b["kind"]
        after = int(b.get("after", 2))
        delay = float(b.get("delta_delay", fake.delta_delay))
        text, deltas, summary = self._plan(body, b)
        model = fake.resolved_model or str(body.get("model"))
        created = int(time.time())
        data_only = kind == "openrouter"
        seq = itertools.count()

        rec.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("x-request-id", self._request_id())
        for k, v in b.get("headers", {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()

        def emit(ev: dict[str, Any], *, seq_no: int | None = None) -> None:
            if kind != "noseq":
                ev = {
                    "type": ev["type"],
                    "sequence_number": next(seq) if seq_no is None else seq_no,
                    **ev,
                }
            data = json.dumps(ev, separators=(",", ":"))
            frame = f"data: {data}\n\n" if data_only else f"event: {ev['type']}\ndata: {data}\n\n"
            self._chunk(frame.encode())
            rec.events_written += 1

        if kind == "stall_start":
            if "seconds" in b:
                self._wait(b["seconds"])
            else:
                self._hold()

        def shown(obj: dict[str, Any]) -> dict[str, Any]:
            if "response_id" in b:
                obj = {k: v for k, v in obj.items() if k != "id"}
                if b["response_id"] is not None:
                    obj["id"] = b["response_id"]
            return obj

        snapshot = shown(_response_obj(rid, body, model, "in_progress", [], None, created))
        emit({"type": "response.created", "response": snapshot})
        emit({"type": "response.in_progress", "response": snapshot})
        output: list[dict[str, Any]] = []
        n_reason = 0
        if summary or kind == "reasoning_raw":
            rs_id = f"rs_{uuid.uuid4().hex}"
            item = {"id": rs_id, "type": "reasoning", "summary": [], "encrypted_content": None}
            emit({"type": "response.output_item.added", "output_index": 0, "item": item})
            parts: list[dict[str, Any]] = []
            if kind == "reasoning_raw":
                part0 = {"type": "reasoning_text", "text": ""}
                raw = "Let me think. The user says hello."
                ref = {"item_id": rs_id, "output_index": 0, "content_index": 0}
                emit({"type": "response.content_part.added", **ref, "part": part0})
                for i in range(0, len(raw), 8):
                    emit({"type": "response.reasoning_text.delta", **ref, "delta": raw[i : i + 8]})
                    n_reason += 1
                emit({"type": "response.reasoning_text.done", **ref, "text": raw})
                emit({"type": "response.content_part.done", **ref, "part": {**part0, "text": raw}})
                item = {**item, "content": [{"type": "reasoning_text", "text": raw}]}
            for k, s in enumerate(summary or []):
                ref = {"item_id": rs_id, "output_index": 0, "summary_index": k}
                part = {"type": "summary_text", "text": ""}
                emit({"type": "response.reasoning_summary_part.added", **ref, "part": part})
                for i in range(0, len(s), 6):
                    ev = {
                        "type": "response.reasoning_summary_text.delta",
                        **ref,
                        "delta": s[i : i + 6],
                    }
                    emit({**ev, "obfuscation": _obf()})
                    n_reason += 1
                emit({"type": "response.reasoning_summary_text.done", **ref, "text": s})
                emit(
                    {
                        "type": "response.reasoning_summary_part.done",
                        **ref,
                        "part": {**part, "text": s},
                    }
                )
                parts.append({"type": "summary_text", "text": s})
            item = {**item, "summary": parts}
            emit({"type": "response.output_item.done", "output_index": 0, "item": item})
            output.append(item)
        if kind == "commentary":
            idx = len(output)
            c_id = f"msg_{uuid.uuid4().hex}"
            c_text = "Let me look at that first."
            c_item = {
                "id": c_id,
                "type": "message",
                "status": "in_progress",
                "content": [],
                "role": "assistant",
                "phase": "commentary",
            }
            ref = {"item_id": c_id, "output_index": idx, "content_index": 0}
            part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
            emit({"type": "response.output_item.added", "output_index": idx, "item": c_item})
            emit({"type": "response.content_part.added", **ref, "part": part})
            emit({"type": "response.output_text.delta", **ref, "delta": c_text, "logprobs": []})
            emit({"type": "response.output_text.done", **ref, "text": c_text, "logprobs": []})
            emit({"type": "response.content_part.done", **ref, "part": {**part, "text": c_text}})
            done_item = {**c_item, "status": "completed", "content": [{**part, "text": c_text}]}
            emit({"type": "response.output_item.done", "output_index": idx, "item": done_item})
            output.append(done_item)

        idx = len(output)
        msg_id = f"msg_{uuid.uuid4().hex}"
        refusal = kind == "refusal"
        msg_item: dict[str, Any] = {
            "id": msg_id,
            "type": "message",
            "status": "in_progress",
            "content": [],
            "role": "assistant",
        }
        if kind == "commentary":
            msg_item["phase"] = "final_answer"
        part = (
            {"type": "refusal", "refusal": ""}
            if refusal
            else {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        )
        if refusal and "text" not in b:
            text = "I'm sorry, but I can't help with that."
            deltas = fake._deltas(text, b)
        ref = {"item_id": msg_id, "output_index": idx, "content_index": 0}
        emit({"type": "response.output_item.added", "output_index": idx, "item": msg_item})
        emit({"type": "response.content_part.added", **ref, "part": part})

        sent = ""
        n_sent = 0
        last_seq = -1
        for i, d in enumerate(deltas):
            if i == after:
                if kind == "reset":
                    self._reset()
                    return
                if kind == "stall":
                    self._hold()
                if kind == "gap":
                    self._wait(float(b.get("seconds", 1.0)))
                if kind == "malformed":
                    self._chunk(b"event: response.output_text.delta\ndata: {not json\n\n")
                    rec.events_written += 1
                if kind in ("error_nested", "error_flat"):
                    code = b.get("code", "insufficient_quota")
                    msg = "You exceeded your current quota (key sk-test-SECRET...)."
                    if kind == "error_nested":
                        etype = "insufficient_quota" if "quota" in code else code
                        ev = {"error": {"type": etype, "code": code, "message": msg, "param": None}}
                    else:
                        ev = {"code": code, "message": msg, "param": None}
                    emit({"type": "error", **ev})
                    self._end()
                    return
                if kind == "failed":
                    err = {"code": "server_error", "message": "The model failed."}
                    failed = shown(
                        _response_obj(rid, body, model, "failed", [], None, created, error=err)
                    )
                    emit({"type": "response.failed", "response": failed})
                    self._end()
                    return
                if kind in ("incomplete", "content_filter"):
                    break
                if kind == "truncated":
                    self._end()
                    return
                if kind == "gapseq":
                    for _ in range(3):
                        next(seq)
            if i and delay:
                self._wait(delay)
            ev: dict[str, Any] = {
                "type": f"response.{'refusal' if refusal else 'output_text'}.delta"
            }
            ev.update(ref)
            ev["delta"] = d
            if not refusal:
                ev["logprobs"] = []
                if kind != "noseq":
                    ev["obfuscation"] = _obf()
            if kind != "noseq":
                last_seq = next(seq)
            emit(ev, seq_no=last_seq if kind != "noseq" else None)
            if kind == "dupseq" and i == after:
                emit(ev, seq_no=last_seq)
            sent += d
            n_sent += 1
        if fake._stopping.is_set():
            raise ClientGone
        if refusal:
            emit({"type": "response.refusal.done", **ref, "refusal": sent})
            final_part = {"type": "refusal", "refusal": sent}
        else:
            emit({"type": "response.output_text.done", **ref, "text": sent, "logprobs": []})
            final_part = {**part, "text": sent}
        emit({"type": "response.content_part.done", **ref, "part": final_part})
        incomplete = {"incomplete": "max_output_tokens", "content_filter": "content_filter"}.get(
            kind
        )
        done_item = {**msg_item, "status": "incomplete" if incomplete else "completed"}
        done_item["content"] = [final_part]
        emit({"type": "response.output_item.done", "output_index": idx, "item": done_item})
        output.append(done_item)
        usage = self._usage(body, n_sent, n_reason)
        status = "incomplete" if incomplete else "completed"
        if incomplete:
            incomplete = b.get("reason", incomplete)
        final = shown(_response_obj(rid, body, model, status, output, usage, created, incomplete))
        emit({"type": f"response.{status}", "response": final})
        if data_only:
            self._chunk(b"data: [DONE]\n\n")
        self._end()
        rec.completed = True


def running(fake: FakeUpstream | None = None) -> Iterator[FakeUpstream]:
    """Start a fake upstream for the duration of a `with` block or a fixture."""
    yield from serving(fake or FakeUpstream())


@pytest.fixture
def fake_upstream() -> Iterator[FakeUpstream]:
    """A started `FakeUpstream`, stopped (threads joined) after the test."""
    yield from running()


def main(argv: list[str] | None = None) -> None:
    """Run the fake upstream in the foreground."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--reply", default=DEFAULT_REPLY)
    ap.add_argument("--chunk-size", type=int, default=4)
    ap.add_argument("--delta-delay", type=float, default=0.0)
    ap.add_argument("--n-deltas", type=int, default=None)
    args = ap.parse_args(argv)
    fake = FakeUpstream(args.host, args.port)
    fake.reply = args.reply
    fake.chunk_size = args.chunk_size
    fake.delta_delay = args.delta_delay
    fake.n_deltas = args.n_deltas
    serve_until_interrupted(fake, "fake upstream")


if __name__ == "__main__":
    main()
