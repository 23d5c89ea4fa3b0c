"""The old Assistants-based app's per-user thread files and their conversion into conversations.

Legacy formats (`formats`), their conversion (`convert`), the opt-in fetch (`fetch`, over
`responses_client.adapters.openai_threads`, which alone talks to the SDK) and the migration run
through the conversation store (`run`). Imports no Flask and no SDK.
"""

from compat.convert import (
    DEFAULT_CHAT_NAME,
    ConversationPlan,
    Defaults,
    History,
    message_id,
    plan_conversation,
)
from compat.fetch import Fetcher, make_fetcher, old_messages
from compat.formats import (
    CITATION_MARKER,
    OldEntry,
    OldFile,
    OldMessage,
    OldThread,
    OldThreadRecord,
    Skip,
    Timestamp,
    content_text,
    read_old_file,
    strip_citations,
    to_unix,
)
from compat.run import MigrationError, MigrationReport, accounts_needed, migrate
from conversation_manager import StorageFull  # migrate_threads.py catches it as compat.StorageFull
from responses_client.adapters.openai_threads import FetchFailed

__all__ = [
    "CITATION_MARKER",
    "DEFAULT_CHAT_NAME",
    "ConversationPlan",
    "Defaults",
    "FetchFailed",
    "Fetcher",
    "History",
    "MigrationError",
    "MigrationReport",
    "OldEntry",
    "OldFile",
    "OldMessage",
    "OldThread",
    "OldThreadRecord",
    "Skip",
    "StorageFull",
    "Timestamp",
    "accounts_needed",
    "content_text",
    "make_fetcher",
    "message_id",
    "migrate",
    "old_messages",
    "plan_conversation",
    "read_old_file",
    "strip_citations",
    "to_unix",
]
