"""A provider's model list as data: what to ask (`ListTarget`), what one model is (`ListedModel`),
how a list fails (`ListingFailed`, a short code), and the parsers of each provider's list shape.

The parsers read plain JSON objects (the adapters' `*_models` modules turn the SDK's pages into
them) and keep only what each shape says (providers.md §1.9 Anthropic, §2.6 Gemini, §5 OpenRouter,
§6 DeepSeek, §4 xAI, Ollama's `/v1/models`): a figure the provider does not give stays None, never
a guess. An id is kept only when it passes the identifier rule. Imports no SDK, no Flask and
nothing of the app.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from responses_client.catalog import EFFORTS
from responses_client.identifiers import clean_token

INPUT_KINDS = ("text", "image")
ANTHROPIC_EFFORTS = ("low", "medium", "high", "xhigh", "max")
MAX_MODELS = 5000  # a list longer than this is refused (a server paging for ever)
MAX_FIGURE = 1_000_000_000  # a token figure above this is not believed
PROVIDER_PRICE = "provider"  # the price record's `source` for rates the provider listed
_PER_MILLION = Decimal(1_000_000)
# OpenAI's list holds models no chat turn can use (embeddings, audio, images, moderation).
_NOT_CHAT = re.compile(
    r"(embedding|whisper|^tts-|-tts|dall-e|moderation|transcribe|^sora|gpt-image|^davinci|^babbage)"
)
# Error codes of a failed list (API.md's words where one fits).
CODES = (
    "upstream_auth",  # 401/403 or the provider's way of saying "bad key"
    "rate_limited",
    "quota_exceeded",
    "upstream_unavailable",  # 5xx, timeout, refused connection
    "not_supported",  # the server has no model list (404/405)
    "bad_request",  # another 4xx
    "bad_response",  # not JSON, or not the list's shape
    "too_many_models",
    "internal",
)


class ListingFailed(Exception):
    """A model list could not be read; `code` is one of `CODES`, never upstream text."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code if code in CODES else "internal"

    def __str__(self) -> str:
        return self.code


def code_for(error: Any) -> str:
    """The listing code for an adapter's classified `ProviderError` (its `code` and `status`)."""
    status = getattr(error, "status", None)
    if status in (404, 405, 501):
        return "not_supported"  # no model list at this base URL
    code = getattr(error, "code", None)
    if code in ("upstream_auth", "rate_limited", "quota_exceeded", "upstream_unavailable"):
        return str(code)
    return "bad_request"


@dataclass(frozen=True)
class ListTarget:
    """Where one provider's list is read: its protocol, dialect, base URL and key (never shown)."""

    name: str
    protocol: str  # responses | chat_completions | anthropic | gemini
    base_url: str | None  # None: the SDK's default host
    api_key: str | None = field(default=None, repr=False)
    flavour: str | None = None  # the Chat Completions dialect (openrouter, deepseek, ollama, …)
    api_version: str = "v1beta"  # gemini only
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    # Values that must never come back out of the list (API.md "Secrets"): a model id holding
    # one is dropped, so an upstream echoing a key in an id puts it neither on disk nor on a page.
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def redacted(self) -> tuple[str, ...]:
        """The secrets an id is checked against: the configured ones and this target's key."""
        return tuple(s for s in (self.api_key, *self.secrets) if s)

    @property
    def origin(self) -> str:
        """A short fingerprint of protocol and base URL (credentials left out), never the URL."""
        return origin_of(self.protocol, self.base_url)


