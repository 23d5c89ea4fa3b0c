"""The one table from error code to the words a person reads, and whether trying again may help.

Used by the HTTP errors (app/web/errors.py) and the SSE `error` events (app/turns); the page keeps
its own copy for errors it meets offline (static/js/words.js), tested against this table.
Imports nothing of ours: no Flask, no domain module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Message:
    """What a person reads for one error code, and whether the same request may succeed later."""

    text: str
    retryable: bool


_TABLE: dict[str, Message] = {
    # 400: the request itself is wrong; sending it again changes nothing.
    "bad_request": Message(
        "The request could not be accepted. Change it and try again, or reload the page.", False
    ),
    "bad_host": Message(
        "This address is not one the server answers to. Open the chat at its usual address.", False
    ),
    "empty_message": Message("The message is empty. Type something first.", False),
    "invalid_id": Message(
        "That name or id is not valid. User names are 3 to 32 characters of a-z, 0-9, _ and -, "
        "starting with a letter or digit.",
        False,
    ),
    "weak_password": Message(
        "That password is too weak. Choose one of at least 12 characters that is not only "
        "spaces and has no control characters.",
        False,
    ),
    "unknown_model": Message("The model is not known. Pick another model and try again.", False),
    "bad_option": Message(
        "An option is not accepted by this model. Remove or change it and try again.", False
    ),
    "bad_template": Message(
        "The template has a mistake. Fix the variable it names and try again.", False
    ),
    "bad_attachment": Message(
        "The file could not be used. Check that it is a whole image or text file and try again.",
        False,
    ),
    "unsupported_input": Message(
        "This model does not take images. Pick a model that does, or remove the image.", False
    ),
    "context_too_long": Message(
        "This conversation is too long for the model. Start a new chat, or edit an earlier "
        "message.",
        False,
    ),
    # 401, 403
    "unauthenticated": Message("You are not logged in. Log in and try again.", False),
    "invalid_credentials": Message("Wrong user name or password. Check both and try again.", False),
    "cross_site": Message(
        "Requests from other sites are refused. Use the chat from its own page.", False
    ),
    "csrf_failed": Message("The page has expired. Reload it and try again.", False),
    "signup_closed": Message(
        "Creating accounts is closed on this server. Ask an administrator for an account.", False
    ),
    # 404, 405, 409
    "not_found": Message(
        "That conversation or message no longer exists. Pick another from the list.", False
    ),
    "no_turn": Message(
        "No answer is being written in this conversation right now. Send a message to start one.",
        False,
    ),
    "method_not_allowed": Message(
        "That action is not available here. Reload the page and try again.", False
    ),
    "turn_in_progress": Message(
        "An answer is still being written in this conversation. Wait for it to finish, or stop it.",
        False,
    ),
    "history_unavailable": Message(
        "This conversation's file was damaged and set aside, so its history is unavailable. "
        "Delete it to remove it from the list.",
        False,
    ),
    "name_taken": Message("That user name is taken. Choose another one.", False),
    # 413, 415
    "message_too_long": Message("The message is too long. Shorten it and try again.", False),
    "body_too_large": Message("The request is too large. Send less at once.", False),
    "unsupported_media_type": Message(
        "The request was neither JSON nor a form from this site. Use the chat page.", False
    ),
    # 429: the app's own limits (HTTP), or the provider's after its retries (SSE).
    "rate_limited": Message("Too many requests right now. Wait a moment and try again.", True),
    "budget_exceeded": Message(
        "Your usage budget is used up. It resets at the start of the next period.", False
    ),
    # 5xx and the server's state
    "no_provider": Message(
        "No model provider is configured. An administrator needs to set a provider's key (such "
        "as OPENAI_API_KEY or ANTHROPIC_API_KEY) or CHAT_PROVIDERS_FILE and restart the app.",
        False,
    ),
    "storage_busy": Message(
        "The server is busy saving other changes. Try again in a moment.", True
    ),
    "storage_full": Message(
        "The server's disk is full, so this could not be saved. An administrator needs to free space.",
        False,
    ),
    "internal": Message("Something went wrong on the server. Try again.", True),
    # SSE only: the model provider's failures, worded without any of the provider's own text.
    "content_blocked": Message(
        "The model provider refused this message. Rephrase it and try again.", False
    ),
    "upstream_unavailable": Message(
        "The model provider could not be reached. Try again in a moment.", True
    ),
    "interrupted": Message("The answer was interrupted before it finished. Try again.", True),
    "upstream_error": Message("The model provider reported an error. Try again.", True),
    "upstream_auth": Message(
        "The model provider refused the server's key. An administrator needs to check it.", False
    ),
    "quota_exceeded": Message(
        "The model provider's quota for this server is used up. An administrator needs to "
        "check the account.",
        False,
    ),
    # An `incomplete` reply's reason (API.md "Storage"): the answer stopped early but is kept.
    "max_output_tokens": Message(
        "The answer reached its length limit and stopped early. Continue it, or ask for less.",
        False,
    ),
    "content_filter": Message(
        "The model provider's content filter stopped the answer early. Rephrase the message and "
        "try again.",
        False,
    ),
    "refusal": Message(
        "The model declined to answer. Rephrase the message, or ask another way.", False
    ),
    "context_window": Message(
        "The conversation filled the model's context window, so the answer stopped early. Start a "
        "new chat, or edit an earlier message.",
        False,
    ),
    "reply_too_long": Message(
        "The answer passed this server's length limit and was cut off. Ask for a shorter answer.",
        False,
    ),
    "other": Message("The answer stopped early. Continue it, or try again.", False),
}

MESSAGES: Mapping[str, Message] = MappingProxyType(_TABLE)
UNKNOWN = _TABLE["internal"]


def message_for(code: str) -> str:
    """Return the words a person reads for `code` (the `internal` words for an unknown code)."""
    return MESSAGES.get(code, UNKNOWN).text


def retryable(code: str) -> bool:
    """Return whether sending the same request again may succeed, for `code`."""
    return MESSAGES.get(code, UNKNOWN).retryable
