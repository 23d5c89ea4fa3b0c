"""The providers file (`CHAT_PROVIDERS_FILE`, TOML): read it, check every key, return plain data.

Every error is a `ProvidersFileError` naming the line, the key path and the reason, and never the
text of the line or a value from it: a key pasted into the file by mistake must not reach a log.
Keys are never written in the file (`api_key`, `key`, `token`, `secret` are refused anywhere): a
provider names the environment variable that holds its key (`api_key_env`). What the environment
decides (which providers are on, the defaults) is `configure`'s. Imports only the standard library
and `responses_client.catalog`, `registry.split_ref` and `toml_lines`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any, NoReturn
from urllib.parse import urlsplit

from responses_client.catalog import (
    BUILTIN,
    EFFORTS,
    INPUT_KINDS,
    OPTION_NAMES,
    PROTOCOLS,
)
from responses_client.registry import ModelRef, split_ref
from responses_client.toml_checks import TomlChecker
from responses_client.toml_lines import Path, format_path, key_lines, line_of, syntax_error

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MODEL_RE = re.compile(r"^[^\s\x00-\x1f\x7f]{1,200}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
PRICE_PROVIDER_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
API_VERSIONS = ("v1", "v1beta", "v1alpha")
# Refused as key names anywhere in the file, however deep (an `options` table too).
SECRET_KEYS = frozenset({"api_key", "key", "token", "secret", "password"})
SECRET_SUFFIXES = ("_api_key", "_token", "_secret", "_password")
NO_SECRETS = (
    "keys are never written in the providers file: "
    "name the environment variable that holds it with api_key_env"
)

TOP_KEYS = ("default", "providers", "models")
COMMON_KEYS = (
    "models",
    "strict",
    "fallback",
    "options",
    "stateful",
    "api_version",
    "read_timeout",
    "connect_timeout",
    "max_retries",
    "max_retry_after",
    "local",
    "fallback_leaves_host",
    "price_provider",
)
EXTRA_KEYS = ("protocol", "base_url", "api_key_env", "flavour")
FLAVOURS = ("generic", "deepseek", "openrouter", "ollama")  # Chat Completions dialects
MODEL_KEYS = (
    "context_window",
    "max_output_tokens",
    "input",
    "reasoning",
    "options",
    "price",
    "fallback",
)
PRICE_KEYS = ("input", "output", "cached_input", "cache_write")


class ProvidersFileError(ValueError):
    """The providers file is broken: where (line, key path) and why; never the line's text."""

    def __init__(self, source: str, line: int | None, path: str, reason: str) -> None:
        self.source = source
        self.line = line
        self.path = path
        self.reason = reason
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"providers file {source}: {where}{path}: {reason}")


