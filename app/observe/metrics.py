"""The Prometheus metrics of API "Operations", summed over worker processes (prometheus_client's
multiprocess mode), and their rendering for `/metrics`.

Import this module only after `multiproc.prepare` has set `PROMETHEUS_MULTIPROC_DIR` (the library
chooses its value class when first imported). Labels stay bounded: a provider that is not
configured and a model that is neither configured nor cached are `other`; an error code that does not
look like one is `other`. Imports no Flask and nothing of ours but the report.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

from .report import TurnReport

__all__ = ["CONTENT_TYPE_LATEST", "OTHER", "TOKEN_KINDS", "Metrics", "multiprocess_mode"]

OTHER = "other"
# usage field -> the `kind` label of chat_tokens_total
TOKEN_KINDS = {
    "input_tokens": "input",
    "cached_tokens": "cached",
    "cache_write_tokens": "cache_write",
    "output_tokens": "output",
    "reasoning_tokens": "reasoning",
}
FIRST_TEXT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
# A fallback entry with this code was skipped without a call: no upstream error.
NOT_CALLED = frozenset({"context_too_long"})

log = logging.getLogger(__name__)


class _Series:
    """The process's metric objects: created once (several apps in one process share them)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.turns = Counter(
            "chat_turns_total",
            "Finished turns, by the answering provider and model and how they ended.",
            ("provider", "model", "status"),
            registry=registry,
        )
        self.tokens = Counter(
            "chat_tokens_total",
            "Tokens of finished turns, as the provider counted them.",
            ("provider", "model", "kind"),
            registry=registry,
        )
        self.cost = Counter(
            "chat_cost_usd_total",
            "Known cost of finished turns in USD (unpriced turns add nothing).",
            ("provider", "model"),
            registry=registry,
        )
        self.upstream_errors = Counter(
            "chat_upstream_errors_total",
            "Provider errors: every failed candidate, including ones a fallback recovered from.",
            ("provider", "code"),
            registry=registry,
        )
        self.first_text = Histogram(
            "chat_time_to_first_text_seconds",
            "Time from the turn's start to its first text.",
            buckets=FIRST_TEXT_BUCKETS,
            registry=registry,
        )
        self.streams_open = Gauge(
            "chat_streams_open",
            "Event streams open now (POST /chat and re-attach), over live worker processes.",
            multiprocess_mode="livesum",
            registry=registry,
        )


class _Process:
    """The process's series, created once: several apps in one process share them. Without
    multiprocess mode (prometheus_client was imported before the variable was set) they live in
    `registry` and /metrics shows this process alone."""

    lock = threading.Lock()
    series: _Series | None = None
    registry: CollectorRegistry | None = None


def multiprocess_mode() -> bool:
    """True when prometheus_client writes per-process files (PROMETHEUS_MULTIPROC_DIR at import)."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def _the_series() -> _Series:
    with _Process.lock:
        if _Process.series is None:
            if multiprocess_mode():
                _Process.series = _Series(None)  # collected from the files, not a registry
            else:
                log.warning("metrics_single_process prometheus_client was imported too early")
                _Process.registry = CollectorRegistry()
                _Process.series = _Series(_Process.registry)
        return _Process.series


class Metrics:
    """The app's metrics: a turn observer, the open-stream gauge and the `/metrics` text."""

    content_type = CONTENT_TYPE_LATEST  # of `render`'s text

    def __init__(
        self,
        path: Path,
        token: str,
        *,
        known_provider: Callable[[str], bool],
        known_model: Callable[[str, str], bool],
    ) -> None:
        self.path = path
        self.token = token
        self._known_provider = known_provider
        self._known_model = known_model
        self._series = _the_series()

    def _provider(self, provider: str) -> str:
        return provider if self._known_provider(provider) else OTHER

    def _labels(self, provider: str, model: str) -> tuple[str, str]:
        if not self._known_provider(provider):
            return OTHER, OTHER
        return provider, model if self._known_model(provider, model) else OTHER

    def turn_finished(self, report: TurnReport) -> None:
        """Count a finished turn: its status, tokens, cost, upstream errors, time to first text."""
        try:
            self._count(report)
        except Exception:  # a metric must never fail a turn
            log.warning("turn_not_counted", exc_info=True)

    def _count(self, report: TurnReport) -> None:
        s = self._series
        provider, model = self._labels(report.provider, report.model)
        s.turns.labels(provider, model, report.status).inc()
        for key, kind in TOKEN_KINDS.items():
            count = int((report.usage or {}).get(key) or 0)
            if count > 0:
                s.tokens.labels(provider, model, kind).inc(count)
        if report.cost_usd:
            s.cost.labels(provider, model).inc(report.cost_usd)
        failed = [
            (ref.get("provider", ""), ref.get("code", ""))
            for ref in report.fallback_from or ()
            if ref.get("code") not in NOT_CALLED
        ]
        if report.upstream_error:
            failed.append((report.provider, report.upstream_error))
        for name, code in failed:
            s.upstream_errors.labels(
                self._provider(name), code if _CODE_RE.match(code or "") else OTHER
            ).inc()
        first = report.latency_ms.get("first_token")
        if first is not None:
            s.first_text.observe(first / 1000)

    def stream_opened(self) -> None:
        """One more event stream is open in this process."""
        self._series.streams_open.inc()

    def stream_closed(self) -> None:
        """An event stream of this process closed."""
        self._series.streams_open.dec()

    def render(self) -> bytes:
        """The Prometheus text of every process's metrics, summed (live gauges: live processes)."""
        if _Process.registry is not None:
            return generate_latest(_Process.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(self.path))
        return generate_latest(registry)
