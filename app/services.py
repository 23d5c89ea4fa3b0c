"""The composition root: builds the store, providers, limits, accounts, shares and the chat service.

No Flask: `create_app` (app/__init__) calls `build_services` and hangs the parts on the Flask app;
CLI commands and benchmarks can build the same parts without a web server.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import conversation_manager as cm
import responses_client as rc
import stream_processor as sp
from app import accounts, limits, observe, redaction, shares, templating, turns
from app.attachments import AttachmentService, AttachmentSettings
from app.settings import DEFAULT_MODEL
from conversation_manager.json.accounts import JsonAccountRecords, JsonLoginAttempts
from conversation_manager.json.attachments import JsonAttachmentStore
from conversation_manager.json.limits import JsonLimitRecords
from conversation_manager.json.sessions import JsonSessionRecords
from conversation_manager.json.shares import JsonShareRecords
from conversation_manager.json.templates import JsonTemplateRecords
from responses_client import pricing
from responses_client.configure import build_registry

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a request handler or a command needs, built once per process."""

    store: cm.ConversationStore
    chat: turns.ChatService
    providers: rc.ProviderRegistry  # the configured providers, their models and the default
    sessions: accounts.SessionStore
    accounts: accounts.AccountStore
    shares: shares.ShareStore
    stream_limits: limits.StreamLimits  # open event streams, per user and per process
    templates: templating.TemplateService  # conversation templates, per user and shared
    attachments: AttachmentService  # uploaded images and text files (API "Attachments")
    ops: observe.Observability | None = None  # metrics, the turn log line, the health probe

    def housekeeping(self) -> None:
        """Remove expired sessions and stale login-throttle files; never stop the app starting."""
        try:
            self.sessions.sweep_expired()
            self.accounts.sweep()
        except (accounts.AuthError, cm.ConversationError, OSError):
            log.warning("startup_sweep_skipped", exc_info=True)
        try:
            self.attachments.sweep_all()  # unused files older than 24 h
        except (cm.ConversationError, OSError):
            log.warning("startup_attachment_sweep_skipped", exc_info=True)


def build_store(settings: dict[str, Any], data_dir: Path) -> cm.JsonConversationStore:
    """The conversation store (today the JSON files under `data_dir`)."""
    store = cm.JsonConversationStore(data_dir, lock_timeout=settings["CHAT_LOCK_TIMEOUT"])
    store.sweep()
    return store


def provider_environment(settings: dict[str, Any]) -> dict[str, str]:
    """The environment the providers are read from: the process's, with the settings over it
    (a setting that is None hides the variable: tests and embedders turn a provider off)."""
    env = dict(os.environ)
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        elif isinstance(value, str | int | float):
            env[name] = str(value)
    return env


def build_providers(settings: dict[str, Any], data_dir: Path | None = None) -> rc.ProviderRegistry:
    """The configured model providers (environment shortcuts and `CHAT_PROVIDERS_FILE`), with the
    model-list cache under `data_dir/.app/` when given; raises `ConfigError` /
    `ProvidersFileError` (one line: what to set, or the file's line, key, reason)."""
    env = provider_environment(settings)
    cache = data_dir / ".app" / "models.json" if data_dir is not None else None
    registry = build_registry(env, models_cache=cache)
    if registry:
        pricing.load_price_data()  # once per process, not in the first turn's estimate (~50 ms)
    # The values of the file's api_key_env variables are secrets too, from now on (API.md).
    redaction.install_log_redaction(redaction.secrets_in(env, names=registry.key_variables))
    return registry


def build_chat(
    settings: dict[str, Any],
    data_dir: Path,
    store: cm.ConversationStore,
    providers: rc.ProviderRegistry | None = None,
) -> turns.ChatService:
    """The chat service: turns over the store, the providers, turn coordination and the limits."""
    providers = build_providers(settings, data_dir) if providers is None else providers
    # No provider configured: the page says what to set; these only name new conversations.
    default_provider, default_model = providers.default or (
        "openai",
        settings["CHAT_MODEL"] or DEFAULT_MODEL,
    )
    return turns.ChatService(
        store,
        providers,
        turns.ChatSettings(
            default_model=default_model,
            default_provider=default_provider,
            instructions=settings["CHAT_INSTRUCTIONS"],
            max_message_chars=settings["CHAT_MAX_MESSAGE_CHARS"],
            max_output_tokens=settings["CHAT_MAX_OUTPUT_TOKENS"],
            context_tokens=settings["CHAT_CONTEXT_TOKENS"],
            summaries=settings["CHAT_SUMMARIES"],
            summary_model=settings["CHAT_SUMMARY_MODEL"],
            compact_after=settings["CHAT_COMPACT_INPUT_TOKENS"],
            keepalive_seconds=settings["CHAT_KEEPALIVE_SECONDS"],
            max_reply_chars=settings["CHAT_MAX_REPLY_CHARS"],
            max_retries=settings["CHAT_UPSTREAM_MAX_RETRIES"],
            max_retry_after=settings["CHAT_UPSTREAM_MAX_RETRY_AFTER"],
            lock_timeout=settings["CHAT_LOCK_TIMEOUT"],
            auto_titles=settings["CHAT_AUTO_TITLES"],
            secrets=tuple(
                redaction.secrets_in(provider_environment(settings), providers.key_variables)
            ),
        ),
        # Turns in flight live where the store says (a database-backed one can replace this).
        coordination_for=lambda user: sp.FileCoordination(store.turn_dir(user)),
        limits=limits.TurnLimits(
            JsonLimitRecords(data_dir, lock_timeout=settings["CHAT_LOCK_TIMEOUT"]),
            turns_per_minute=settings["CHAT_TURNS_PER_MINUTE"],
            concurrent_turns=settings["CHAT_CONCURRENT_TURNS"],
            budget_limit=settings["CHAT_BUDGET_LIMIT"],
            budget_unit=settings["CHAT_BUDGET_UNIT"],
            budget_period=settings["CHAT_BUDGET_PERIOD"],
        ),
    )


