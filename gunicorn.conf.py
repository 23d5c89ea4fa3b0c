"""gunicorn settings for `gunicorn 'app:create_app()'` (read from the working directory).

Command-line options override these. The access log never shows a share token: `/share/<token>`
is logged as `/share/<first 8 hex digits of sha256(token)>`, and key-like words are masked.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any
from urllib.parse import unquote

from gunicorn.glogging import Logger

wsgi_app = "app:create_app()"
bind = "127.0.0.1:8000"
worker_class = "gthread"  # one thread per open stream: a turn's SSE holds its thread
threads = 64  # 2 workers x 64: 128 open streams (see bench/load.py)
workers = 2
timeout = 120  # gthread: the worker's heartbeat, not a request limit; streams may run longer
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
    keep = max(2, threads // 4)
    os.environ.setdefault("CHAT_MAX_STREAMS_PER_PROCESS", str(max(1, threads - keep)))
