"""gunicorn settings for `gunicorn 'app:create_app()'` (read from the working directory).

Command-line options override these. The access log never shows a share token: `/share/<token>`
is logged as `/share/<first 8 hex digits of sha256(token)>`, and key-like words are masked.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
from typing import Any
from urllib.parse import unquote

from gunicorn.glogging import Logger

wsgi_app = "app:create_app()"
bind = "127.0.0.1:8000"
# gevent, chosen by measurement (README "Running in production", bench/load.py): against gthread with
# 300 threads a worker, on 2 cores, 200 streams at once had first text p95 1.4 s instead of 2.4 s,
# 500 streams 3.9 s instead of 7.1 s, logins during 200 streams p95 141 ms instead of 1,029 ms,
# and the workers use half the memory. Blocking work (fsync, password hashes, images) runs in the
# hub's thread pool (`patch_for_gevent`). `-k gthread --threads N` still works.
worker_class = "gevent"
worker_connections = 1000  # a greenlet per connection; 750 of them may be streams (post_fork)
threads = 64  # only for `-k gthread`: a thread per open stream
workers = 2
timeout = 120  # the worker's heartbeat, not a request limit; streams may run longer
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# Request headers and the query string never reach the log (no Cookie, no Referer with a token).
limit_request_line = 8190

_SHARE_RE = re.compile(r"/share/([^\s?#\"']+)")
_KEY_RE = re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_*.-]{6,}")


def _share_hash(match: re.Match[str]) -> str:
    return "/share/" + hashlib.sha256(unquote(match.group(1)).encode()).hexdigest()[:8]


def scrub(value: Any) -> Any:
    """Replace share tokens and key-like words in one access-log atom."""
    if not isinstance(value, str):
        return value
    return _KEY_RE.sub("[redacted]", _SHARE_RE.sub(_share_hash, value))


class RedactingLogger(Logger):
    """gunicorn's logger, with share tokens and keys removed from every access-log atom."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for name in list(atoms):
            if name.endswith("}i") and name[1:-2] in ("cookie", "authorization", "referer"):
                atoms[name] = "-"
            else:
                atoms[name] = scrub(atoms[name])
        atoms["f"] = "-"  # the Referer of a shared page's visitor can carry the token
        return atoms


logger_class = RedactingLogger


