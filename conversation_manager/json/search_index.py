"""The per-user search index of the JSON backend: SQLite FTS5 in `<user>/.search.sqlite3`.

Derived data (API "Storage"): written in the same store operation as the conversation file,
without an fsync of its own (`synchronous=OFF`), and checked before every read: each indexed
conversation keeps the key (inode, mtime, size) of the file it was read from, one scandir shows
the files that changed, and those are re-read under the user's lock before the read answers, so a
crash between the file write and the index update, a missing index or a damaged one (rebuilt from
scratch) never gives a wrong answer. Also keeps each conversation's usage rows, so statistics
never read every file. A save's cost follows what changed: each conversation's row state (rows'
ids, digests, messages' signatures) is kept in memory and trusted only while the index still holds
the file key and build it was written under. Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from ..atomic_files import Damaged, Missing
from ..errors import ConversationError, StorageError
from ..models import Conversation
from ..search import QuerySyntaxError, SearchHit, SearchQuery, fts_match, parse_query
from ..snippets import snippet
from ..usage import UsageRow
from .index import FileKey, file_key
from .records import read
from .search_db import (
    CANDIDATES,
    SCHEMA,
    SCHEMA_VERSION,
    SEARCH_NAME,
    IndexDamaged,
    scan_files,
    translate,
)
from .search_write import RowState, drop, put, stored_state

log = logging.getLogger(__name__)

_T = TypeVar("_T")
Lock = Callable[[], AbstractContextManager[None]]


class SearchIndex:
    """One SQLite FTS5 file per user directory; every method takes that directory."""

    candidates = CANDIDATES
    cache_size = 256  # conversations whose row state is kept in memory

    def __init__(self, *, busy_timeout: float = 10.0) -> None:
        self.busy_timeout = busy_timeout
        # (user directory, conversation id) -> its RowState, so a save compares signatures in
        # memory instead of reading and digesting every row (checked against the index first).
        self._cache: OrderedDict[tuple[str, str], RowState] = OrderedDict()
        self._cache_lock = threading.Lock()  # users' locks differ: threads share the cache

    # ------------------------------------------------------------------ connections

    @contextlib.contextmanager
    def _open(self, udir: Path) -> Iterator[sqlite3.Connection]:
        path = udir / SEARCH_NAME
        if os.path.islink(path):
            raise IndexDamaged("a symbolic link stands at the index's path")
        try:
            con = sqlite3.connect(path, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        try:
            con.execute("PRAGMA synchronous=OFF")  # derived data: never its own fsync
            yield con
        except sqlite3.Error as exc:
            if con.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
            raise translate(exc) from exc
        finally:
            con.close()

    def _ready(self, con: sqlite3.Connection) -> bool:
        """Whether the index has this version's schema (False: empty, to be built)."""
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return True
        if version == 0 and not con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
            return False
        raise IndexDamaged(f"index version {version}")

    def _remove(self, udir: Path) -> None:
        prefix = str(udir)
        with self._cache_lock:
            for slot in [slot for slot in self._cache if slot[0] == prefix]:
                del self._cache[slot]
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(udir / (SEARCH_NAME + suffix))

    # ------------------------------------------------------------------ writing (lock held)

    def saved(self, udir: Path, conv: Conversation, key: FileKey) -> None:
        """Index the conversation just written with file key `key` (the user's lock held).

        Never raises: a failure leaves the old key, so the next read re-reads the file.
        """
        if not os.path.exists(udir / SEARCH_NAME):
            return  # no index yet: the first read builds it from every file
        try:
            with self._open(udir) as con:
                if not self._ready(con):
                    return
                con.execute("BEGIN IMMEDIATE")
                state = self._put(con, udir, conv, key)
                con.execute("COMMIT")
                self._remember(udir, {conv.id: state})
        except (IndexDamaged, ConversationError, OSError):  # busy, damaged or full: logged only
            log.warning("search_index_update_failed", extra={"event": "search_index_failed"})

    def deleted(self, udir: Path, cid: str) -> None:
        """Forget a deleted conversation (the user's lock held); never raises."""
        if not os.path.exists(udir / SEARCH_NAME):
            return
        try:
            with self._open(udir) as con:
                if not self._ready(con):
                    return
                con.execute("BEGIN IMMEDIATE")
                drop(con, cid)
                con.execute("COMMIT")
                self._remember(udir, {cid: None})
        except (IndexDamaged, ConversationError, OSError):  # busy, damaged or full: logged only
            log.warning("search_index_update_failed", extra={"event": "search_index_failed"})

    def _known(self, con: sqlite3.Connection, udir: Path, cid: str, build: int) -> RowState:
        """What the index holds of `cid`: the cached state when the index still has the version
        it was taken from (another process may have written since), else read from the index."""
        with self._cache_lock:
            state = self._cache.get((str(udir), cid))
        if state is not None:
            row = con.execute(
                "SELECT ino, mtime_ns, size FROM convs WHERE id = ?", (cid,)
            ).fetchone()
            if row is not None and (build, *row) == state.key:
                return state
        return stored_state(con, cid)

    def _put(
        self, con: sqlite3.Connection, udir: Path, conv: Conversation, key: FileKey
    ) -> RowState:
        """Bring one conversation's rows up to date (see search_write.put)."""
        build = con.execute("PRAGMA application_id").fetchone()[0]
        return put(con, conv, key, self._known(con, udir, conv.id, build), build)

    def _remember(self, udir: Path, states: dict[str, RowState | None]) -> None:
        """Keep the states of a committed transaction (None: forget the conversation)."""
        for cid, state in states.items():
            slot = (str(udir), cid)
            with self._cache_lock:
                self._cache.pop(slot, None)
                if state is not None:
                    self._cache[slot] = state
        with self._cache_lock:
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    # ------------------------------------------------------------------ freshness

    def _stale(self, con: sqlite3.Connection, udir: Path) -> tuple[dict[str, FileKey], list[str]]:
        """Return the files the index does not vouch for, and the indexed ids with no file."""
        files = scan_files(udir)
        known = {
            cid: (ino, mtime, size)
            for cid, ino, mtime, size in con.execute("SELECT id, ino, mtime_ns, size FROM convs")
        }
        changed = {cid: k for cid, k in files.items() if known.get(cid) != k}
        gone = [cid for cid in known if cid not in files]
        return changed, gone

    def _refresh(self, con: sqlite3.Connection, udir: Path) -> int:
        """Re-read what changed (lock held), in one transaction; return how many files were read."""
        if not self._ready(con):
            # A new build id: row states cached for an earlier build of this file never match.
            build = secrets.randbits(31)
            con.executescript(f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA application_id = {build}; COMMIT;")
        con.execute("BEGIN IMMEDIATE")
        changed, gone = self._stale(con, udir)
        states: dict[str, RowState | None] = {}
        for cid in gone:
            drop(con, cid)
            states[cid] = None
        # Oldest first, so that rowids follow time (the newest rows are the ranked candidates).
        for cid, key in sorted(changed.items(), key=lambda item: item[1][1]):
            try:
                conv, st = read(udir, cid)
            except Missing:
                drop(con, cid)
                states[cid] = None
                continue
            except (Damaged, StorageError):
                # Unreadable: nothing of it is searchable; its key stops a re-read per query.
                drop(con, cid)
                con.execute(
                    "INSERT INTO convs(id, ino, mtime_ns, size, chat_name) VALUES(?, ?, ?, ?, ?)",
                    (cid, *key, cid),
                )
                states[cid] = None
                continue
            states[cid] = self._put(con, udir, conv, file_key(st))
        con.execute("COMMIT")
        self._remember(udir, states)
        return len(changed)

    def _read(self, udir: Path, lock: Lock, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` on an index that matches every file: stale entries are re-read, a missing
        index built, a damaged one rebuilt (under the lock) before anything is read."""
        for attempt in range(2):
            try:
                with self._open(udir) as con:
                    if not self._ready(con) or any(self._stale(con, udir)):
                        with lock():
                            self._refresh(con, udir)
                    return work(con)
            except IndexDamaged:
                if attempt:
                    raise StorageError("the search index cannot be rebuilt") from None
                log.warning("search_index_damaged", extra={"event": "search_index_damaged"})
                with lock():
                    self._remove(udir)
        raise AssertionError("unreachable")

    def rebuild(self, udir: Path, lock: Lock) -> int:
        """Rebuild the index from the files (lock taken); return how many files were read."""
        with lock():
            self._remove(udir)
            with self._open(udir) as con:
                return self._refresh(con, udir)

    # ------------------------------------------------------------------ reading

    def search(self, udir: Path, query: SearchQuery, lock: Lock) -> list[SearchHit]:
        """Return the query's hits, best first (QuerySyntaxError when it cannot be parsed)."""
        terms = parse_query(query.text)
        match = fts_match(terms)
        where: list[str] = ["fts MATCH ?"]
        args: list[str | float] = [match]
        if query.provider is not None:
            where.append("COALESCE(d.provider, c.provider) = ?")
            args.append(query.provider)
        if query.model is not None:
            where.append("COALESCE(d.model, c.model) = ?")
            args.append(query.model)
        if query.since is not None:
            where.append("COALESCE(d.ts, c.last_update) >= ?")
            args.append(query.since)
        if query.until is not None:
            where.append("COALESCE(d.ts, c.last_update) < ?")
            args.append(query.until)
        # `rank` is bm25 with the column weights (set in the schema): FTS5 sorts by it itself.
        if len(where) == 1:
            source = "fts WHERE fts MATCH ?"
        else:
            source = (
                "fts JOIN docs d ON d.id = fts.rowid JOIN convs c ON c.id = d.cid"
                f" WHERE {' AND '.join(where)}"
            )
        # Every name row is ranked (negative rowids, one per conversation); of the message rows
        # only the newest `candidates` (see search_db.CANDIDATES): the two lists are merged.
        floor_sql = (
            f"SELECT fts.rowid FROM {source} AND fts.rowid > 0"  # noqa: S608
            " ORDER BY fts.rowid DESC LIMIT 1 OFFSET ?"
        )
        ranked_sql = f"SELECT fts.rowid, fts.rank FROM {source}"  # noqa: S608

        def run(
            con: sqlite3.Connection,
        ) -> tuple[list[tuple[int, float]], dict[int, tuple[Any, ...]]]:
            try:
                floor = con.execute(floor_sql, (*args, self.candidates)).fetchone()
                names = con.execute(
                    ranked_sql + " AND fts.rowid < 0 ORDER BY fts.rank LIMIT ?",
                    (*args, query.limit),
                ).fetchall()
                messages = con.execute(
                    ranked_sql + " AND fts.rowid > ? ORDER BY fts.rank LIMIT ?",
                    (*args, 0 if floor is None else floor[0], query.limit),
                ).fetchall()
                ranked = sorted([*names, *messages], key=lambda row: row[1])[: query.limit]
            except sqlite3.OperationalError as exc:
                if "fts5" in str(exc):
                    raise QuerySyntaxError("the query cannot be searched") from None
                raise
            if not ranked:
                return [], {}
            marks = ",".join("?" * len(ranked))
            details = {
                row[0]: row[1:]
                for row in con.execute(  # placeholders only
                    "SELECT d.id, d.cid, d.mid, d.role, COALESCE(d.ts, c.last_update), d.body,"  # noqa: S608
                    f" c.chat_name FROM docs d JOIN convs c ON c.id = d.cid WHERE d.id IN ({marks})",
                    [rowid for rowid, _ in ranked],
                )
            }
            return ranked, details

        ranked, details = self._read(udir, lock, run)
        hits = []
        for rowid, r in ranked:
            if rowid not in details:
                continue
            cid, mid, role, ts, body, name = details[rowid]
            text, highlights = snippet(body, terms)
            hits.append(SearchHit(cid, name, mid, role, text, highlights, -float(r), float(ts)))
        return hits

    def usage_rows(
        self, udir: Path, lock: Lock, *, since: float | None, until: float | None
    ) -> list[UsageRow]:
        """Every usage row within [since, until), in the order of a scan of the listing."""
        where: list[str] = []
        args: list[float] = []
        if since is not None:
            where.append("k.ts >= ?")
            args.append(since)
        if until is not None:
            where.append("k.ts < ?")
            args.append(until)
        sql = (  # constant pieces; every value is a placeholder
            "SELECT k.kind, k.cid, k.mid, k.ts, k.provider, k.model, k.status, k.input_tokens,"  # noqa: S608
            " k.cached_tokens, k.cache_write_tokens, k.output_tokens, k.reasoning_tokens,"
            " k.cost_usd FROM calls k JOIN convs c ON c.id = k.cid"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY c.last_update DESC, c.id DESC, k.seq"
        )
        return self._read(
            udir, lock, lambda con: [UsageRow(*row) for row in con.execute(sql, args)]
        )


__all__ = ["SEARCH_NAME", "SearchIndex", "scan_files"]
