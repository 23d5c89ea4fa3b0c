"""Built-in facts: the seven named providers (API.md "Providers") and what is known of some models.

Every model figure here is taken from /work/shared/reference/providers.md (state 2026-12-01); a
figure the reference does not give stays None, never a guess. The providers file overrides any
of it (`[models."provider:model"]`). Data and lookups only: imports nothing but the standard
library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROTOCOLS = ("responses", "chat_completions", "anthropic", "gemini")
# API.md "Options": every option a turn may name; a model with no data takes them all.
OPTION_NAMES = (
    "reasoning_effort",
    "reasoning_summary",
    "verbosity",
    "temperature",
    "top_p",
    "max_output_tokens",
    "thinking",
)
EFFORTS = ("minimal", "low", "medium", "high", "xhigh", "max")
INPUT_KINDS = ("text", "image")


@dataclass(frozen=True)
class BuiltinProvider:
    """One row of API.md's provider table."""

    name: str
    protocol: str
    key_env: str | None  # None: no key (a local server, on when its base URL is set)
    base_url_env: str
    base_url: str | None  # the default base URL; None: the SDK's own (or off, without a key)
    default_model: str | None
    stateful: bool  # the chain the protocol keeps by default
    flavour: str | None = None  # the Chat Completions dialect
    local: bool = False


# In the contract's order: the first configured one is the default provider.
BUILTIN_PROVIDERS: tuple[BuiltinProvider, ...] = (
    BuiltinProvider("openai", "responses", "OPENAI_API_KEY", "OPENAI_BASE_URL", None,
                    "gpt-5.4-mini", stateful=True),
    BuiltinProvider("anthropic", "anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", None,
                    "claude-sonnet-5-5", stateful=False),
    BuiltinProvider("gemini", "gemini", "GEMINI_API_KEY", "GEMINI_BASE_URL", None,
                    "gemini-3.5-flash", stateful=False),
    BuiltinProvider("xai", "responses", "XAI_API_KEY", "XAI_BASE_URL", "https://api.x.ai/v1",
                    "grok-4.7", stateful=True),
    BuiltinProvider("deepseek", "chat_completions", "DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL",
                    "https://api.deepseek.com", "deepseek-v4-flash", stateful=False,
                    flavour="deepseek"),
    BuiltinProvider("openrouter", "chat_completions", "OPENROUTER_API_KEY",
                    "OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1", None, stateful=False,
                    flavour="openrouter"),
    BuiltinProvider("ollama", "chat_completions", None, "OLLAMA_BASE_URL", None, None,
                    stateful=False, flavour="ollama", local=True),
)  # fmt: skip
BUILTIN = {p.name: p for p in BUILTIN_PROVIDERS}
# The openai provider's picker list when neither CHAT_MODELS nor the file gives one (today's).
OPENAI_SUGGESTIONS = ("gpt-5.4-mini", "gpt-5.4", "gpt-5.4-nano", "gpt-5.6-terra")


@dataclass(frozen=True)
class ModelFacts:
    """What the reference says of one model; None: it does not say."""

    context_window: int | None = None
    max_output_tokens: int | None = None
    input: tuple[str, ...] | None = None
    reasoning: tuple[str, ...] | None = None  # () : the model takes no reasoning effort
    options: tuple[str, ...] | None = None  # None: every option
    # (option, the values the model takes) for an enum option some of whose values it refuses.
    values: tuple[tuple[str, tuple[str, ...]], ...] = ()


def _without(*names: str) -> tuple[str, ...]:
    return tuple(o for o in OPTION_NAMES if o not in names)


