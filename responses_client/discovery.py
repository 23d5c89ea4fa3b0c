"""Model discovery: read each configured provider's model list through its own SDK and base URL,
parse it, and write the cache (`model_cache`), only when asked (`refresh`).

Never at start, never during a turn: `flask --app app providers refresh` and `POST
/providers/refresh` call `refresh`. The providers are asked in parallel, each with its SDK's
retries off and the listing timeouts (`model_lists.ListTarget`); one that fails keeps its earlier
list and reports a short code (`model_lists.CODES`), never upstream text, while the others are
written. One refresh at a time per process: a caller arriving during one gets that one's outcome.
The SDK modules (`adapters/*_models.py`) are imported only when a provider of their protocol is
refreshed. Imports no Flask and nothing of the app.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from responses_client.model_cache import ProviderList, now_iso
from responses_client.model_lists import ListedModel, ListingFailed, ListTarget, parse_for
from responses_client.registry import ProviderRegistry

log = logging.getLogger(__name__)

# protocol -> the adapter module whose `list_models(target)` reads that protocol's list.
LISTERS: dict[str, str] = {
    "responses": "responses_client.adapters.openai_models",
    "chat_completions": "responses_client.adapters.openai_models",
    "anthropic": "responses_client.adapters.anthropic_models",
    "gemini": "responses_client.adapters.gemini_models",
}


@dataclass(frozen=True)
class ProviderOutcome:
    """What one provider's refresh gave: how many models, or the code of its failure."""

    provider: str
    count: int | None
    error: str | None


@dataclass(frozen=True)
class RefreshOutcome:
    """One refresh: each provider's outcome, in the registry's order, and whether it was saved."""

    providers: tuple[ProviderOutcome, ...]
    saved: bool
    finished: float = field(default_factory=time.monotonic)  # when (the monotonic clock)

    @property
    def all_failed(self) -> bool:
        """True when no provider's list was read (or there was none to read)."""
        return not any(p.error is None for p in self.providers)


@dataclass(frozen=True)
class RefreshWarning:
    """Something a refresh changed that breaks new chats: `code` "default_not_listed" says the
    provider's default model is missing from its fresh list (turns naming it are refused)."""

    provider: str
    model: str
    code: str

    def to_json(self) -> dict[str, str]:
        """The refresh answer's form of this warning."""
        return {"provider": self.provider, "model": self.model, "code": self.code}


def default_warnings(registry: ProviderRegistry, outcome: RefreshOutcome) -> list[RefreshWarning]:
    """A warning for each refreshed provider whose default model its cached list now lacks."""
    out = []
    for item in outcome.providers:
        default = registry.default_model(item.provider)
        if default and registry.refuses_model(item.provider, default):
            out.append(RefreshWarning(item.provider, default, "default_not_listed"))
    return out


def _lister(protocol: str) -> Callable[[ListTarget], list[dict[str, Any]]]:
    module_name = LISTERS.get(protocol)
    if module_name is None:
        raise ListingFailed("not_supported")
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # the SDK is not installed
        raise ListingFailed("internal") from None
    lister: Callable[[ListTarget], list[dict[str, Any]]] = module.list_models
    return lister


def fetch(target: ListTarget) -> list[ListedModel]:
    """Read and parse `target`'s model list; raises `ListingFailed` with a short code."""
    return parse_for(target, _lister(target.protocol)(target))


def _fetch_one(target: ListTarget) -> list[ListedModel] | str:
    try:
        return fetch(target)
    except ListingFailed as exc:
        return exc.code
    except Exception as exc:  # a parser or SDK surprise must not take the other providers down
        log.warning("models_refresh_crashed provider=%s error=%s", target.name, type(exc).__name__)
        return "internal"


def refresh(registry: ProviderRegistry, *, reuse_within: float = 0.0) -> RefreshOutcome:
    """Read every configured provider's list, cache what was read, and say how each went.

    `reuse_within` (seconds): a refresh this process finished that recently, and that read at
    least one list, is answered again instead of asking the providers (a button pressed twice).
    """
    cache = registry.model_cache
    if not cache.refresh_lock.acquire(blocking=False):
        with cache.refresh_lock:  # another thread is refreshing: its outcome is this one's
            return _last(cache.last_outcome)
    try:
        last = cache.last_outcome
        if (
            isinstance(last, RefreshOutcome)
            and not last.all_failed  # a failed one is tried again at once
            and time.monotonic() - last.finished < reuse_within
        ):
            return last
        outcome = _refresh(registry)
        cache.last_outcome = outcome
        return outcome
    finally:
        cache.refresh_lock.release()


def _last(value: Any) -> RefreshOutcome:
    return value if isinstance(value, RefreshOutcome) else RefreshOutcome((), saved=False)


def _refresh(registry: ProviderRegistry) -> RefreshOutcome:
    targets = [registry.list_targets[n] for n in registry.providers if n in registry.list_targets]
    if not targets:
        return RefreshOutcome((), saved=False)
    with ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="models") as pool:
        results = list(pool.map(_fetch_one, targets))
    fresh: dict[str, ProviderList] = {}
    failed: dict[str, str] = {}
    outcomes: list[ProviderOutcome] = []
    for target, result in zip(targets, results, strict=True):
        if isinstance(result, str):
            failed[target.name] = result
            outcomes.append(ProviderOutcome(target.name, None, result))
            log.warning("models_refresh_failed provider=%s code=%s", target.name, result)
            continue
        fresh[target.name] = ProviderList(
            provider=target.name,
            protocol=target.protocol,
            origin=target.origin,
            fetched_at=now_iso(),
            models=tuple(result),
        )
        outcomes.append(ProviderOutcome(target.name, len(result), None))
        log.info("models_refreshed provider=%s count=%d", target.name, len(result))
    saved = True
    try:
        registry.model_cache.save(fresh, failed)
    except OSError:
        saved = False
        log.warning("model_cache_not_written (the lists are used by this process only)")
        registry.model_cache.keep(fresh)
    return RefreshOutcome(tuple(outcomes), saved=saved)
