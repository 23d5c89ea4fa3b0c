"""The settings table: every environment variable the app reads, its parser and its default.

Imports no Flask; `load_settings` is pure over a mapping, so tests and embedders pass their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app import accounts as auth

DEFAULT_MODEL = "gpt-5.4-mini"  # of new conversations while no provider is configured
DEFAULT_INSTRUCTIONS = (
    "You are a helpful assistant. Answer clearly and accurately; use Markdown where it helps."
)
# name: (environment variable parser, default)
SETTINGS: dict[str, tuple[type, Any]] = {
    # Providers (API.md "Providers"): each is on when its key is set (ollama: its base URL).
    "OPENAI_API_KEY": (str, None),
    "OPENAI_BASE_URL": (str, None),
    "ANTHROPIC_API_KEY": (str, None),
    "ANTHROPIC_BASE_URL": (str, None),
    "GEMINI_API_KEY": (str, None),
    "GEMINI_BASE_URL": (str, None),
    "XAI_API_KEY": (str, None),
    "XAI_BASE_URL": (str, None),
    "DEEPSEEK_API_KEY": (str, None),
    "DEEPSEEK_BASE_URL": (str, None),
    "OPENROUTER_API_KEY": (str, None),
    "OPENROUTER_BASE_URL": (str, None),
    "OLLAMA_BASE_URL": (str, None),
    "CHAT_PROVIDERS_FILE": (str, None),  # the TOML providers file (responses_client.configure)
    # None: the defaults rules decide (the default provider's default model; openai's list).
    "CHAT_PROVIDER": (str, None),
    "CHAT_MODEL": (str, None),
    "CHAT_MODELS": (str, None),
    "CHAT_INSTRUCTIONS": (str, DEFAULT_INSTRUCTIONS),
    "CHAT_SHARED_TEMPLATES": (bool, False),  # users may share templates with every other user
    "CHAT_DATA_DIR": (str, "instance/data"),
    "CHAT_MAX_MESSAGE_CHARS": (int, 100_000),
    "CHAT_MAX_BODY_BYTES": (int, 2 * 1024 * 1024),
    "CHAT_MAX_OUTPUT_TOKENS": (int, 16_000),
    "CHAT_CONTEXT_TOKENS": (int, 128_000),
    "CHAT_SUMMARIES": (bool, False),  # summarise what a replay drops (API "Context")
    "CHAT_SUMMARY_MODEL": (str, None),  # provider:model of summaries; None: the turn's own
    "CHAT_COMPACT_INPUT_TOKENS": (int, None),  # compact a chain past this size; None: never
    "CHAT_PUBLIC_URL": (str, None),
    "CHAT_ALLOWED_HOSTS": (str, None),
    "CHAT_HTTPS": (bool, False),
    "CHAT_ENV": (str, "production"),
    "CHAT_SESSION_LIFETIME": (int, 14 * 24 * 3600),
    "CHAT_SIGNUP_ENABLED": (bool, False),
    "CHAT_LOCK_TIMEOUT": (float, 10.0),
    "CHAT_KEEPALIVE_SECONDS": (float, 15.0),
    "CHAT_UPSTREAM_READ_TIMEOUT": (float, 60.0),
    "CHAT_UPSTREAM_MAX_RETRIES": (int, 2),
    "CHAT_UPSTREAM_MAX_RETRY_AFTER": (float, 10.0),
    "CHAT_MAX_REPLY_CHARS": (int, 200_000),  # a longer reply ends `incomplete` (0: no cap)
    "CHAT_AUTO_TITLES": (bool, False),  # model-written titles after the first reply
    "CHAT_TURNS_PER_MINUTE": (int, 20),
    "CHAT_CONCURRENT_TURNS": (int, 2),
    "CHAT_MAX_STREAMS_PER_USER": (int, 20),  # open event streams of one user, all processes
    # Open event streams per worker process; under gunicorn.conf.py its post_fork hook sets it from
    # the worker's threads (a quarter, at least 2, kept free for /healthz and logins) unless set.
    "CHAT_MAX_STREAMS_PER_PROCESS": (int, 48),
    "CHAT_BUDGET_LIMIT": (float, None),
    "CHAT_BUDGET_UNIT": (str, "usd"),
    "CHAT_BUDGET_PERIOD": (str, "day"),
    "CHAT_CORS_ORIGINS": (str, None),
    "CHAT_TRUSTED_PROXIES": (int, 0),
    "CHAT_SESSION_IDLE_TIMEOUT": (float, None),
    "CHAT_LOGIN_MAX_FAILURES_PER_ACCOUNT": (int, auth.DEFAULT_MAX_FAILURES_PER_ACCOUNT),
    "CHAT_LOGIN_MAX_FAILURES_PER_ADDRESS": (int, auth.DEFAULT_MAX_FAILURES_PER_ADDRESS),
    "CHAT_LOGIN_FAILURE_WINDOW": (float, auth.DEFAULT_FAILURE_WINDOW),
    # Attachments (API.md "Attachments"): images and small text files, per user.
    "CHAT_ATTACHMENT_MAX_BYTES": (int, 10 * 1024 * 1024),
    "CHAT_ATTACHMENT_QUOTA_BYTES": (int, 500 * 1000 * 1000),
    "CHAT_TEXT_ATTACHMENT_MAX_BYTES": (int, 256 * 1024),  # a text or code file
    "CHAT_IMAGE_MAX_PIXELS": (int, 40_000_000),  # width x height; more is refused (a pixel bomb)
    "CHAT_PASTE_ATTACHMENT_CHARS": (int, 4_000),  # a longer paste becomes a text attachment
    # Operations (API.md "Operations"): /metrics is off until a token is set.
    "CHAT_METRICS_TOKEN": (str, None),
    "SECRET_KEY": (str, None),
}


def parse_value(kind: type, raw: str) -> Any:
    if kind is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return kind(raw)


def load_settings(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Read every setting from the environment, then apply `overrides` (tests, embedding)."""
    settings: dict[str, Any] = {}
    for name, (kind, default) in SETTINGS.items():
        raw = environ.get(name)
        settings[name] = parse_value(kind, raw) if raw not in (None, "") else default
    settings.update(overrides or {})
    return settings