def post_fork(server: Any, worker: Any) -> None:
    """Cap a worker's open streams by its real thread count, unless the operator set the cap.

    A quarter of the threads (at least 2) stay free for short requests (/healthz, logins): 64
    threads give 48 streams, `--threads 8` gives 6. This runs in the worker before it loads the app
    (no `preload_app` here), so `create_app` reads it; with `--preload` the app is built first and
    keeps the settings' default.
    """
    threads = int(worker.cfg.threads)
    if "gevent" in str(worker.cfg.worker_class_str):
        # A greenlet per connection: the worker's connection cap is the bound, not its threads.
        threads = int(worker.cfg.worker_connections)
    keep = max(2, threads // 4)
    os.environ.setdefault("CHAT_MAX_STREAMS_PER_PROCESS", str(max(1, threads - keep)))


# Graceful reload (HUP) and stop (TERM): a turn runs in a thread that outlives its request, so a
# worker that exits waits for its turns, then stops the rest (their text saved `stopped`), all
# within graceful_timeout (the master kills the worker after it). See stream_processor/drain.py.


def drain_bounds(graceful_timeout: float) -> tuple[float, float]:
    """(seconds the turns may run on, seconds for the stopped ones' saves) within the timeout."""
    reserve = min(5.0, max(2.0, graceful_timeout / 4))
    return max(0.0, graceful_timeout - reserve), max(0.5, reserve - 0.5)


def post_worker_init(worker: Any) -> None:
    """On SIGTERM, start draining the turns while the worker finishes serving their streams."""
    from stream_processor.drain import Drainer

    drainer = Drainer()
    worker.turn_drainer = drainer
    spawn: Any = None
    if "gevent" in str(worker.cfg.worker_class_str):
        patch_for_gevent()
        import gevent

        spawn = gevent.spawn  # gevent runs signal handlers in the loop, where nothing may block
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(sig: int, frame: Any) -> None:
        bounds = drain_bounds(float(worker.cfg.graceful_timeout))
        if spawn is not None:
            spawn(drainer.start, *bounds)
        else:
            drainer.start(*bounds)
        if callable(previous):
            previous(sig, frame)

    signal.signal(signal.SIGTERM, on_term)


def worker_int(worker: Any) -> None:
    """SIGINT/SIGQUIT (quick stop: the master waits 2 s): stop every turn now, saving its text."""
    from stream_processor.drain import drain

    drain(0.0, 1.5)


def worker_exit(server: Any, worker: Any) -> None:
    """Before the worker process exits: wait for its drain (started now if no SIGTERM did)."""
    drainer = getattr(worker, "turn_drainer", None)
    if drainer is None or worker.pid != os.getpid():  # the master reaping a vanished worker
        return
    drainer.finish(*drain_bounds(float(worker.cfg.graceful_timeout)))


def patch_for_gevent() -> None:
    """Under gevent, run fsync, password hashing and image work in the hub's thread pool.

    Monkey patching makes sockets, sleeps and the file locks' polling cooperative, but an `os.fsync`
    (the store's durable commits), an argon2 hash (a login) or an image's decode and encode (an
    upload's check, the copy sent upstream: up to a second for a large photo) would block every
    stream of the worker for its whole duration; in the pool they run beside the event loop (all
    release the GIL). The pooled functions touch no gevent object (the render slots stay outside).
    """
    import argon2
    from gevent import get_hub

    from app.attachments import checks, prepare

    pooled = (
        (os, "fsync"),
        (argon2.PasswordHasher, "hash"),
        (argon2.PasswordHasher, "verify"),
        (checks, "check_image"),
        (prepare, "_decoded"),
        (prepare, "_fit"),
    )
    for owner, name in pooled:
        real = getattr(owner, name)

        def in_pool(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            return get_hub().threadpool.apply(_real, args, kwargs)

        setattr(owner, name, in_pool)


# -- metrics: prometheus_client's multiprocess directory (API "Operations", app/observe/) ---------


def _metrics_dir() -> str | None:
    """`PROMETHEUS_MULTIPROC_DIR`, else `CHAT_DATA_DIR/.app/metrics` when `CHAT_METRICS_TOKEN` is set
    (in the environment or `.env`); None when metrics are off.

    The app's rule (app/observe/multiproc.py) repeated here, because the master never imports the
    app: a reload (`kill -HUP`) then starts workers on the new code.
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        return given
    from dotenv import dotenv_values

    dotenv = dotenv_values(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".env"))

    def setting(name: str) -> str | None:  # the environment wins over .env, as in create_app
        return os.environ[name] if name in os.environ else dotenv.get(name)

    if not setting("CHAT_METRICS_TOKEN"):
        return None
    data_dir = setting("CHAT_DATA_DIR") or "instance/data"
    return os.path.join(os.path.abspath(data_dir), ".app", "metrics")


def on_starting(server: Any) -> None:
    """Start the metrics afresh: set the directory for the workers (before they import
    prometheus_client) and empty it of an earlier run's files.

    A directory that cannot be made or emptied does not stop the server: each worker then finds
    it unusable too and runs with metrics off (its `metrics_unavailable` line, app/observe/setup.py).
    """
    path = _metrics_dir()
    if path is None:
        return
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.remove(os.path.join(path, name))
    except OSError as exc:
        server.log.error(
            "metrics_unavailable dir=%s error=%s: running with metrics off",
            path,
            type(exc).__name__,
        )


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its live gauges (`chat_streams_open`) stop counting; its counters stay."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess  # the variable is set: multiprocess mode

        multiprocess.mark_process_dead(worker.pid)
