"""Conversations: records (pydantic), the message tree, the store Protocol and its JSON-file backend.

Imports neither Flask nor an SDK.
"""

from .errors import (
    ConversationError,
    ConversationExists,
    HistoryUnavailable,
    InvalidId,
    InvalidParent,
    NotFound,
    StorageBusy,
    StorageError,
    StorageFull,
)
from .json.store import JsonConversationStore
from .models import (
    ROOT,
    Attachment,
    Conversation,
    ConversationSummary,
    Legacy,
    Message,
    MessageError,
    Totals,
    Usage,
    new_conversation_id,
    new_message_id,
)
from .names import validate_conversation_id, validate_user
from .store import AttachmentStore, ConversationStore

__all__ = [
    "ROOT",
    "Attachment",
    "AttachmentStore",
    "Conversation",
    "ConversationError",
    "ConversationExists",
    "ConversationStore",
    "ConversationSummary",
    "HistoryUnavailable",
    "InvalidId",
    "InvalidParent",
    "JsonConversationStore",
    "Legacy",
    "Message",
    "MessageError",
    "NotFound",
    "StorageBusy",
    "StorageError",
    "StorageFull",
    "Totals",
    "Usage",
    "new_conversation_id",
    "new_message_id",
    "validate_conversation_id",
    "validate_user",
]
