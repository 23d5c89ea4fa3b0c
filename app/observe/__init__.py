"""Operations: metrics (Prometheus, summed over worker processes), the one log line per finished
turn, and the data directory's health probe (API "Operations").

Imports no Flask. prometheus_client is imported only by `metrics`, which `build_observability` loads
after `PROMETHEUS_MULTIPROC_DIR` is set; importing this package does not load it.
"""

from __future__ import annotations

from .health import DataDirProbe
from .report import TurnObserver, TurnReport
from .setup import Observability, Observers, build_observability
from .turn_log import TurnLog, user_digest

__all__ = [
    "DataDirProbe",
    "Observability",
    "Observers",
    "TurnLog",
    "TurnObserver",
    "TurnReport",
    "build_observability",
    "user_digest",
]
