"""Build what operators see of one process: the turn observer (metrics and the log line), the
open-stream gauge, the `/metrics` text and the health probe.

Metrics are on when `CHAT_METRICS_TOKEN` is set (a non-empty value): only then is the multiprocess
directory prepared and prometheus_client imported (see `multiproc`). Imports no Flask.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import responses_client as rc

from . import multiproc
from .health import DataDirProbe
from .report import TurnObserver, TurnReport
from .turn_log import TurnLog

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["Observability", "Observers", "build_observability", "known_model", "known_provider"]

log = logging.getLogger(__name__)


class Observers:
    """Several observers told in turn; one that raises does not stop the others."""

    def __init__(self, observers: Sequence[TurnObserver]) -> None:
        self.observers = tuple(observers)

    def turn_finished(self, report: TurnReport) -> None:
        """Tell every observer."""
        for observer in self.observers:
            try:
                observer.turn_finished(report)
            except Exception:
                log.warning("turn_observer_failed", exc_info=True)


@dataclass
class Observability:
    """The observer handed to the turns, the metrics (None when off) and the health probe."""

    observer: TurnObserver
    metrics: Metrics | None
    health: DataDirProbe


def known_provider(registry: rc.ProviderRegistry, provider: str) -> bool:
    """True for a configured provider (a metric label); anything else is `other`."""
    return provider in registry.settings


def known_model(registry: rc.ProviderRegistry, provider: str, model: str) -> bool:
    """True for a model configured for `provider` (its `models`, default, the file's or the
    cache's model entries); anything else is `other`, so a typed name never makes a new series."""
    settings = registry.settings.get(provider)
    if settings is None:
        return False
    if (
        model in settings.models
        or model == settings.default_model
        or (provider, model) in registry.models
        or registry.default == (provider, model)
    ):
        return True
    listed = registry.cached_list(provider)  # the model-list cache (`providers refresh`)
    return listed is not None and listed.find(model) is not None


def build_observability(
    *,
    data_dir: Path,
    secret_key: str | bytes,
    metrics_token: str | None,
    registry: rc.ProviderRegistry,
) -> Observability:
    """The process's observers; metrics only with a token (no directory, no import without one).

    A multiprocess directory that cannot be made or written turns metrics off (logged once): the
    app, its turn log and /healthz still serve.
    """
    observers: list[TurnObserver] = [TurnLog(secret_key)]
    metrics = None
    if metrics_token:
        try:
            metrics = _metrics(data_dir, metrics_token, registry)
        except OSError as exc:
            log.error(
                "metrics_unavailable dir=%s error=%s: running with metrics off",
                multiproc.metrics_dir(data_dir),
                type(exc).__name__,
            )
        else:
            observers.insert(0, metrics)
    return Observability(
        observer=Observers(observers), metrics=metrics, health=DataDirProbe(data_dir)
    )


def _metrics(data_dir: Path, token: str, registry: rc.ProviderRegistry) -> Metrics:
    """Prepare the multiprocess directory and the process's series (OSError when unwritable)."""
    path = multiproc.prepare(data_dir)
    from .metrics import Metrics  # only now: PROMETHEUS_MULTIPROC_DIR is set

    return Metrics(
        path,
        token,
        known_provider=lambda provider: known_provider(registry, provider),
        known_model=lambda provider, model: known_model(registry, provider, model),
    )