# providers.md §1.1: under anthropic-version 2026-10-21 temperature and top_p are refused (400)
# for every model, whatever its value; the Messages API has no verbosity field either.
_CLAUDE_OPTIONS = _without("temperature", "top_p", "verbosity")
_CLAUDE_EFFORTS = ("low", "medium", "high", "xhigh", "max")  # §1.8 output_config.effort
# §1.8: Opus 5.5 cannot disable thinking ("thinking.type.disabled" is not supported: 400).
_ALWAYS_THINKS = (("thinking", ("on", "adaptive")),)
_TEXT_IMAGE = ("text", "image")  # §1.7 (Anthropic), §2.6 (Gemini) image input
_GEMINI3_LEVELS = ("minimal", "low", "medium", "high", "xhigh")  # §2.1 thinking_level (3.x)
_NO_EFFORT = _without("reasoning_effort")  # §4: older Grok models refuse reasoning_effort
# responses-api.md §6: o4-mini rejects temperature/top_p, takes effort low/medium/high and the
# summaries auto/detailed (`concise` is for models after gpt-5); o1-mini takes no sampling
# parameters, no reasoning effort and no summaries.
_O4_MINI = ModelFacts(
    reasoning=("low", "medium", "high"),
    options=_without("temperature", "top_p"),
    values=(("reasoning_summary", ("auto", "detailed", "none")),),
)
_O1_MINI = ModelFacts(
    reasoning=(), options=_without("temperature", "top_p", "reasoning_effort", "reasoning_summary")
)

# family -> model -> facts. A family's "" entry holds what is true of every model in it.
_MODELS: dict[str, dict[str, ModelFacts]] = {
    "openai": {
        "o4-mini": _O4_MINI,
        "o1-mini": _O1_MINI,
    },
    "anthropic": {
        "": ModelFacts(options=_CLAUDE_OPTIONS),
        # §1.9: Opus 5.5 / Sonnet 5.5 / Opus 5 = 1M in / 128k out; Haiku 4.5 = 200k / 64k.
        "claude-opus-5-5": ModelFacts(
            1_000_000, 128_000, _TEXT_IMAGE, _CLAUDE_EFFORTS, _CLAUDE_OPTIONS, _ALWAYS_THINKS
        ),
        "claude-sonnet-5-5": ModelFacts(
            1_000_000, 128_000, _TEXT_IMAGE, _CLAUDE_EFFORTS, _CLAUDE_OPTIONS
        ),
        "claude-opus-5": ModelFacts(1_000_000, 128_000, _TEXT_IMAGE, None, _CLAUDE_OPTIONS),
        "claude-haiku-5-5": ModelFacts(None, None, _TEXT_IMAGE, _CLAUDE_EFFORTS, _CLAUDE_OPTIONS),
        "claude-haiku-4-5": ModelFacts(200_000, 64_000, _TEXT_IMAGE, None, _CLAUDE_OPTIONS),
    },
    "gemini": {
        # §2.1: Gemini 3.x takes thinking_level; 2.5 a thinking_budget (no effort levels).
        "gemini-3.5-flash": ModelFacts(None, None, _TEXT_IMAGE, _GEMINI3_LEVELS),
        "gemini-3.8-flash": ModelFacts(None, None, _TEXT_IMAGE, _GEMINI3_LEVELS),
        "gemini-3.1-pro-preview": ModelFacts(None, None, _TEXT_IMAGE, _GEMINI3_LEVELS),
    },
    "xai": {
        # §4: grok-4.5 500k context, effort low/medium/high; grok-4.7 500k, low…xhigh.
        "grok-4.5": ModelFacts(500_000, None, None, ("low", "medium", "high")),
        "grok-4.7": ModelFacts(500_000, None, None, ("low", "medium", "high", "xhigh")),
        "grok-3": ModelFacts(reasoning=(), options=_NO_EFFORT),
        "grok-4": ModelFacts(reasoning=(), options=_NO_EFFORT),
        "grok-4-fast-reasoning": ModelFacts(reasoning=(), options=_NO_EFFORT),
    },
    "deepseek": {
        # §6: 1M context, up to 384k output; reasoning_effort low/high/max (others mapped onto them).
        "deepseek-v4-pro": ModelFacts(1_000_000, 384_000, None, ("low", "high", "max")),
        "deepseek-v4-flash": ModelFacts(1_000_000, 384_000, None, ("low", "high", "max")),
        "deepseek-flash": ModelFacts(1_000_000, 384_000, None, ("low", "high", "max")),
    },
}
_DATED = re.compile(r"-\d{8}$")  # claude-opus-5-5-20260928 is claude-opus-5-5 (§7)
_OPENAI_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")  # o4-mini-2025-04-16 is o4-mini

