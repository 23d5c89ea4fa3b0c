"""HTTP knowledge of errors: one table from exception to status and `code`, the messages, one handler.

Part of the web layer; imports the domain modules' exceptions, never another `web_*` module or `app`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pydantic
from flask import Response, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

import conversation_manager as cm
from app import accounts as auth
from app import limits, shares, turns

log = logging.getLogger(__name__)

ERRORS: list[tuple[type[BaseException], int, str]] = [
    (cm.InvalidId, 400, "invalid_id"),
    (cm.InvalidParent, 400, "bad_request"),
    (cm.NotFound, 404, "not_found"),
    (cm.HistoryUnavailable, 409, "history_unavailable"),
    (cm.StorageBusy, 503, "storage_busy"),
    (cm.StorageFull, 507, "storage_full"),
    (cm.StorageError, 500, "internal"),
    (turns.EmptyMessage, 400, "empty_message"),
    (turns.MessageTooLong, 413, "message_too_long"),
    (turns.NoProvider, 503, "no_provider"),
    (turns.TurnInProgress, 409, "turn_in_progress"),
    (turns.NoTurn, 404, "no_turn"),
    (turns.BadTurnRequest, 400, "bad_request"),
    (limits.RateLimited, 429, "rate_limited"),
    (limits.BudgetExceeded, 429, "budget_exceeded"),
    (limits.StorageBusy, 503, "storage_busy"),
    (auth.StorageBusy, 503, "storage_busy"),
    (shares.StorageBusy, 503, "storage_busy"),
    (shares.ShareNotFound, 404, "not_found"),
    (shares.InvalidShare, 400, "bad_request"),
    (pydantic.ValidationError, 400, "bad_request"),
    (RequestEntityTooLarge, 413, "body_too_large"),
]

MESSAGES = {
    "invalid_id": "That name or id is not valid.",
    "bad_request": "The request was not understood.",
    "not_found": "Not found.",
    "history_unavailable": "This conversation's file was damaged and set aside; its history is "
    "unavailable. Delete it to remove it from the list.",
    "storage_busy": "The server is busy saving; try again in a moment.",
    "storage_full": "The server's disk is full; nothing was changed.",
    "internal": "Something went wrong on our side.",
    "empty_message": "The message is empty.",
    "message_too_long": "The message is too long.",
    "no_provider": "No model provider is configured: set OPENAI_API_KEY (and optionally "
    "OPENAI_BASE_URL) and restart the app.",
    "turn_in_progress": "An answer is still being written in this conversation.",
    "no_turn": "No answer is being written in this conversation.",
    "rate_limited": "Too many requests; wait a moment.",
    "budget_exceeded": "Your usage budget is used up until it resets.",
    "body_too_large": "The request is too large.",
    "unauthenticated": "Log in first.",
    "invalid_credentials": "Wrong user name or password.",
    "cross_site": "Cross-site requests are refused.",
    "csrf_failed": "The form expired; reload the page and try again.",
    "unsupported_media_type": "Send JSON, or a form from this site.",
    "method_not_allowed": "That method is not allowed here.",
}


def error_response(
    status: int,
    code: str,
    message: str | None = None,
    fields: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Response:
    """Build the API's JSON error body (`fields` adds data such as `resets_at`)."""
    body = {
        "error": {"code": code, "message": message or MESSAGES.get(code, code), **(fields or {})}
    }
    response = jsonify(body)
    response.status_code = status
    for header, value in extra.items():
        response.headers[header.replace("_", "-")] = str(value)
    return response


def _retry_after(exc: BaseException) -> int | None:
    value = getattr(exc, "retry_after", None)
    if value is None:
        return None
    return max(1, round(float(value() if callable(value) else value)))


def handle_error(exc: BaseException) -> Response:
    """Map any exception a view raised to its JSON error response (500 `internal` when unknown)."""
    for kind, status, code in ERRORS:
        if isinstance(exc, kind):
            retry = _retry_after(exc)
            message = None
            if isinstance(exc, turns.TurnError) and exc.detail:
                message = f"{MESSAGES.get(code, code)} ({exc.detail})"
            fields = {}
            resets_at = getattr(exc, "resets_at", None)
            if resets_at is not None:
                fields["resets_at"] = resets_at
            if retry is not None:
                fields["retry_after"] = retry
                return error_response(status, code, message, fields, Retry_After=retry)
            return error_response(status, code, message, fields)
    if isinstance(exc, HTTPException):
        code = "method_not_allowed" if exc.code == 405 else "not_found"
        if exc.code not in (404, 405):
            code = "bad_request"
        return error_response(exc.code or 500, code)
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal")
