"""The opt-in fetch of a thread's messages through the openai SDK (the only network in compat).

SDK objects and upstream text never leave this module; the SDK is imported only when a fetch is built.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from compat.formats import OldMessage


class FetchFailed(Exception):
    """Fetching a thread's messages failed; `reason` is short and never holds upstream text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Fetcher = Callable[[str], list[OldMessage]]


def make_fetcher(*, max_retries: int = 1, timeout: float = 30.0) -> Fetcher:
    """Build a fetcher over the openai SDK (OPENAI_API_KEY and OPENAI_BASE_URL from the env)."""
    import openai  # here, not at the top: only the opt-in fetch loads the SDK

    client = openai.OpenAI(max_retries=max_retries, timeout=timeout)

    def fetch(thread_id: str) -> list[OldMessage]:
        return fetch_thread_messages(client, thread_id)

    return fetch


def fetch_thread_messages(client: Any, thread_id: str) -> list[OldMessage]:
    """List a thread's messages oldest first through all pages; SDK objects never leave here."""
    import openai

    out: list[OldMessage] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pages = client.beta.threads.messages.list(thread_id, order="asc", limit=100)
            for item in pages:
                raw = item.model_dump(mode="json")
                out.append(OldMessage.model_validate(raw))
    except openai.NotFoundError:
        raise FetchFailed("not_found (404)") from None
    except openai.APIStatusError as exc:
        raise FetchFailed(f"http_{exc.status_code}") from None
    except openai.APITimeoutError:
        raise FetchFailed("timeout") from None
    except openai.APIConnectionError:
        raise FetchFailed("connection_error") from None
    except ValidationError:
        raise FetchFailed("unexpected_message_format") from None
    except openai.OpenAIError as exc:
        raise FetchFailed(type(exc).__name__) from None
    return out
