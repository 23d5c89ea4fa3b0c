"""The model-list cache on disk (`CHAT_DATA_DIR/.app/models.json`): read at start and after a
refresh, written only by a refresh.

The file holds, per provider, its protocol, a fingerprint of where the list came from (a digest of
protocol and base URL, never the URL), `fetched_at` and the models' facts; a failed refresh keeps
the provider's earlier list and notes `last_error` (a short code). No key and no base URL is ever
written. The write is atomic (a temporary file in the same directory, fsync, `os.replace`, fsync of
the directory) under a file lock, so two processes refreshing at once both land. A missing file
is no list; a broken, foreign or newer-schema file is ignored with a warning and never stops the
start. Another process's refresh is seen at the next lookup (a `stat` of the file). Imports no
SDK, no Flask and nothing of the app.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from responses_client.catalog import undated
from responses_client.identifiers import clean_token
from responses_client.model_lists import ListedModel

log = logging.getLogger(__name__)

SCHEMA = 1
KIND = "chat-model-lists"
MAX_BYTES = 32 * 1024 * 1024  # a cache file larger than this is not read
LOCK_TIMEOUT = 10.0


@dataclass(frozen=True)
class ProviderList:
    """One provider's cached list: where it came from, when, and its models by id."""

    provider: str
    protocol: str
    origin: str
    fetched_at: str  # ISO 8601, UTC
    models: tuple[ListedModel, ...]
    last_error: str | None = None  # the code of the latest failed refresh after this list

    @cached_property
    def table(self) -> dict[str, ListedModel]:
        """The models by id (built once per list: lookups run per turn and per /providers row)."""
        return {m.id: m for m in self.models}

    def find(self, model: str) -> ListedModel | None:
        """The listed model a turn's `model` names, or None.

        Besides the exact id: Gemini's `models/` prefix, Ollama's `name` for `name:latest`, and an
        undated Anthropic alias for its dated ids (the newest listed first wins).
        """
        table = self.table
        name = model.removeprefix("models/")
        if name in table:
            return table[name]
        if ":" not in name and f"{name}:latest" in table:
            return table[f"{name}:latest"]
        return next((m for m in self.models if undated(m.id) == name), None)

    def to_json(self) -> dict[str, Any]:
        """The file's form of this list."""
        return {
            "protocol": self.protocol,
            "origin": self.origin,
            "fetched_at": self.fetched_at,
            "last_error": self.last_error,
            "models": [m.to_json() for m in self.models],
        }


def now_iso() -> str:
    """The time now as the cache writes it."""
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry(name: str, raw: Any, secrets: tuple[str, ...]) -> ProviderList | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("models"), list):
        return None
    protocol, origin, fetched = raw.get("protocol"), raw.get("origin"), raw.get("fetched_at")
    if not all(isinstance(v, str) for v in (protocol, origin, fetched)):
        return None
    read = (ListedModel.from_json(r, secrets) for r in raw["models"])
    models = tuple(m for m in read if m is not None)
    return ProviderList(
        provider=name,
        protocol=str(protocol),
        origin=str(origin),
        fetched_at=str(fetched),
        models=models,
        last_error=clean_token(raw.get("last_error")),
    )


def parse_cache(data: bytes, secrets: Iterable[str] = ()) -> dict[str, ProviderList]:
    """The lists in a cache file's bytes; raises ValueError when the file is not a cache of ours.

    A model id holding one of `secrets` is dropped (a file written before ids were checked).
    """
    redacted = tuple(secrets)
    doc = json.loads(data)
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise ValueError("not a model-list cache")
    if doc.get("schema") != SCHEMA:
        raise ValueError("an unknown schema")
    providers = doc.get("providers")
    if not isinstance(providers, dict):
        raise ValueError("no providers")
    out: dict[str, ProviderList] = {}
    for name, raw in providers.items():
        entry = _entry(name, raw, redacted) if clean_token(name) == name else None
        if entry is None:
            log.warning("model_cache_entry_ignored provider=%s", clean_token(name))
            continue
        out[name] = entry
    return out


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class ModelCache:
    """The cached lists of one data directory (`path` None: nothing cached, nothing written)."""

    def __init__(self, path: Path | None, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self._secrets = tuple(secrets)  # ids holding one are dropped when the file is read
        self._lists: dict[str, ProviderList] = {}
        self._signature: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        # One refresh at a time in this process; a caller arriving during one shares its outcome.
        self.refresh_lock = threading.Lock()
        self.last_outcome: Any = None

    def _stat(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def load(self) -> None:
        """Read the file now; a broken one is ignored with a warning (nothing is cached)."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        signature = self._stat()
        self._lists = self._read(signature)
        self._signature = signature  # after the lists: a reader without the lock sees both

    def _read(self, signature: tuple[int, int, int] | None) -> dict[str, ProviderList]:
        if signature is None:
            return {}
        assert self.path is not None
        try:
            if signature[1] > MAX_BYTES:
                raise ValueError("too large")
            return parse_cache(self.path.read_bytes(), self._secrets)
        except (OSError, ValueError, RecursionError, TypeError, KeyError, AttributeError) as exc:
            # ValueError covers bad JSON and UTF-8 too, RecursionError a too deeply nested file,
            # the rest a shape the reader did not expect: a cache must never stop the start or a
            # lookup. The reason is ours, never the file's text.
            reason = "unreadable" if isinstance(exc, OSError) else "not a cache of this app"
            log.warning("model_cache_ignored reason=%r (a refresh rewrites it)", reason)
            return {}

    def _current(self) -> dict[str, ProviderList]:
        """The lists, re-read when another process's refresh changed the file. The lock is taken
        only then: a turn looks models up several times, from hundreds of threads at once. The
        dict is never changed once published (`keep` and `save` replace it)."""
        if self._stat() != self._signature:
            with self._lock:
                if self._stat() != self._signature:
                    self._load_locked()
        return self._lists

    def lists(self) -> dict[str, ProviderList]:
        """Every cached list, re-read when another process's refresh changed the file."""
        return dict(self._current())

    def get(self, provider: str) -> ProviderList | None:
        """The cached list of `provider`, or None."""
        return self._current().get(provider)

    def keep(self, fresh: Mapping[str, ProviderList]) -> None:
        """Use `fresh` lists in this process without writing them (the file could not be)."""
        with self._lock:
            self._lists = {**self._lists, **fresh}

    def save(self, fresh: Mapping[str, ProviderList], failed: Mapping[str, str]) -> None:
        """Write `fresh` lists over the file's, and each failure's code on its earlier list.

        Raises OSError when the file cannot be written (the caller says so; nothing else breaks).
        """
        if self.path is None:
            self.keep(fresh)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path.with_name(f".{self.path.name}.lock")), timeout=LOCK_TIMEOUT)
        try:
            with lock, self._lock:
                self._load_locked()  # another process may have written since
                lists = dict(self._lists)
                lists.update(fresh)
                for name, code in failed.items():
                    if name in lists:
                        old = lists[name]
                        lists[name] = ProviderList(
                            old.provider, old.protocol, old.origin, old.fetched_at, old.models, code
                        )
                doc = {
                    "kind": KIND,
                    "schema": SCHEMA,
                    "providers": {n: p.to_json() for n, p in lists.items()},
                }
                _write_atomic(self.path, json.dumps(doc, indent=1).encode())
                self._lists = lists
                self._signature = self._stat()
        except Timeout:
            raise OSError("the model cache is locked by another process") from None
