"""The fake Gemini upstream's shared parts: behaviours, status errors and the handler's common replies.

Used by `tests.fakes.gemini` (generateContent and the server) and `tests.fakes.gemini_interactions`
(the Interactions route). Real sockets only: the socket plumbing (chunked frames, waits that notice
at once when the client hangs up) comes from `tests.fakes.server`.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from tests.fake_upstream import Recorded
from tests.fakes.server import FakeHandler

DEFAULT_REPLY = "Hello! How can I help?"
DEFAULT_THOUGHT = "**Planning** the answer. The user greets me."
SIGNATURE = base64.b64encode(b"\x0a\x24\x01\xd1\xed\x8a\x6d-signature").decode()

# name: (status, google.rpc status, ErrorInfo reason or None, message)
STATUS_ERRORS: dict[str, tuple[int, str, str | None, str]] = {
    "429": (429, "RESOURCE_EXHAUSTED", None, "Resource has been exhausted (e.g. check quota)."),
    "500": (500, "INTERNAL", None, "An internal error has occurred."),
    "503": (503, "UNAVAILABLE", None, "The model is overloaded. Please try again later."),
    "504": (504, "DEADLINE_EXCEEDED", None, "Deadline expired before operation could complete."),
    "400": (400, "INVALID_ARGUMENT", None, "Invalid value at 'generation_config.temperature'."),
    "badkey": (
        400,
        "INVALID_ARGUMENT",
        "API_KEY_INVALID",
        "API key not valid. Please pass a valid API key. key={key}",
    ),
    "401": (401, "UNAUTHENTICATED", None, "Request had invalid authentication credentials."),
    "403": (
        403,
        "PERMISSION_DENIED",
        None,
        "Permission denied: consumer {key} has been suspended.",
    ),
    "404": (404, "NOT_FOUND", None, "models/{model} is not found for API version v1beta."),
    "context": (
        400,
        "INVALID_ARGUMENT",
        None,
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    ),
}
STREAM_KINDS = {
    "ok",
    "thinking",  # thought parts (with a signature) before the answer
    "blocked",  # HTTP 200, one chunk: promptFeedback.blockReason, no candidates
    "safety",  # after `after` chunks: finishReason SAFETY, empty parts, blocked safetyRatings
    "max_tokens",  # finishReason MAX_TOKENS
    "empty",  # finishReason STOP and no text at all
    "error_after",  # after `after` chunks: data: {"error": {...}} (code `code`, default 500)
    "reset",  # after `after` chunks: the connection is reset (RST)
    "truncated",  # after `after` chunks: the body ends without a finishReason
    "stall",  # after `after` chunks: silent until the client goes
    "stall_start",  # headers sent, then silent (for `seconds`, default until the client goes)
    "silent",  # request read, nothing sent (no status line) for `seconds` (default 25)
    "bad_signature",  # a thoughtSignature that is not base64 (the SDK's validation fails)
    "no_id",  # chunks without responseId
}


def behaviour(kind: str, **params: Any) -> dict[str, Any]:
    """One behaviour for `FakeGemini.script` (e.g. `behaviour("reset", after=3)`).

    Common parameters: `request_id` (the x-request-id header), `headers` (more response
    headers), `after` (chunks before the misbehaviour, default 2), `seconds`, `code`
    (error_after's status code), `reason` (blocked's blockReason / safety's finishReason),
    `retry_after` (429's Retry-After header; RetryInfo says `retry_delay`).
    """
    if kind not in STATUS_ERRORS and kind not in STREAM_KINDS:
        raise ValueError(f"unknown behaviour {kind!r}")
    return {"kind": kind, **params}


def parse_behaviour(spec: str | dict[str, Any]) -> dict[str, Any]:
    """Turn "reset:3", "429:0.05" or "stall_start:1.5" into a behaviour; dicts pass through."""
    if isinstance(spec, dict):
        return behaviour(**spec)
    kind, _, arg = spec.partition(":")
    params: dict[str, Any] = {}
    if arg:
        if kind in ("429", "503", "500"):
            params["retry_after"] = arg
        elif kind in ("stall_start", "silent"):
            params["seconds"] = float(arg)
        else:
            params["after"] = int(arg)
    return behaviour(kind, **params)


def input_tokens(body: dict[str, Any]) -> int:
    """A rough input count for the fake's usage figures."""
    return max(1, len(json.dumps(body.get("contents") or body.get("input") or "")) // 4)


class StreamingHandler(FakeHandler[Any]):
    """Writing frames, waiting while noticing a client that went, and the common refusals."""

    def _request_id(self, b: dict[str, Any]) -> str:
        return str(b.get("request_id", f"req{secrets.token_hex(12)}"))

    def _send_json(self, status: int, obj: Any, b: dict[str, Any], extra: dict[str, str]) -> None:
        data = json.dumps(obj, indent=2).encode()  # Google's error bodies are pretty-printed
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self._request_id(b))
        for k, v in {**extra, **b.get("headers", {})}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self, rec: Recorded, b: dict[str, Any]) -> None:
        rec.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", self._request_id(b))
        for k, v in b.get("headers", {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()

    # -- routes ----------------------------------------------------------------------------------

    def _status_error(self, rec: Recorded, b: dict[str, Any], model: str, flavour: str) -> None:
        status, gstatus, reason, message = STATUS_ERRORS[b["kind"]]
        key = self.headers.get("x-goog-api-key", "")
        message = message.replace("{key}", key).replace("{model}", model)
        details: list[dict[str, Any]] = []
        if reason:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": reason,
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            )
        extra: dict[str, str] = {}
        if status == 429:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": str(b.get("retry_delay", "7s")),
                }
            )
            if "retry_after" in b:
                extra["retry-after"] = str(b["retry_after"])
        elif "retry_after" in b:
            extra["retry-after"] = str(b["retry_after"])
        error: dict[str, Any] = {"code": status, "message": message, "status": gstatus}
        if details:
            error["details"] = details
        if flavour == "interactions" and status == 404:
            error = {"code": "not_found", "message": message}
        rec.status = status
        self._send_json(status, {"error": error}, b, extra)

    def _pre(self, rec: Recorded, model: str, flavour: str) -> dict[str, Any] | None:
        """Pick the behaviour; answer status errors and `silent`; None when handled."""
        b = self.fake._pick(model)
        rec.behaviour = b["kind"]
        if b["kind"] == "silent":
            self._wait(float(b.get("seconds", 25)))
            b = {**b, "kind": "ok"}
        if b["kind"] in STATUS_ERRORS:
            self._status_error(rec, b, model, flavour)
            return None
        return b

    # -- generateContent -------------------------------------------------------------------------
