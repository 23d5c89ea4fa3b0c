"""A request's options and the operator's provider options -> Gemini's request fields.

For both surfaces: generateContent's `GenerateContentConfig` (a plain dict the SDK validates)
and the Interactions body (snake_case, lower-case enums). What a protocol does not take is left
out silently (validation is the app's). Imports no SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from responses_client.events import ResponseRequest

logger = logging.getLogger("responses_client")

# API.md `reasoning_effort` -> Gemini 3.x `thinking_level` (there is no "max": the highest).
THINKING_LEVELS = {
    "minimal": "MINIMAL",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
    "xhigh": "XHIGH",
    "max": "XHIGH",
}
# Gemini 2.x takes a token budget instead (a level and a budget together are a 400).
THINKING_BUDGETS = {
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 32768,
}
# Model families that do not think: a thinking config would be refused.
NON_THINKING = ("gemini-1.", "gemini-2.0-", "gemma-")
# Fields of the config the adapter owns: an operator option never overrides them.
_OWNED = frozenset(
    {
        "http_options",
        "automatic_continuation",
        "automatic_function_calling",
        "continuation_token",
        "should_return_http_response",
    }
)


def _reasoning(request: ResponseRequest) -> tuple[str | None, str | None, str | None]:
    """(effort, summary, thinking) from the options, else the Responses-shaped `reasoning`."""
    opts = request.options or {}
    legacy = request.reasoning or {}
    effort = opts.get("reasoning_effort") or legacy.get("effort")
    summary = opts.get("reasoning_summary") or legacy.get("summary")
    thinking = opts.get("thinking")
    return (
        effort if isinstance(effort, str) else None,
        summary if isinstance(summary, str) else None,
        thinking if isinstance(thinking, str) else None,
    )


def max_output_tokens(request: ResponseRequest) -> int | None:
    """The user's `max_output_tokens` option within the app's cap (the smaller of the two)."""
    wanted = (request.options or {}).get("max_output_tokens")
    caps = [v for v in (wanted, request.max_output_tokens) if isinstance(v, int) and v > 0]
    return min(caps) if caps else None


def bare_model(model: str) -> str:
    """The model id without the `models/` resource prefix."""
    return model.removeprefix("models/")


def thinking_config(request: ResponseRequest) -> dict[str, Any]:
    """generateContent's `thinking_config`: thoughts included unless turned off."""
    effort, summary, thinking = _reasoning(request)
    config: dict[str, Any] = {"include_thoughts": summary != "none" and thinking != "off"}
    if bare_model(request.model).startswith("gemini-2"):
        if thinking == "off":
            config["thinking_budget"] = 0
        elif effort in THINKING_BUDGETS:
            config["thinking_budget"] = THINKING_BUDGETS[effort]
        elif thinking == "adaptive":
            config["thinking_budget"] = -1
    elif effort in THINKING_LEVELS:
        config["thinking_level"] = THINKING_LEVELS[effort]
    elif thinking == "off":
        config["thinking_level"] = "MINIMAL"  # 3.x cannot turn thinking off: the least of it
    return config


def safety_settings(value: Any) -> list[dict[str, str]] | None:
    """The operator's safety settings as generateContent's list of `{category, threshold}`.

    The providers file may give a table `{HARM_CATEGORY_X = "BLOCK_..."}` or the API's list.
    """
    if isinstance(value, Mapping):
        return [{"category": str(k), "threshold": str(v)} for k, v in value.items()]
    if isinstance(value, list):
        return [dict(item) for item in value if isinstance(item, Mapping)]
    return None


def interactions_safety(value: Any) -> list[dict[str, str]] | None:
    """The same settings in the Interactions form: `{type: "harassment", threshold: "block_..."}`."""
    settings = safety_settings(value)
    if settings is None:
        return None
    out = []
    for item in settings:
        kind = str(item.get("type") or item.get("category") or "")
        out.append(
            {
                "type": kind.lower().removeprefix("harm_category_"),
                "threshold": str(item.get("threshold", "")).lower(),
            }
        )
    return out


def generate_config(
    request: ResponseRequest, operator: Mapping[str, Any], allowed: frozenset[str]
) -> dict[str, Any]:
    """The `GenerateContentConfig` fields for one call (`allowed`: the config's field names)."""
    opts = request.options or {}
    config: dict[str, Any] = {
        # One request per call: no SDK follow-up hops, no tool loop.
        "automatic_continuation": False,
        "automatic_function_calling": {"disable": True},
    }
    if not bare_model(request.model).startswith(NON_THINKING):
        config["thinking_config"] = thinking_config(request)
    if request.instructions:
        config["system_instruction"] = request.instructions
    limit = max_output_tokens(request)
    if limit is not None:
        config["max_output_tokens"] = limit
    for key in ("temperature", "top_p"):
        if isinstance(opts.get(key), int | float):
            config[key] = opts[key]
    for key, value in operator.items():
        if key == "safety_settings":
            settings = safety_settings(value)
            if settings is not None:
                config["safety_settings"] = settings
        elif key in allowed and key not in _OWNED:
            config[key] = value
        else:
            logger.warning("gemini provider option left out key=%s", key)
    return config


def interactions_generation_config(request: ResponseRequest) -> dict[str, Any]:
    """The Interactions `generation_config` (lower-case `thinking_level`, `thinking_summaries`)."""
    opts = request.options or {}
    effort, summary, thinking = _reasoning(request)
    config: dict[str, Any] = {}
    limit = max_output_tokens(request)
    if limit is not None:
        config["max_output_tokens"] = limit
    for key in ("temperature", "top_p"):
        if isinstance(opts.get(key), int | float):
            config[key] = opts[key]
    if bare_model(request.model).startswith(NON_THINKING):
        return config
    if bare_model(request.model).startswith("gemini-2"):
        pass  # 2.x thinks by a budget, which Interactions has no field for: no level
    elif effort in THINKING_LEVELS:
        config["thinking_level"] = THINKING_LEVELS[effort].lower()
    elif thinking == "off":
        config["thinking_level"] = "minimal"
    config["thinking_summaries"] = "none" if summary == "none" or thinking == "off" else "auto"
    return config
