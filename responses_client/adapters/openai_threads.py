"""The opt-in fetch of an old Assistants thread's messages through the openai SDK, as plain dicts.

SDK objects and upstream text never leave this module: callers get JSON dicts (the wire format of
`thread.message`) or `FetchFailed` with a short reason. Imports nothing of ours but the package's
own; the migration (compat) validates the dicts into its own models. The SDK is imported only
when a fetch runs, so the offline migration never loads it.
"""

from __future__ import annotations

import functools
import os
import warnings
from typing import Any


class FetchFailed(Exception):
    """Fetching a thread's messages failed; `reason` is short and never holds upstream text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@functools.lru_cache(maxsize=4)
def _client(api_key: str | None, base_url: str | None, max_retries: int, timeout: float) -> Any:
    # One client (one connection pool) per configuration, so a migration's fetches share it.
    import openai

    return openai.OpenAI(
        api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout
    )


def fetch_thread_messages(
    thread_id: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    max_retries: int = 1,
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """List a thread's messages oldest first through all pages, as JSON dicts.

    The key and base URL default to OPENAI_API_KEY and OPENAI_BASE_URL. This is a batch command,
    not a turn: the SDK's own retries (`max_retries`) are kept here.
    """
    import openai  # here, not at the top: only the opt-in fetch loads the SDK

    key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
    url = base_url if base_url is not None else os.environ.get("OPENAI_BASE_URL") or None
    out: list[dict[str, Any]] = []
    try:
        client = _client(key, url, max_retries, timeout)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pages = client.beta.threads.messages.list(thread_id, order="asc", limit=100)
            for item in pages:
                out.append(item.model_dump(mode="json"))
    except openai.NotFoundError:
        raise FetchFailed("not_found (404)") from None
    except openai.APIStatusError as exc:
        raise FetchFailed(f"http_{exc.status_code}") from None
    except openai.APITimeoutError:
        raise FetchFailed("timeout") from None
    except openai.APIConnectionError:
        raise FetchFailed("connection_error") from None
    except openai.OpenAIError as exc:
        raise FetchFailed(type(exc).__name__) from None
    return out