@dataclass(frozen=True)
class ProviderSection:
    """One `[providers.NAME]` section, checked; None: not given (the built-in or app default)."""

    name: str
    line: int | None
    protocol: str  # a built-in's own, else the section's
    builtin: bool
    base_url: str | None = None
    api_key_env: str | None = None
    flavour: str | None = None
    models: tuple[str, ...] | None = None
    strict: bool = False
    fallback: tuple[ModelRef, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    stateful: bool | None = None
    api_version: str | None = None
    read_timeout: float | None = None
    connect_timeout: float | None = None
    max_retries: int | None = None
    max_retry_after: float | None = None
    local: bool | None = None
    fallback_leaves_host: bool = False
    price_provider: str | None = None


@dataclass(frozen=True)
class ModelSection:
    """One `[models."provider:model"]` section: what the price data and model lists do not know."""

    provider: str
    id: str
    line: int | None
    context_window: int | None = None
    max_output_tokens: int | None = None
    input: tuple[str, ...] | None = None
    reasoning: tuple[str, ...] | None = None
    options: tuple[str, ...] | None = None
    price: Mapping[str, float] | None = None
    fallback: tuple[ModelRef, ...] = ()


@dataclass(frozen=True)
class ProvidersFile:
    """The checked file: its default, its provider sections (in file order) and its models."""

    source: str
    default: ModelRef | None = None
    providers: dict[str, ProviderSection] = field(default_factory=dict)
    models: dict[ModelRef, ModelSection] = field(default_factory=dict)
    lines: dict[Path, int] = field(default_factory=dict, repr=False)

    def error(self, path: Path, reason: str) -> ProvidersFileError:
        """An error about `path` of this file, at its line (for checks made after parsing)."""
        return ProvidersFileError(self.source, line_of(self.lines, path), format_path(path), reason)


def load(path: str) -> ProvidersFile:
    """Read and check the providers file at `path`; raise `ProvidersFileError` if it is broken."""
    try:
        raw = FilePath(path).expanduser().read_bytes()
    except FileNotFoundError:
        raise ProvidersFileError(path, None, "(file)", "not found") from None
    except IsADirectoryError:
        raise ProvidersFileError(path, None, "(file)", "is a directory") from None
    except OSError as exc:
        reason = f"cannot be read ({exc.strerror or 'error'})"
        raise ProvidersFileError(path, None, "(file)", reason) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProvidersFileError(path, line, "(file)", "not UTF-8 text") from None
    return parse(text, source=path)


def parse(text: str, *, source: str = "<providers file>") -> ProvidersFile:
    """Check the text of a providers file (see `load`)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, path, reason = syntax_error(text, str(exc))
        raise ProvidersFileError(source, line, format_path(path), reason) from None
    return _Checker(source, text, document).run()


class _Checker(TomlChecker):
    """One pass over the parsed document; `fail` raises at the line of the path."""

    def __init__(self, source: str, text: str, document: dict[str, Any]) -> None:
        super().__init__(key_lines(text))
        self.source = source
        self.document = document

    def fail(self, path: Path, reason: str) -> NoReturn:
        raise ProvidersFileError(self.source, line_of(self.lines, path), format_path(path), reason)

    def ref(self, value: Any, path: Path) -> ModelRef:
        if not isinstance(value, str):
            self.fail(path, "must be a string `provider:model`")
        try:
            provider, model = split_ref(value)
        except ValueError:
            self.fail(path, "is not `provider:model`")
        if not MODEL_RE.match(model):
            self.fail(path, "is not `provider:model` (the model id has spaces or is too long)")
        return provider, model

    def refs(self, value: Any, path: Path) -> list[tuple[ModelRef, Path]]:
        if not isinstance(value, list):
            self.fail(path, "must be an array of `provider:model` strings")
        return [(self.ref(item, (*path, i)), (*path, i)) for i, item in enumerate(value)]

    # -- the document --------------------------------------------------------------------------

    def no_secrets(self, value: Any, path: Path) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                lower = name.lower()
                if lower in SECRET_KEYS or lower.endswith(SECRET_SUFFIXES):
                    self.fail((*path, name), NO_SECRETS)
                self.no_secrets(inner, (*path, name))
        elif isinstance(value, list):
            for i, inner in enumerate(value):
                self.no_secrets(inner, (*path, i))

    def run(self) -> ProvidersFile:
        doc = self.document
        self.no_secrets(doc, ())
        self.keys(doc, (), TOP_KEYS)
        sections = self.table(doc.get("providers", {}), ("providers",))
        names = set(BUILTIN)
        for name in sections:
            if not NAME_RE.match(name):
                self.fail(("providers", name), "is not a provider name (a-z, 0-9, _ or -)")
            names.add(name)
        providers: dict[str, ProviderSection] = {}
        pending: list[tuple[ModelRef, Path]] = []  # every provider:model named, checked last
        for name, body in sections.items():
            section, refs = self.provider(name, self.table(body, ("providers", name)))
            providers[name] = section
            pending += refs
        models: dict[ModelRef, ModelSection] = {}
        model_tables = self.table(doc.get("models", {}), ("models",))
        for ref_text, body in model_tables.items():
            path: Path = ("models", ref_text)
            ref = self.ref(ref_text, path)
            section_m, refs = self.model(ref, path, self.table(body, path))
            models[ref] = section_m
            pending += refs
            if ref[0] not in names:
                self.fail(path, "names a provider that is neither built in nor in this file")
        default = None
        if "default" in doc:
            default = self.ref(doc["default"], ("default",))
            pending.append((default, ("default",)))
        for (provider, model), where in pending:
            if provider not in names:
                self.fail(where, "names a provider that is neither built in nor in this file")
            target = providers.get(provider)
            if target is not None and target.strict and model not in (target.models or ()):
                self.fail(
                    where, f"names a model that [providers.{provider}] (strict) does not list"
                )
        return ProvidersFile(self.source, default, providers, models, self.lines)

    def provider(self, name: str, body: dict[str, Any]) -> tuple[ProviderSection, list]:
        path: Path = ("providers", name)
        builtin = BUILTIN.get(name)
        if builtin is not None:
            for key in EXTRA_KEYS:
                if key in body:
                    self.fail((*path, key), _builtin_reason(key, name))
            self.keys(body, path, COMMON_KEYS)
            protocol = builtin.protocol
        else:
            self.keys(body, path, COMMON_KEYS + EXTRA_KEYS)
            if "protocol" not in body:
                self.fail(
                    path, f"a further provider needs protocol = one of {', '.join(PROTOCOLS)}"
                )
            protocol = body["protocol"]
            if protocol not in PROTOCOLS:
                self.fail((*path, "protocol"), f"must be one of {', '.join(PROTOCOLS)}")
        values: dict[str, Any] = {}
        refs: list[tuple[ModelRef, Path]] = []
        for key, value in body.items():
            where = (*path, key)
            if key == "models":
                values[key] = self.strings(value, where, pattern=MODEL_RE, empty=False)
            elif key in ("strict", "local", "fallback_leaves_host"):
                values[key] = self.boolean(value, where)
            elif key == "stateful":
                values[key] = self.boolean(value, where)
                if values[key] and protocol == "chat_completions":
                    self.fail(where, "Chat Completions keep no state: stateful must be false")
            elif key == "fallback":
                refs = self.refs(value, where)
                values[key] = tuple(ref for ref, _ in refs)
            elif key == "options":
                values[key] = dict(self.table(value, where))
            elif key == "api_version":
                if protocol != "gemini":
                    self.fail(where, "applies to the gemini protocol only")
                if value not in API_VERSIONS:
                    self.fail(where, f"must be one of {', '.join(API_VERSIONS)}")
                values[key] = value
            elif key in ("read_timeout", "connect_timeout"):
                values[key] = self.number(value, where)
            elif key == "max_retry_after":
                values[key] = self.number(value, where, above=False)
            elif key == "max_retries":
                values[key] = self.integer(value, where, minimum=0, maximum=10)
            elif key == "price_provider":
                values[key] = self.string(
                    value, where, PRICE_PROVIDER_RE, "a price data provider id"
                )
            elif key == "base_url":
                values[key] = self.base_url(value, where)
            elif key == "flavour":
                if protocol != "chat_completions":
                    self.fail(where, "applies to the chat_completions protocol only")
                if value not in FLAVOURS:
                    self.fail(where, f"must be one of {', '.join(FLAVOURS)}")
                values[key] = value
            elif key == "api_key_env":
                values[key] = self.string(value, where, ENV_NAME_RE, "an environment variable name")
        if values.get("strict") and "models" not in values:
            self.fail((*path, "strict"), "strict needs a models list")
        if protocol == "chat_completions" and builtin is None and "base_url" not in values:
            self.fail(path, "a chat_completions provider needs base_url")
        values.pop("protocol", None)
        section = ProviderSection(
            name=name,
            line=line_of(self.lines, path),
            protocol=protocol,
            builtin=builtin is not None,
            **values,
        )
        return section, refs

    def base_url(self, value: Any, path: Path) -> str:
        if not isinstance(value, str):
            self.fail(path, "must be a string")
        try:
            parts = urlsplit(value.strip())
        except ValueError:
            self.fail(path, "is not a URL")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(path, "must be an http:// or https:// URL with a host")
        if "@" in parts.netloc:
            self.fail(path, "must not carry credentials (user:password@): use api_key_env")
        return value.strip()

    def model(self, ref: ModelRef, path: Path, body: dict[str, Any]) -> tuple[ModelSection, list]:
        self.keys(body, path, MODEL_KEYS)
        values: dict[str, Any] = {}
        refs: list[tuple[ModelRef, Path]] = []
        for key, value in body.items():
            where = (*path, key)
            if key in ("context_window", "max_output_tokens"):
                values[key] = self.integer(value, where, minimum=1, maximum=100_000_000)
            elif key == "input":
                values[key] = self.strings(value, where, choices=INPUT_KINDS, empty=False)
            elif key == "reasoning":
                values[key] = self.strings(value, where, choices=EFFORTS, empty=True)
            elif key == "options":
                values[key] = self.strings(value, where, choices=OPTION_NAMES, empty=True)
            elif key == "price":
                values[key] = self.price(value, where)
            elif key == "fallback":
                refs = self.refs(value, where)
                values[key] = tuple(r for r, _ in refs)
        window, output = values.get("context_window"), values.get("max_output_tokens")
        if window is not None and output is not None and output > window:
            self.fail((*path, "max_output_tokens"), "must not exceed context_window")
        section = ModelSection(provider=ref[0], id=ref[1], line=line_of(self.lines, path), **values)
        return section, refs

    def price(self, value: Any, path: Path) -> dict[str, float]:
        body = self.table(value, path)
        self.keys(body, path, PRICE_KEYS)
        for needed in ("input", "output"):
            if needed not in body:
                self.fail(path, f"needs {needed} (USD per million tokens)")
        return {k: self.number(v, (*path, k), above=False) for k, v in body.items()}


def _builtin_reason(key: str, name: str) -> str:
    builtin = BUILTIN[name]
    if key == "protocol":
        return f"a built-in provider's protocol is fixed ({builtin.protocol})"
    if key == "flavour":
        return f"a built-in provider's dialect is fixed ({builtin.flavour or 'none'})"
    if key == "base_url":
        return f"a built-in provider's base URL comes from {builtin.base_url_env}"
    if builtin.key_env is None:
        return f"{name} takes no key"
    return f"a built-in provider's key comes from {builtin.key_env}"
