"""Read a model list with the openai SDK: OpenAI's and xAI's `GET /v1/models`, and the Chat
Completions hosts' (OpenRouter, DeepSeek, Ollama, a local server) `GET {base_url}/models`.

The client is `openai_client.isolated_client` (retries off, nothing from the environment, the
deployment's timeouts). Each listed model comes back as a plain dict, the fields the SDK does not
model (OpenRouter's `pricing`, `context_length`, `architecture`, …) included; a failure is
`model_lists.ListingFailed` with a short code, never upstream text. Used by
`responses_client.discovery` only; no SDK object or exception leaves this module.
"""

from __future__ import annotations

from typing import Any

import openai

from responses_client.adapters.openai_client import isolated_client
from responses_client.adapters.openai_errors import TRANSPORT_ERRORS, error_from_status
from responses_client.events import ResponseRequest
from responses_client.model_lists import MAX_MODELS, ListingFailed, ListTarget, code_for

NO_KEY = "no-key"  # a keyless local server (Ollama, vLLM) still gets an Authorization header
_NOTHING = ResponseRequest(model="", input="", instructions=None)  # the classifier's context


def list_models(target: ListTarget) -> list[dict[str, Any]]:
    """Every model `target` lists, as plain dicts (one page: these lists are not paged)."""
    client = isolated_client(
        target.api_key or NO_KEY,
        base_url=target.base_url,
        connect_timeout=target.connect_timeout,
        read_timeout=target.read_timeout,
    )
    try:
        items: list[dict[str, Any]] = []
        for model in client.models.list():
            items.append(model.to_dict())
            if len(items) > MAX_MODELS:
                raise ListingFailed("too_many_models")
        return items
    except openai.APIStatusError as exc:
        raise ListingFailed(code_for(error_from_status(exc, _NOTHING))) from None
    except openai.APIResponseValidationError:
        raise ListingFailed("bad_response") from None
    except (ValueError, TypeError, AttributeError):
        raise ListingFailed("bad_response") from None  # a body that is not JSON or not a list
    except TRANSPORT_ERRORS:
        raise ListingFailed("upstream_unavailable") from None
    finally:
        client.close()