def build_accounts(
    settings: dict[str, Any], data_dir: Path
) -> tuple[accounts.SessionStore, accounts.AccountStore]:
    """Sessions and accounts (with their login throttling), over the JSON records in `data_dir`."""
    lock_timeout = settings["CHAT_LOCK_TIMEOUT"]
    sessions = accounts.SessionStore(
        JsonSessionRecords(data_dir, lock_timeout=lock_timeout),
        settings["CHAT_SESSION_LIFETIME"],
        idle_timeout_seconds=settings["CHAT_SESSION_IDLE_TIMEOUT"],
    )
    account_store = accounts.AccountStore(
        JsonAccountRecords(data_dir, lock_timeout=lock_timeout),
        attempts=JsonLoginAttempts(data_dir, lock_timeout=lock_timeout),
        sessions=sessions,
        max_failures_per_account=settings["CHAT_LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        max_failures_per_address=settings["CHAT_LOGIN_MAX_FAILURES_PER_ADDRESS"],
        failure_window_seconds=settings["CHAT_LOGIN_FAILURE_WINDOW"],
    )
    return sessions, account_store


def build_shares(settings: dict[str, Any], data_dir: Path) -> shares.ShareStore:
    """Share links, over the JSON records in `data_dir`."""
    return shares.ShareStore(JsonShareRecords(data_dir, lock_timeout=settings["CHAT_LOCK_TIMEOUT"]))


def build_templates(settings: dict[str, Any], data_dir: Path) -> templating.TemplateService:
    """Conversation templates, over the JSON records in `data_dir`."""
    return templating.TemplateService(
        JsonTemplateRecords(data_dir, lock_timeout=settings["CHAT_LOCK_TIMEOUT"]),
        shared_enabled=settings["CHAT_SHARED_TEMPLATES"],
        max_chars=settings["CHAT_MAX_MESSAGE_CHARS"],
    )


def build_attachments(
    settings: dict[str, Any],
    data_dir: Path,
    store: cm.ConversationStore,
    share_store: shares.ShareStore,
) -> AttachmentService:
    """Attachments, over the JSON files in each user's directory."""
    return AttachmentService(
        JsonAttachmentStore(data_dir, lock_timeout=settings["CHAT_LOCK_TIMEOUT"]),
        AttachmentSettings.from_settings(settings),
        conversations=store,
        shared_ids=share_store.attachment_ids,  # a shared snapshot keeps its files
    )


def build_services(settings: dict[str, Any], data_dir: Path) -> Services:
    """Build every part of the app for one process."""
    store = build_store(settings, data_dir)
    sessions, account_store = build_accounts(settings, data_dir)
    providers = build_providers(settings, data_dir)
    templates = build_templates(settings, data_dir)
    chat = build_chat(settings, data_dir, store, providers)
    chat.templates = templates.start  # a new conversation from a template (API "Templates")
    chat.default_instructions = account_store.default_instructions
    ops = observe.build_observability(
        data_dir=data_dir,
        secret_key=settings["SECRET_KEY"] or accounts.load_or_create_secret_key(data_dir),
        metrics_token=settings["CHAT_METRICS_TOKEN"],
        registry=providers,
    )
    chat.observer = ops.observer  # every finished turn: metrics and its log line
    share_store = build_shares(settings, data_dir)
    attachments = build_attachments(settings, data_dir, store, share_store)
    chat.attachments = attachments  # the files a turn names, sent as parts (API "Attachments")
    return Services(
        store=store,
        chat=chat,
        templates=templates,
        attachments=attachments,
        providers=providers,
        sessions=sessions,
        accounts=account_store,
        shares=share_store,
        stream_limits=limits.StreamLimits(
            JsonLimitRecords(data_dir, lock_timeout=settings["CHAT_LOCK_TIMEOUT"]),
            per_user=settings["CHAT_MAX_STREAMS_PER_USER"],
            per_process=settings["CHAT_MAX_STREAMS_PER_PROCESS"],
            gauge=ops.metrics,
        ),
        ops=ops,
    )
