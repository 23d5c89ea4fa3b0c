"""Build the provider registry from the environment and the providers file (today: the environment)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from responses_client.adapters.openai_responses import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_AFTER,
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


def _secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    # API.md "Secrets": every *_API_KEY, *_TOKEN and *_SECRET variable and SECRET_KEY never come
    # back out of an upstream string.
    return tuple(
        v
        for k, v in environ.items()
        if v and (k.endswith(("_API_KEY", "_TOKEN", "_SECRET")) or k == "SECRET_KEY")
    )


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
        max_retry_after=_number(env, "CHAT_UPSTREAM_MAX_RETRY_AFTER", DEFAULT_MAX_RETRY_AFTER),
        secrets=_secrets(env),
    )
    return {provider.name: provider}