# What each protocol (and Chat Completions dialect) can send at all: an option outside its set
# has no field in that API, so every model behind it refuses it (the adapters' mapping).
_ALL = frozenset(OPTION_NAMES)
PROTOCOL_OPTIONS: dict[str, frozenset[str]] = {
    # Responses: reasoning {effort, summary}, text.verbosity, temperature, top_p,
    # max_output_tokens; it has no thinking switch.
    "responses": _ALL - {"thinking"},
    # Messages: thinking, thinking.display (the summary), output_config.effort, max_tokens.
    "anthropic": frozenset(
        {"reasoning_effort", "reasoning_summary", "max_output_tokens", "thinking"}
    ),
    # generateContent / Interactions: thinking_config, temperature, top_p, max_output_tokens.
    "gemini": _ALL - {"verbosity"},
    "fake": _ALL,
}
CHAT_OPTIONS: dict[str, frozenset[str]] = {
    # DeepSeek: reasoning_effort and thinking {type}; temperature/top_p ignored in thinking mode
    # but not refused (§6).
    "deepseek": frozenset(
        {"reasoning_effort", "thinking", "temperature", "top_p", "max_output_tokens"}
    ),
    # OpenRouter: reasoning {effort, enabled, exclude} (§5).
    "openrouter": _ALL - {"verbosity"},
    # Ollama: reasoning_effort ("none" turns thinking off).
    "ollama": frozenset(
        {"reasoning_effort", "thinking", "temperature", "top_p", "max_output_tokens"}
    ),
    # A compatible server in OpenAI's spelling: reasoning_effort, verbosity.
    "generic": _ALL - {"thinking", "reasoning_summary"},
}
# How each protocol maps API.md's efforts onto its own (a value mapped is taken when the model
# takes what it becomes): Anthropic has no "minimal" (§1.8), DeepSeek low/high/max (§6),
# Gemini's levels stop at XHIGH (§2.1).
EFFORT_MAPS: dict[str, dict[str, str]] = {
    "anthropic": {"minimal": "low"},
    "deepseek": {"minimal": "low", "medium": "high", "xhigh": "high"},
    "gemini": {"max": "xhigh"},
}


def undated(model: str) -> str:
    """An Anthropic model id without its date suffix (`claude-opus-5-5-20260928` is
    `claude-opus-5-5`, the alias naming the newest; §7)."""
    return _DATED.sub("", model)


def protocol_options(protocol: str | None, flavour: str | None = None) -> frozenset[str]:
    """The options a protocol (a Chat Completions `flavour`) can send; every one when unknown."""
    if protocol == "chat_completions":
        return CHAT_OPTIONS.get(flavour or "generic", CHAT_OPTIONS["generic"])
    return PROTOCOL_OPTIONS.get(protocol or "", _ALL)


def effort_map(
    family: str | None, protocol: str | None, flavour: str | None = None
) -> dict[str, str]:
    """API.md effort -> the one sent, for a family (else its protocol or dialect); {}: as given."""
    for key in (family, flavour, protocol):
        if key and key in EFFORT_MAPS:
            return EFFORT_MAPS[key]
    return {}


def family_of(provider: str, protocol: str) -> str | None:
    """The model family whose facts apply to a provider: a built-in's own, else its protocol's."""
    if provider in _MODELS:
        return provider
    return {"anthropic": "anthropic", "gemini": "gemini"}.get(protocol)


def model_facts(family: str | None, model: str) -> ModelFacts | None:
    """The built-in facts of `model` in `family` (its family's defaults if only those); None: none."""
    table = _MODELS.get(family or "")
    if table is None:
        return None
    name = model.removeprefix("models/") if family == "gemini" else model
    if family == "anthropic":
        name = undated(name)
    elif family == "openai":
        name = _OPENAI_DATED.sub("", name)
    return table.get(name) or table.get("")


def known_models(family: str | None) -> tuple[str, ...]:
    """The models the built-in table knows in `family` (for the registry's lookups)."""
    return tuple(m for m in _MODELS.get(family or "", {}) if m)