def origin_of(protocol: str, base_url: str | None) -> str:
    """The cache's fingerprint of where a list came from: a digest, so no URL is ever written."""
    where = ""
    if base_url:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        where = f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"
    return hashlib.sha256(f"{protocol} {where}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ListedModel:
    """One model as its provider's list describes it; None: the list does not say."""

    id: str
    context_window: int | None = None
    max_output_tokens: int | None = None
    input: tuple[str, ...] | None = None
    reasoning: tuple[str, ...] | None = None  # efforts; (): takes none
    thinking: bool | None = None  # the model thinks (Anthropic, Gemini, OpenRouter's `reasoning`)
    price: Mapping[str, Any] | None = None  # the price record, USD per million, source "provider"

    def to_json(self) -> dict[str, Any]:
        """The cache file's form of this model."""
        return {
            "id": self.id,
            "context_window": self.context_window,
            "max_output_tokens": self.max_output_tokens,
            "input": list(self.input) if self.input is not None else None,
            "reasoning": list(self.reasoning) if self.reasoning is not None else None,
            "thinking": self.thinking,
            "price": dict(self.price) if self.price is not None else None,
        }

    @classmethod
    def from_json(cls, raw: Any, secrets: Iterable[str] = ()) -> ListedModel | None:
        """A model back from the cache file; None when the entry is not one (or holds a secret)."""
        if not isinstance(raw, dict):
            return None
        model_id = clean_token(raw.get("id"), secrets)
        if model_id is None:
            return None
        price = raw.get("price")
        return cls(
            id=model_id,
            context_window=figure(raw.get("context_window")),
            max_output_tokens=figure(raw.get("max_output_tokens")),
            input=_kinds(raw.get("input")),
            reasoning=_words(raw.get("reasoning"), EFFORTS),
            thinking=raw.get("thinking") if isinstance(raw.get("thinking"), bool) else None,
            price=_price_record(price) if isinstance(price, dict) else None,
        )


# -- small readers -------------------------------------------------------------------------------


def figure(value: Any) -> int | None:
    """A positive token count, or None (a bool, a float, 0 or an absurd number is not one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_FIGURE else None


def _kinds(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(k for k in INPUT_KINDS if k in value)


def _words(value: Any, allowed: Iterable[str]) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    allowed = tuple(allowed)
    return tuple(w for w in value if isinstance(w, str) and w in allowed)


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _supported(obj: Any, *path: str) -> bool | None:
    value = _get(obj, *path, "supported")
    return value if isinstance(value, bool) else None


def _rate(value: Any) -> float | None:
    """OpenRouter's USD-per-token string as USD per million tokens; None when not a price."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        per_token = Decimal(str(value))
    except InvalidOperation:
        return None
    if not per_token.is_finite() or per_token < 0:  # "-1": a router whose price varies
        return None
    rate = float(per_token * _PER_MILLION)
    return rate if math.isfinite(rate) else None


def _price_record(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """A price record read back from the cache (numbers or None, source "provider")."""
    out: dict[str, Any] = {"source": PROVIDER_PRICE}
    for key in ("input", "cached_input", "cache_write", "output"):
        value = raw.get(key)
        number = None if isinstance(value, bool) or not isinstance(value, int | float) else value
        ok = number is not None and math.isfinite(number) and number >= 0
        out[key] = float(number) if ok and number is not None else None
    return out if out["input"] is not None and out["output"] is not None else None


def _checked(models: list[ListedModel]) -> list[ListedModel]:
    if len(models) > MAX_MODELS:
        raise ListingFailed("too_many_models")
    seen: dict[str, ListedModel] = {}
    for model in models:
        seen.setdefault(model.id, model)  # the first entry of an id wins
    return list(seen.values())


def _items(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise ListingFailed("bad_response")
    return [i for i in items if isinstance(i, dict)]


# -- the shapes ----------------------------------------------------------------------------------


def parse_openai(
    items: Any, secrets: Iterable[str] = (), *, chat_only: bool = True
) -> list[ListedModel]:
    """OpenAI's and xAI's `GET /v1/models` (`data: [{id, object, created, owned_by}]`): ids only.

    `chat_only` leaves out what OpenAI lists beside chat models (embeddings, audio, images).
    """
    out = []
    for item in _items(items):
        model_id = clean_token(item.get("id"), secrets)
        if model_id is None or (chat_only and _NOT_CHAT.search(model_id)):
            continue
        out.append(ListedModel(id=model_id))
    return _checked(out)


def parse_plain(items: Any, secrets: Iterable[str] = ()) -> list[ListedModel]:
    """DeepSeek's `GET /models` and Ollama's `/v1/models` (OpenAI's shape, no limits): ids only."""
    return parse_openai(items, secrets, chat_only=False)


def parse_openrouter(items: Any, secrets: Iterable[str] = ()) -> list[ListedModel]:
    """OpenRouter's `GET /api/v1/models` (§5): context_length, top_provider, modalities, pricing."""
    out = []
    for item in _items(items):
        model_id = clean_token(item.get("id"), secrets)
        if model_id is None:
            continue
        window = figure(item.get("context_length")) or figure(
            _get(item, "top_provider", "context_length")
        )
        params = item.get("supported_parameters")
        thinks = None
        reasoning: tuple[str, ...] | None = None
        if isinstance(params, list):
            thinks = "reasoning" in params or "include_reasoning" in params
            reasoning = None if thinks else ()  # which efforts it takes, the list does not say
        pricing = item.get("pricing")
        price = None
        if isinstance(pricing, dict):
            record = {
                "input": _rate(pricing.get("prompt")),
                "cached_input": _rate(pricing.get("input_cache_read")),
                "cache_write": _rate(pricing.get("input_cache_write")),
                "output": _rate(pricing.get("completion")),
                "source": PROVIDER_PRICE,
            }
            if record["input"] is not None and record["output"] is not None:
                price = record
        out.append(
            ListedModel(
                id=model_id,
                context_window=window,
                max_output_tokens=figure(_get(item, "top_provider", "max_completion_tokens")),
                input=_kinds(_get(item, "architecture", "input_modalities")),
                reasoning=reasoning,
                thinking=thinks,
                price=price,
            )
        )
    return _checked(out)


def parse_anthropic(items: Any, secrets: Iterable[str] = ()) -> list[ListedModel]:
    """Anthropic's `GET /v1/models` ModelInfo (§1.9): windows, image input, effort, thinking."""
    out = []
    for item in _items(items):
        model_id = clean_token(item.get("id"), secrets)
        if model_id is None or item.get("lifecycle") == "retired":
            continue
        caps = item.get("capabilities")
        kinds: tuple[str, ...] | None = None
        image = _supported(caps, "image_input")
        if image is not None:
            kinds = ("text", "image") if image else ("text",)
        efforts: tuple[str, ...] | None = None
        effort = _supported(caps, "effort")
        if effort is not None:
            efforts = (
                tuple(e for e in ANTHROPIC_EFFORTS if _supported(caps, "effort", e))
                if effort
                else ()
            )
        out.append(
            ListedModel(
                id=model_id,
                context_window=figure(item.get("max_input_tokens")),
                max_output_tokens=figure(item.get("max_tokens")),
                input=kinds,
                reasoning=efforts,
                thinking=_supported(caps, "thinking"),
            )
        )
    return _checked(out)


def parse_gemini(items: Any, secrets: Iterable[str] = ()) -> list[ListedModel]:
    """Gemini's `GET /v1beta/models` (§2.6), as the SDK's Model fields or the wire's camelCase.

    Only models that generate content are kept (not embedding or other models); the id drops
    the `models/` prefix. The list says nothing of input kinds or effort levels.
    """
    out = []
    for item in _items(items):
        raw_name = item.get("name")
        name = raw_name.removeprefix("models/") if isinstance(raw_name, str) else None
        model_id = clean_token(name, secrets)
        if model_id is None:
            continue
        actions = item.get("supported_actions", item.get("supportedGenerationMethods"))
        if isinstance(actions, list) and not any(
            a in ("generateContent", "streamGenerateContent") for a in actions
        ):
            continue
        thinking = item.get("thinking")
        out.append(
            ListedModel(
                id=model_id,
                context_window=figure(item.get("input_token_limit", item.get("inputTokenLimit"))),
                max_output_tokens=figure(
                    item.get("output_token_limit", item.get("outputTokenLimit"))
                ),
                thinking=thinking if isinstance(thinking, bool) else None,
            )
        )
    return _checked(out)


def parse_for(target: ListTarget, items: Any) -> list[ListedModel]:
    """The parser of `target`'s shape applied to its list's items (ids checked against its secrets)."""
    secrets = target.redacted
    if target.protocol == "anthropic":
        return parse_anthropic(items, secrets)
    if target.protocol == "gemini":
        return parse_gemini(items, secrets)
    if target.protocol == "chat_completions":
        if target.flavour == "openrouter":
            return parse_openrouter(items, secrets)
        return parse_plain(items, secrets)
    return parse_openai(items, secrets)
