"""The opt-in fetch for the migration: thread messages as plain dicts, validated into `OldMessage`.

The network call is `responses_client.adapters.openai_threads.fetch_thread_messages` (the only
module that talks to the SDK); this module imports nothing else of responses_client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from compat.formats import OldMessage
from responses_client.adapters.openai_threads import FetchFailed, fetch_thread_messages

Fetcher = Callable[[str], list[OldMessage]]


def old_messages(raw: list[dict[str, Any]]) -> list[OldMessage]:
    """Validate fetched `thread.message` dicts; any that does not fit fails the whole thread."""
    try:
        return [OldMessage.model_validate(item) for item in raw]
    except ValidationError:
        raise FetchFailed("unexpected_message_format") from None


def make_fetcher(*, max_retries: int = 1, timeout: float = 30.0) -> Fetcher:
    """A fetcher over the openai SDK (OPENAI_API_KEY and OPENAI_BASE_URL from the environment)."""

    def fetch(thread_id: str) -> list[OldMessage]:
        raw = fetch_thread_messages(thread_id, max_retries=max_retries, timeout=timeout)
        return old_messages(raw)

    return fetch
