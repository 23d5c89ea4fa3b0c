"""What the Chat Completions fake answers: each host's error bodies and usage objects.

Shapes as providers.md §3, §5, §6 and §4 (xAI's bad-key 400) describe them; the messages hold a
key-like string (`LEAKY`) so the tests can prove no upstream text comes out of the adapter.
"""

from __future__ import annotations

import json
from typing import Any

LEAKY = "key sk-test-SECRET0123456789abcdef leaked"  # upstream text that must never come out

# name: (status, body) — bodies as each host sends them.
STATUS_ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "401": (
        401,
        {
            "error": {
                "message": "Authentication Fails, Your api key: ****abcd is invalid " + LEAKY,
                "type": "authentication_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
    ),
    "403": (
        403,
        {
            "error": {
                "code": 403,
                "message": "Your chosen model requires moderation and your input was flagged",
                "metadata": {"reasons": ["harassment"], "flagged_input": LEAKY},
            }
        },
    ),
    "402": (
        402,
        {
            "error": {
                "message": "Insufficient Balance",
                "type": "unknown_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
    ),
    "credits": (402, {"error": {"code": 402, "message": "Insufficient credits. " + LEAKY}}),
    "400": (
        400,
        {
            "error": {
                "message": "Invalid value for temperature " + LEAKY,
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
    ),
    "422": (
        422,
        {"error": {"message": "Invalid parameters", "type": "invalid_request_error", "code": None}},
    ),
    "context": (
        400,
        {
            "error": {
                "message": "This model's maximum context length is 131072 tokens. However, you "
                "requested 140000 tokens. Please reduce the length of the messages.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
    ),
    "nomodel": (
        400,
        {
            "error": {
                "message": "Model Not Exist",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
    ),
    "404": (
        404,
        {
            "error": {
                "message": 'model "llama9" not found, try pulling it first',
                "type": "api_error",
                "param": None,
                "code": None,
            }
        },
    ),
    "429": (
        429,
        {"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": 429}},
    ),
    "500": (500, {"error": {"message": "Internal error", "type": "api_error", "code": None}}),
    "502": (502, {"error": {"code": 502, "message": "Provider returned error"}}),
    "503": (
        503,
        {"error": {"message": "Server overloaded", "type": "server_error", "code": None}},
    ),
    "529": (529, {"error": {"message": "Overloaded", "type": "overloaded_error", "code": None}}),
    # xAI's flat shape for a stored response that is gone (the wording is a guess: UNVERIFIED);
    # `{prev}` becomes the request's previous_response_id.
    "xai_prev_gone": (
        404,
        {
            "code": "Some requested entity was not found",
            "error": "Response with id '{prev}' not found.",
        },
    ),
    # xAI: 400 for an incorrect key, its own flat shape (providers.md §4; the openai SDK's error).
    "xai_bad_key": (
        400,
        {
            "code": "Client specified an invalid argument",
            "error": "Incorrect API key provided: xa***ef. You can obtain an API key from "
            "https://console.x.ai.",
        },
    ),
}


def usage_for(body: dict[str, Any], n_out: int, n_reason: int, style: str) -> dict[str, Any]:
    """The usage object each host sends for a reply of `n_out` text and `n_reason` reasoning deltas."""
    n_in = max(1, len(json.dumps(body.get("messages"))) // 4)
    completion = n_out + n_reason
    usage: dict[str, Any] = {
        "prompt_tokens": n_in,
        "completion_tokens": completion,
        "total_tokens": n_in + completion,
    }
    cached = min(16, n_in // 2)
    if style == "deepseek":
        usage["prompt_cache_hit_tokens"] = cached
        usage["prompt_cache_miss_tokens"] = n_in - cached
        usage["completion_tokens_details"] = {"reasoning_tokens": n_reason}
    elif style == "openrouter":
        usage["prompt_tokens_details"] = {"cached_tokens": cached, "cache_write_tokens": 3}
        usage["completion_tokens_details"] = {"reasoning_tokens": n_reason}
        usage["cost"] = 0.00123
        usage["is_byok"] = False
    else:
        usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
        usage["completion_tokens_details"] = {"reasoning_tokens": n_reason, "audio_tokens": 0}
    return usage
