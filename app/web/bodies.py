"""Request bodies: the pydantic models of every body the API takes, and `parse_body`, the one place
that turns a malformed body into 400 `bad_request`.

Malformed means: not JSON (or not a form, where a form is taken), not an object, nested too deep for
the parser, holding a string that is not valid Unicode (a lone surrogate such as "\\ud800"), or
refused by the model. Part of the web layer; imports `app.web.errors` only among ours.
"""

from __future__ import annotations

import io
import json
from typing import Any, TypeVar

import pydantic
from flask import request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_content_length

from app.web.errors import BadRequest

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Deeper JSON than this is refused; json.loads itself stops (RecursionError) near 1,000 levels.
MAX_DEPTH = 64
DRAIN_BYTES = 64 * 1024 * 1024

Body = TypeVar("Body", bound=pydantic.BaseModel)


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", strict=True)


class ChatBody(_Strict):
    message: str | None = None
    conversation_id: str | None = None
    chat_name: str | None = pydantic.Field(default=None, max_length=200)
    model: str | None = pydantic.Field(default=None, min_length=1, max_length=100)
    provider: str | None = pydantic.Field(default=None, min_length=1, max_length=40)
    parent_message_id: str | None = None
    regenerate: bool = False
    template_id: str | None = pydantic.Field(default=None, min_length=1, max_length=64)
    variables: dict[str, str] | None = pydantic.Field(default=None, max_length=50)
    # Attachment ids uploaded by this user (API "Attachments"); per-model options (API "Providers").
    attachments: list[str] | None = pydantic.Field(default=None, max_length=10)
    options: dict[str, Any] | None = pydantic.Field(default=None, max_length=16)
    # A stopped or incomplete reply to continue in place (API `POST /chat`).
    continue_message_id: str | None = pydantic.Field(default=None, min_length=1, max_length=64)


class ConversationChange(_Strict):
    """`PATCH /conversations/ID`: the fields given change (the instructions from the next turn)."""

    chat_name: str | None = pydantic.Field(default=None, min_length=1, max_length=200)
    instructions: str | None = None
    pinned: bool | None = None
    archived: bool | None = None


class AccountChange(_Strict):
    """`PATCH /account`: null or blank `default_instructions` means the server's default; a body
    without the field changes nothing (the view checks `model_fields_set`)."""

    default_instructions: str | None = None


class CurrentBody(_Strict):
    message_id: str = pydantic.Field(min_length=1, max_length=64)


class Credentials(_Strict):
    """`POST /login` and `POST /signup`; the name and password rules are the accounts' own."""

    username: str
    password: str


class PasswordChange(_Strict):
    current_password: str
    new_password: str


def buffer_chunked_body() -> None:
    """Read a chunked request body (one without `Content-Length`) into memory, up to the size limit.

    A request hook. werkzeug stops reading such a body at the limit without saying so (its
    `LimitedStream` cuts it short), so a body over the limit would parse as a truncated one;
    read here, it is a 413, and below the limit the request gets an ordinary `Content-Length`.
    Both servers de-chunk the body (they set `wsgi.input_terminated`).
    """
    environ = request.environ
    # Read from the environ, not `request.content_length`, which would cache the streaming None.
    if (
        get_content_length(environ) is not None
        or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    ):
        return
    limit = request.max_content_length
    stream = environ["wsgi.input"]
    try:
        data = stream.read() if limit is None else stream.read(limit + 1)
    except (OSError, ValueError):  # a malformed chunk
        raise BadRequest("the chunked body is malformed") from None
    if limit is not None and len(data) > limit:
        # Read the rest (boundedly) so the client gets the 413 rather than a reset: the socket
        # closed over unread data resets the connection (werkzeug and gunicorn's gevent worker).
        _drain(stream)
        raise RequestEntityTooLarge()
    environ["wsgi.input"] = io.BytesIO(data)
    # From here on an ordinary body: werkzeug ignores Content-Length while the request says chunked.
    environ["CONTENT_LENGTH"] = str(len(data))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("wsgi.input_terminated", None)
    request.__dict__.pop("content_length", None)  # in case a hook before this one read it


def _drain(stream: Any) -> None:
    """Read and drop the rest of a refused chunked body, up to `DRAIN_BYTES`.

    werkzeug's development server discards unread input after the response with a blocking read
    that waits for the client to close, while the client waits for the answer: without this the
    413 would hang until a timeout. gunicorn's gevent worker closes the socket over the unread
    input, which resets the connection before the client reads the 413.
    """
    left = DRAIN_BYTES
    try:
        while left > 0 and (piece := stream.read(min(left, 65536))):
            left -= len(piece)
    except (OSError, ValueError):
        pass


def is_form() -> bool:
    """Return whether the request's body is a form (url-encoded or multipart)."""
    return request.mimetype in FORM_TYPES


def check_value(data: Any) -> None:
    """Raise `BadRequest` when `data` nests deeper than `MAX_DEPTH` or holds a non-Unicode string.

    Iterative, so a deep value cannot exhaust the stack here either.
    """
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest("a string is not valid Unicode") from None
        elif isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise BadRequest("nested too deeply")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))


def json_object() -> dict[str, Any]:
    """Return the request's JSON object, or raise `BadRequest`."""
    raw = request.get_data(cache=True)  # over the size limit: 413 from werkzeug
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequest("the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    check_value(data)
    return data


def form_object() -> dict[str, Any]:
    """Return the request's form fields (the first value of each), or raise `BadRequest`."""
    data = request.form.to_dict()
    check_value(data)
    return data


def parse_body(model: type[Body], *, forms: bool = False) -> Body:
    """Parse the request's body into `model`; any malformed body is 400 `bad_request`.

    `forms=True` also takes a form (the login, sign-up and password pages post forms).
    """
    data = form_object() if forms and is_form() else json_object()
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}))
        raise BadRequest(f"check {fields}" if fields else "") from None
