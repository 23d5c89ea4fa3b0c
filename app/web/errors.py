"""HTTP knowledge of errors: one table from exception to status and `code`, and one handler.

The words come from `app.messages`. Part of the web layer; imports the domain modules' exceptions,
never another `app.web` module. A pydantic `ValidationError` is not in the table: only the body
parsing (app/web/bodies.py) turns one into a 400; one raised anywhere else is a logged 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

import conversation_manager as cm
from app import accounts, limits, shares, templating, turns
from app.attachments import AttachmentRefused, BadAttachmentRequest
from app.messages import message_for

log = logging.getLogger(__name__)


class BadRequest(Exception):
    """A request body (or query) that could not be parsed: 400 `bad_request`."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


# Most specific first: the first matching row answers. One row per exception class: the domain
# modules' StorageBusy and StorageFull are conversation_manager's (aliases), answered by its rows.
ERRORS: list[tuple[type[BaseException], int, str]] = [
    (BadRequest, 400, "bad_request"),
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
    (turns.UnknownModelRequest, 400, "unknown_model"),
    (turns.ContextTooLongRequest, 400, "context_too_long"),
    (turns.UnsupportedInputRequest, 400, "unsupported_input"),
    (BadAttachmentRequest, 400, "bad_attachment"),  # a turn names an id not this user's
    (turns.BadOptionRequest, 400, "bad_option"),
    (turns.BadTurnRequest, 400, "bad_request"),
    (limits.RateLimited, 429, "rate_limited"),
    (limits.BudgetExceeded, 429, "budget_exceeded"),
    (accounts.Throttled, 429, "rate_limited"),
    (shares.ShareNotFound, 404, "not_found"),
    (shares.InvalidShare, 400, "bad_request"),
    (templating.SharingOff, 400, "bad_request"),
    (templating.BadTemplate, 400, "bad_template"),
    (RequestEntityTooLarge, 413, "body_too_large"),
]


def error_response(
    status: int,
    code: str,
    message: str | None = None,
    fields: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Response:
    """Build the API's JSON error body (`fields` adds data such as `resets_at`; `extra` headers)."""
    body = {"error": {"code": code, "message": message or message_for(code), **(fields or {})}}
    response = jsonify(body)
    response.status_code = status
    for header, value in extra.items():
        response.headers[header.replace("_", "-")] = str(value)
    return response


def retry_after_seconds(exc: BaseException) -> int | None:
    """Return the whole seconds (at least 1) an exception says to wait, or None."""
    value = getattr(exc, "retry_after", None)
    if value is None:
        return None
    return max(1, round(float(value() if callable(value) else value)))


def lookup(exc: BaseException) -> tuple[int, str] | None:
    """Return the (status, code) the table gives `exc`, or None when it is not a known error."""
    for kind, status, code in ERRORS:
        if isinstance(exc, kind):
            return status, code
    return None


def handle_error(exc: BaseException) -> Response:
    """Map any exception a view raised to its JSON error response (500 `internal` when unknown)."""
    found = lookup(exc)
    if found is not None:
        status, code = found
        message = None
        detail = getattr(exc, "detail", "")
        if isinstance(exc, templating.SharingOff):
            message = detail  # its own words: the code's generic ones would send people looking
        elif (
            isinstance(
                exc, turns.TurnError | BadRequest | templating.BadTemplate | AttachmentRefused
            )
            and detail
        ):
            message = f"{message_for(code)} ({detail})"
        fields: dict[str, Any] = {}
        resets_at = getattr(exc, "resets_at", None)
        if resets_at is not None:
            fields["resets_at"] = resets_at
        if isinstance(exc, turns.BadOptionRequest):
            fields["option"] = exc.option  # which option, for the page's settings popover
        retry = retry_after_seconds(exc)
        if retry is not None:
            fields["retry_after"] = retry
            return error_response(status, code, message, fields, Retry_After=retry)
        return error_response(status, code, message, fields)
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "bad_request")
        if status >= 500:
            code = "internal"
        return error_response(status, code)
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal")
