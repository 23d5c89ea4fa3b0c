"""The directory prometheus_client's multiprocess mode keeps its per-process files in, and its upkeep.

`PROMETHEUS_MULTIPROC_DIR` must be set before prometheus_client is first imported in a process (the
library picks its value class at import): `prepare` sets it, and only then is `app.observe.metrics`
imported. Under gunicorn the master sets it for its workers (gunicorn.conf.py `on_starting`, which
also empties it; `child_exit` drops a dead worker's live gauges). Imports nothing of ours; imports
prometheus_client only inside `drop_dead_gauges`, after the variable is set.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from pathlib import Path

__all__ = ["ENV", "drop_dead_gauges", "metrics_dir", "prepare"]

ENV = "PROMETHEUS_MULTIPROC_DIR"
SUBDIR = Path(".app") / "metrics"  # under CHAT_DATA_DIR (gunicorn.conf.py repeats this rule)
_LIVE_FILE_RE = re.compile(r"gauge_live[a-z]+_(\d+)\.db$")

log = logging.getLogger(__name__)


def metrics_dir(data_dir: Path) -> Path:
    """`PROMETHEUS_MULTIPROC_DIR` when set, else `CHAT_DATA_DIR/.app/metrics`."""
    given = os.environ.get(ENV)
    return Path(given) if given else data_dir / SUBDIR


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def drop_dead_gauges(path: Path) -> int:
    """Remove the live gauges of processes that are gone (a dev server that crashed); return how many.

    gunicorn's `child_exit` does this for its workers; this covers processes no master watched.
    """
    from prometheus_client import multiprocess  # after ENV is set (see the module's docstring)

    dropped = 0
    for name in glob.glob(str(path / "gauge_live*_*.db")):
        match = _LIVE_FILE_RE.search(name)
        if match and not _alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), str(path))
            dropped += 1
    return dropped


def prepare(data_dir: Path) -> Path:
    """Create the multiprocess directory and set `PROMETHEUS_MULTIPROC_DIR` for this process."""
    path = metrics_dir(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(path)
    drop_dead_gauges(path)
    return path
