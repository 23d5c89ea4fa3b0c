"""The turn's own errors: a turn refused before the model is called (`code` is the API's code)."""

from __future__ import annotations


class TurnError(Exception):
    """A turn refused before the model is called; `code` is the API's error code."""

    code = "bad_request"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.__class__.__doc__)
        self.detail = detail


class EmptyMessage(TurnError):
    """The message is empty."""

    code = "empty_message"


class MessageTooLong(TurnError):
    """The message is longer than this server accepts."""

    code = "message_too_long"


class NoProvider(TurnError):
    """No model provider is configured: set OPENAI_API_KEY."""

    code = "no_provider"


class TurnInProgress(TurnError):
    """A turn is already running in this conversation."""

    code = "turn_in_progress"


class NoTurn(TurnError):
    """No turn to re-attach to or to stop."""

    code = "no_turn"


class BadTurnRequest(TurnError):
    """The request does not describe a turn."""

    code = "bad_request"


class UnknownModelRequest(BadTurnRequest):
    """The provider or model is not one this server can use: pick another."""

    code = "unknown_model"


class ContextTooLongRequest(BadTurnRequest):
    """The newest message alone overflows the window of every model that could answer."""

    code = "context_too_long"


class UnsupportedInputRequest(BadTurnRequest):
    """The chosen model is text-only: send the turn without its image, or pick a model that takes
    images."""

    code = "unsupported_input"


class BadOptionRequest(BadTurnRequest):
    """An option is unknown, has a wrong value, or the chosen model does not take it; `option`
    names it."""

    code = "bad_option"

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option = option
