"""The fakes' model lists: each provider's `GET …/models` shape, paged where the real one is.

`ModelListing` is what a fake serves (its `models` in the provider's own shape, or the shape's
sample; `page_size` for the paged shapes; `fail` to misbehave: "500", "401", "404", "429",
"bad_json", "bad_shape"); `serve_models` writes the answer on a fake's handler. Shapes: "openai"
(OpenAI, xAI, Ollama's `/v1/models`), "deepseek", "openrouter" (pricing, context_length,
architecture, top_provider, supported_parameters), "anthropic" (`data`, `has_more`, `first_id`,
`last_id`, paged by `after_id`), "gemini" (`models`, `nextPageToken`, paged by `pageToken`).
Imports none of the fakes (they import it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any


def _anthropic_caps(*, image: bool, efforts: tuple[str, ...], thinking: bool) -> dict[str, Any]:
    def yes(flag: bool) -> dict[str, bool]:
        return {"supported": flag}

    levels = {e: yes(e in efforts) for e in ("low", "medium", "high", "xhigh", "max")}
    return {
        "batch": yes(True),
        "citations": yes(True),
        "code_execution": yes(False),
        "context_management": {"supported": False},
        "effort": {"supported": bool(efforts), **levels},
        "image_input": yes(image),
        "pdf_input": yes(image),
        "server_tools": {"supported": False},
        "structured_outputs": yes(True),
        "thinking": {
            "supported": thinking,
            "types": {
                "adaptive": yes(thinking),
                "between_tools": yes(thinking),
                "disabled": yes(True),
                "enabled": yes(False),
            },
        },
    }


def _anthropic(model_id: str, window: int | None, out: int | None, **caps: Any) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": model_id.replace("-", " ").title(),
        "created_at": "2026-09-28T00:00:00Z",
        "lifecycle": "active",
        "line": None,
        "deprecated_at": None,
        "retires_at": None,
        "max_input_tokens": window,
        "max_tokens": out,
        "capabilities": _anthropic_caps(**caps),
    }


SAMPLES: dict[str, list[dict[str, Any]]] = {
    "openai": [
        {"id": "gpt-5.4-mini", "object": "model", "created": 1764000000, "owned_by": "openai"},
        {"id": "gpt-5.4", "object": "model", "created": 1764000000, "owned_by": "openai"},
        {"id": "text-embedding-3-small", "object": "model", "created": 1, "owned_by": "openai"},
        {"id": "whisper-1", "object": "model", "created": 1, "owned_by": "openai"},
    ],
    "deepseek": [
        {"id": "deepseek-v4-flash", "object": "model", "owned_by": "deepseek"},
        {"id": "deepseek-v4-pro", "object": "model", "owned_by": "deepseek"},
    ],
    "ollama": [
        {"id": "llama3:latest", "object": "model", "created": 1764000000, "owned_by": "library"},
        {"id": "qwen3:4b", "object": "model", "created": 1764000000, "owned_by": "library"},
    ],
    "openrouter": [
        {
            "id": "anthropic/claude-sonnet-5.5",
            "canonical_slug": "anthropic/claude-sonnet-5.5-20260928",
            "name": "Anthropic: Claude Sonnet 5.5",
            "created": 1764000000,
            "context_length": 1000000,
            "architecture": {
                "input_modalities": ["text", "image", "file"],
                "output_modalities": ["text"],
                "tokenizer": "Claude",
            },
            "pricing": {
                "prompt": "0.000002",
                "completion": "0.00001",
                "input_cache_read": "0.0000002",
                "input_cache_write": "0.0000025",
                "internal_reasoning": "0",
            },
            "top_provider": {
                "context_length": 1000000,
                "max_completion_tokens": 128000,
                "is_moderated": False,
            },
            "supported_parameters": ["max_tokens", "reasoning", "include_reasoning", "tools"],
        },
        {
            "id": "meta-llama/llama-4-8b:free",
            "name": "Meta: Llama 4 8B (free)",
            "created": 1764000000,
            "context_length": 131072,
            "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
            "pricing": {"prompt": "0", "completion": "0"},
            "top_provider": {"context_length": 131072, "max_completion_tokens": None},
            "supported_parameters": ["max_tokens", "temperature", "top_p"],
        },
        {
            "id": "openrouter/auto",
            "name": "Auto Router",
            "context_length": 2000000,
            "architecture": {"input_modalities": ["text", "image"]},
            "pricing": {"prompt": "-1", "completion": "-1"},
            "top_provider": {"context_length": None, "max_completion_tokens": None},
        },
    ],
    "anthropic": [
        _anthropic(
            "claude-sonnet-5-5",
            1_000_000,
            128_000,
            image=True,
            efforts=("low", "medium", "high", "xhigh", "max"),
            thinking=True,
        ),
        _anthropic(
            "claude-opus-5-5-20260928",
            1_000_000,
            128_000,
            image=True,
            efforts=("low", "medium", "high", "max"),
            thinking=True,
        ),
        _anthropic("claude-haiku-4-5", 200_000, 64_000, image=True, efforts=(), thinking=True),
        _anthropic("claude-text-1", 100_000, 4_096, image=False, efforts=(), thinking=False),
    ],
    "gemini": [
        {
            "name": "models/gemini-3.5-flash",
            "version": "3.5",
            "displayName": "Gemini 3.5 Flash",
            "inputTokenLimit": 1048576,
            "outputTokenLimit": 65536,
            "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent"],
            "temperature": 1.0,
            "maxTemperature": 2.0,
            "topP": 0.95,
            "topK": 64,
            "thinking": True,
        },
        {
            "name": "models/gemini-3.8-flash",
            "version": "3.8",
            "displayName": "Gemini 3.8 Flash",
            "inputTokenLimit": 1048576,
            "outputTokenLimit": 65536,
            "supportedGenerationMethods": ["generateContent", "countTokens"],
            "thinking": True,
        },
        {
            "name": "models/text-embedding-005",
            "version": "005",
            "displayName": "Text Embedding 005",
            "inputTokenLimit": 2048,
            "outputTokenLimit": 1,
            "supportedGenerationMethods": ["embedContent"],
        },
    ],
}
ERRORS: dict[str, dict[str, Any]] = {
    "openai": {"error": {"message": "boom", "type": "server_error", "code": None}},
    "anthropic": {"type": "error", "error": {"type": "api_error", "message": "boom"}},
    "gemini": {"error": {"code": 500, "message": "boom", "status": "INTERNAL"}},
}


@dataclass
class ModelListing:
    """What one fake serves on its model-list route; `requests` counts the GETs it answered."""

    models: list[dict[str, Any]] | None = None  # None: the shape's sample
    page_size: int = 0  # 0: the client's page size (anthropic `limit`, gemini `pageSize`) or all
    fail: str | None = None  # "500" | "401" | "404" | "429" | "bad_json" | "bad_shape"
    requests: int = 0
    queries: list[dict[str, list[str]]] = field(default_factory=list)


def _write(handler: BaseHTTPRequestHandler, status: int, data: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _page_size(listing: ModelListing, query: dict[str, list[str]], name: str, total: int) -> int:
    if listing.page_size:
        return listing.page_size
    asked = query.get(name, [""])[0]
    return int(asked) if asked.isdigit() and int(asked) > 0 else max(total, 1)


def serve_models(
    handler: BaseHTTPRequestHandler,
    listing: ModelListing,
    shape: str,
    query: dict[str, list[str]],
) -> int:
    """Answer one model-list GET in `shape`; returns the status sent."""
    listing.requests += 1
    listing.queries.append(query)
    if listing.fail == "bad_json":
        _write(handler, 200, b'{"data": [{"id": "gpt-')
        return 200
    if listing.fail == "bad_shape":
        _write(handler, 200, b'{"data": "nothing", "models": 7}')
        return 200
    if listing.fail is not None:
        status = int(listing.fail)
        family = shape if shape in ERRORS else "openai"
        _write(handler, status, json.dumps(ERRORS[family]).encode())
        return status
    models = listing.models if listing.models is not None else SAMPLES[shape]
    if shape == "anthropic":
        after = query.get("after_id", [None])[0]
        start = next((i + 1 for i, m in enumerate(models) if m["id"] == after), 0)
        page = models[start : start + _page_size(listing, query, "limit", len(models))]
        body: dict[str, Any] = {
            "data": page,
            "has_more": start + len(page) < len(models),
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
        }
    elif shape == "gemini":
        token = query.get("pageToken", ["0"])[0]
        start = int(token) if token.isdigit() else 0
        end = start + _page_size(listing, query, "pageSize", len(models))
        body = {"models": models[start:end]}
        if end < len(models):
            body["nextPageToken"] = str(end)
    else:
        body = {"object": "list", "data": models}
    _write(handler, 200, json.dumps(body).encode())
    return 200
