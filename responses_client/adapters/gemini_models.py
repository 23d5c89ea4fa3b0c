"""Read Gemini's model list with the google-genai SDK: `GET /{api_version}/models`, paged by
`nextPageToken` (the SDK's Pager follows it), each Model as a plain dict of the SDK's fields
(`name`, `input_token_limit`, `output_token_limit`, `supported_actions`, `thinking`, …).

The client is `gemini_client.build_client` (retries off, nothing from the environment). A
failure is `model_lists.ListingFailed` with a short code, never upstream text. Used by
`responses_client.discovery` only; no SDK object or exception leaves this module.
"""

from __future__ import annotations

from typing import Any

import httpx2
from google.genai import errors as genai_errors

from responses_client.adapters.gemini_client import build_client
from responses_client.adapters.gemini_errors import error_from_status
from responses_client.model_lists import MAX_MODELS, ListingFailed, ListTarget, code_for

PAGE_SIZE = 1000


def list_models(target: ListTarget) -> list[dict[str, Any]]:
    """Every model `target` lists, all pages, as plain dicts."""
    if not target.api_key:
        raise ListingFailed("upstream_auth")
    try:
        client, http = build_client(
            target.api_key,
            base_url=target.base_url,
            api_version=target.api_version,
            connect_timeout=target.connect_timeout,
            read_timeout=target.read_timeout,
        )
    except ValueError:
        raise ListingFailed("internal") from None
    try:
        items: list[dict[str, Any]] = []
        for model in client.models.list(config={"page_size": PAGE_SIZE}):
            items.append(model.model_dump(exclude_none=True))
            if len(items) > MAX_MODELS:
                raise ListingFailed("too_many_models")
        return items
    except genai_errors.APIError as exc:
        status = exc.code if isinstance(exc.code, int) else 0
        headers = getattr(getattr(exc, "response", None), "headers", None)
        raise ListingFailed(code_for(error_from_status(status, exc.details, headers))) from None
    except (ValueError, TypeError, AttributeError):
        raise ListingFailed("bad_response") from None
    except (httpx2.HTTPError, OSError):
        raise ListingFailed("upstream_unavailable") from None
    finally:
        client.close()
        http.close()
