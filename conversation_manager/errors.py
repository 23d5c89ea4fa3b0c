"""Errors of the conversation store (root `ConversationError`); they carry data, not HTTP statuses.

Imports neither Flask nor an SDK.
"""

from __future__ import annotations


class ConversationError(Exception):
    """Root of every error the conversation package raises."""


class InvalidId(ConversationError):
    """A user name or conversation id outside its pattern (refused, never normalised)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"invalid {kind}")
        self.kind = kind


class NotFound(ConversationError):
    """An unknown conversation or message."""

    def __init__(self, what: str = "conversation") -> None:
        super().__init__(f"{what} not found")
        self.what = what


class InvalidParent(ConversationError):
    """A parent message of the wrong role for the requested turn."""


class ConversationExists(ConversationError):
    """`create` was given the id of a conversation that already exists."""


class HistoryUnavailable(ConversationError):
    """The conversation's file was damaged and set aside; it stays so until deleted."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__("history unavailable")
        self.conversation_id = conversation_id


class StorageBusy(ConversationError):
    """The lock was not had in time; the caller may retry after `retry_after` seconds."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("storage busy")
        self.retry_after = retry_after


class StorageFull(ConversationError):
    """The disk (or quota) is full; nothing was changed."""


class StorageError(ConversationError):
    """Any other storage failure (I/O error, unexpected file type); nothing was written."""


class QuotaExceeded(ConversationError):
    """Storing would take the user's attachments past their quota; nothing was written."""

    def __init__(self, used: int, quota: int) -> None:
        super().__init__("attachment quota exceeded")
        self.used = used
        self.quota = quota
