"""Build the configured providers from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping

from responses_client.adapters.openai_responses import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_READ_TIMEOUT,
    OpenAIProvider,
)
from responses_client.provider import Provider


def _number(environ: Mapping[str, str], key: str, default: float) -> float:
    raw = environ.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{key} must be a number") from None
    if value < 0:
        raise ValueError(f"{key} must not be negative")
    return value


def providers_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Provider]:
    """Build the configured providers (empty when no `OPENAI_API_KEY`)."""
    env = os.environ if environ is None else environ
    key = env.get("OPENAI_API_KEY", "").strip()
    if not key:
        return {}
    provider = OpenAIProvider(
        key,
        base_url=env.get("OPENAI_BASE_URL", "").strip() or None,
        read_timeout=_number(env, "CHAT_UPSTREAM_READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
        max_retries=int(_number(env, "CHAT_UPSTREAM_MAX_RETRIES", DEFAULT_MAX_RETRIES)),
    )
    return {provider.name: provider}
