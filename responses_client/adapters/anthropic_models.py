"""Read Anthropic's model list with the anthropic SDK: `GET /v1/models`, paged (`has_more`,
`first_id`, `last_id`; the SDK follows `after_id`), each ModelInfo as a plain dict.

The client is the Messages adapter's (`anthropic_client.build_client`): key, base URL and version
explicit, retries off, the listing timeouts, `ANTHROPIC_CUSTOM_HEADERS` taken back out.
A failure is `model_lists.ListingFailed` with a short code, never upstream text. Used by
`responses_client.discovery` only; no SDK object or exception leaves this module.
"""

from __future__ import annotations

from typing import Any

import anthropic

from responses_client.adapters import anthropic_client
from responses_client.adapters.anthropic_errors import TRANSPORT_ERRORS, error_from_status
from responses_client.events import ResponseRequest
from responses_client.model_lists import MAX_MODELS, ListingFailed, ListTarget, code_for

PAGE_SIZE = 1000  # the API's largest page
_NOTHING = ResponseRequest(model="", input="", instructions=None)  # the classifier's context


def build_client(target: ListTarget) -> anthropic.Anthropic:
    """An SDK client for listing: retries off, nothing read from the environment."""
    if not target.api_key:
        raise ListingFailed("upstream_auth")  # without a key the SDK would look for credentials
    return anthropic_client.build_client(
        target.api_key,
        target.base_url,
        connect_timeout=target.connect_timeout,
        read_timeout=target.read_timeout,
    )


def list_models(target: ListTarget) -> list[dict[str, Any]]:
    """Every model `target` lists, all pages, as plain dicts."""
    client = build_client(target)
    try:
        items: list[dict[str, Any]] = []
        for model in client.models.list(limit=PAGE_SIZE):
            items.append(model.to_dict())
            if len(items) > MAX_MODELS:
                raise ListingFailed("too_many_models")
        return items
    except anthropic.APIStatusError as exc:
        raise ListingFailed(code_for(error_from_status(exc, _NOTHING))) from None
    except anthropic.APIResponseValidationError:
        raise ListingFailed("bad_response") from None
    except (ValueError, TypeError, AttributeError):
        raise ListingFailed("bad_response") from None
    except TRANSPORT_ERRORS:
        raise ListingFailed("upstream_unavailable") from None
    finally:
        client.close()
