"""The per-user search index of the JSON backend: SQLite FTS5 in `<user>/.search.sqlite3`.

Derived data (API "Storage"): written in the same store operation as the conversation file,
without an fsync of its own (`synchronous=OFF`), and checked before every read: each indexed
conversation keeps the key (inode, mtime, size) of the file it was read from, one scandir shows
the files that changed, and those are re-read under the user's lock before the read answers, so a
crash between the file write and the index update, a missing index or a damaged one (rebuilt from
scratch) never gives a wrong answer. Also keeps each conversation's usage rows, so statistics
never read every file. Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
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
    NAME_ROWID_BASE,
    SCHEMA,
    SCHEMA_VERSION,
    SEARCH_NAME,
    IndexDamaged,
    fts_values,
    scan_files,
    translate,
)
from .search_rows import NAME_KEY, Signature, call_rows, doc_rows, message_signature, reply_key

log = logging.getLogger(__name__)

_T = TypeVar("_T")
Lock = Callable[[], AbstractContextManager[None]]


@dataclass(frozen=True)
class RowState:
    """What the index holds of one conversation, as last written by this process: the file key
    and index build it was written under, the conversation's provider and model, each message's
    signature (None: unknown, every message is compared), and the rows' ids and digests."""

    key: tuple[int, ...] | None
    owner: tuple[str, str] | None
    sigs: dict[str, Signature] | None
    docs: dict[str, tuple[int, int]]
    calls: dict[str, int]


class SearchIndex:
    """One SQLite FTS5 file per user directory; every method takes that directory."""

    candidates = CANDIDATES
    cache_size = 256  # conversations whose row state is kept in memory

    def __init__(self, *, busy_timeout: float = 10.0) -> None:
        self.busy_timeout = busy_timeout
        # (user directory, conversation id) -> its RowState, so a save compares signatures in
        # memory instead of reading and digesting every row (checked against the index first).
        self._cache: OrderedDict[tuple[str, str], RowState] = OrderedDict()

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
                self._drop(con, cid)
                con.execute("COMMIT")
                self._remember(udir, {cid: None})
        except (IndexDamaged, ConversationError, OSError):  # busy, damaged or full: logged only
            log.warning("search_index_update_failed", extra={"event": "search_index_failed"})

    def _drop(self, con: sqlite3.Connection, cid: str) -> None:
        rows = con.execute("SELECT id, key, body FROM docs WHERE cid = ?", (cid,)).fetchall()
        con.executemany(
            "INSERT INTO fts(fts, rowid, name, body) VALUES('delete', ?, ?, ?)",
            [(rowid, *fts_values(key, body)) for rowid, key, body in rows],
        )
        con.execute("DELETE FROM docs WHERE cid = ?", (cid,))
        con.execute("DELETE FROM calls WHERE cid = ?", (cid,))
        con.execute("DELETE FROM convs WHERE id = ?", (cid,))

    def _known(self, con: sqlite3.Connection, udir: Path, cid: str, build: int) -> RowState:
        """What the index holds of `cid`: the cached state when the index still has the version
        it was taken from (another process may have written since), else read from the index."""
        state = self._cache.get((str(udir), cid))
        if state is not None:
            row = con.execute(
                "SELECT ino, mtime_ns, size FROM convs WHERE id = ?", (cid,)
            ).fetchone()
            if row is not None and (build, *row) == state.key:
                return state
        docs = {
            k: (rowid, digest)
            for rowid, k, digest in con.execute(
                "SELECT id, key, digest FROM docs WHERE cid = ?", (cid,)
            )
        }
        calls = dict(con.execute("SELECT key, digest FROM calls WHERE cid = ?", (cid,)).fetchall())
        return RowState(None, None, {}, docs, calls)

    def _put(
        self, con: sqlite3.Connection, udir: Path, conv: Conversation, key: FileKey
    ) -> RowState:
        """Bring one conversation's rows up to date, rewriting only the rows that changed; the
        work follows the messages that changed (by signature) when the cached state holds."""
        cid = conv.id
        build = con.execute("PRAGMA application_id").fetchone()[0]
        state = self._known(con, udir, cid, build)
        places: dict[str, int] = {}
        sigs: dict[str, Signature] = {}
        for place, msg in enumerate(conv.messages):
            places[msg.id] = place
            sigs[msg.id] = message_signature(place, msg)
        owner = (conv.provider, conv.model)  # a reply's usage row falls back to these
        full = state.sigs is None or state.owner != owner or not state.sigs.keys() <= sigs.keys()
        old_sigs = state.sigs or {}
        changed = (
            conv.messages
            if full
            else [m for m in conv.messages if old_sigs.get(m.id) != sigs[m.id]]
        )
        docs = doc_rows(conv, changed)
        calls = call_rows(conv, changed, places)
        if full:
            doc_keys: Iterable[str] = set(state.docs) | set(docs)
            call_keys: Iterable[str] = set(state.calls) | set(calls)
        else:
            doc_keys = {NAME_KEY, *(m.id for m in changed)}
            call_keys = {k for k in state.calls if not k.startswith("reply:")} | set(calls)
            call_keys |= {reply_key(m.id) for m in changed}
        old_docs = dict(state.docs)
        gone = [
            (old_docs[k][0], k)
            for k in doc_keys
            if k in old_docs and (k not in docs or docs[k].digest != old_docs[k][1])
        ]
        if gone:
            marks = ",".join("?" * len(gone))
            bodies = dict(
                con.execute(
                    f"SELECT id, body FROM docs WHERE id IN ({marks})",  # noqa: S608
                    [rowid for rowid, _ in gone],
                )
            )
            con.executemany(
                "INSERT INTO fts(fts, rowid, name, body) VALUES('delete', ?, ?, ?)",
                [(rowid, *fts_values(k, bodies[rowid])) for rowid, k in gone],
            )
            con.executemany("DELETE FROM docs WHERE id = ?", [(rowid,) for rowid, _ in gone])
            for _, k in gone:
                del old_docs[k]
        next_id: int | None = None
        for k, row in docs.items():
            if k in old_docs:
                continue  # the same digest: kept
            # Names count up from NAME_ROWID_BASE, messages from 1: both in time order.
            if k == NAME_KEY:
                top = con.execute("SELECT MAX(id) FROM docs WHERE id < 0").fetchone()[0]
                rowid = NAME_ROWID_BASE if top is None else top + 1
            else:
                if next_id is None:
                    top = con.execute("SELECT MAX(id) FROM docs").fetchone()[0]
                    next_id = max(top or 0, 0) + 1
                rowid, next_id = next_id, next_id + 1
            con.execute(
                "INSERT INTO docs(id, cid, key, mid, role, ts, provider, model, body, digest)"
                " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rowid,
                    cid,
                    k,
                    row.message_id,
                    row.role,
                    row.timestamp,
                    row.provider,
                    row.model,
                    row.text,
                    row.digest,
                ),
            )
            con.execute(
                "INSERT INTO fts(rowid, name, body) VALUES(?, ?, ?)",
                (rowid, *fts_values(k, row.text)),
            )
            old_docs[k] = (rowid, row.digest)
        old_calls = dict(state.calls)
        stale = [
            k
            for k in call_keys
            if k in old_calls and (k not in calls or calls[k].digest != old_calls[k])
        ]
        con.executemany("DELETE FROM calls WHERE cid = ? AND key = ?", [(cid, k) for k in stale])
        for k in stale:
            del old_calls[k]
        fresh = [c for k, c in calls.items() if k not in old_calls]
        con.executemany(
            "INSERT INTO calls(cid, key, seq, kind, mid, ts, provider, model, status,"
            " input_tokens, cached_tokens, cache_write_tokens, output_tokens, reasoning_tokens,"
            " cost_usd, digest) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    cid,
                    c.key,
                    c.seq,
                    c.kind,
                    c.message_id,
                    c.timestamp,
                    c.provider,
                    c.model,
                    c.status,
                    c.input_tokens,
                    c.cached_tokens,
                    c.cache_write_tokens,
                    c.output_tokens,
                    c.reasoning_tokens,
                    c.cost_usd,
                    c.digest,
                )
                for c in fresh
            ],
        )
        old_calls.update((c.key, c.digest) for c in fresh)
        con.execute(
            "INSERT OR REPLACE INTO convs VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
            (cid, *key, conv.chat_name, conv.last_update, conv.provider, conv.model),
        )
        return RowState((build, *key), owner, sigs, old_docs, old_calls)

    def _remember(self, udir: Path, states: dict[str, RowState | None]) -> None:
        """Keep the states of a committed transaction (None: forget the conversation)."""
        for cid, state in states.items():
            slot = (str(udir), cid)
            self._cache.pop(slot, None)
            if state is not None:
                self._cache[slot] = state
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
            self._drop(con, cid)
            states[cid] = None
        # Oldest first, so that rowids follow time (the newest rows are the ranked candidates).
        for cid, key in sorted(changed.items(), key=lambda item: item[1][1]):
            try:
                conv, st = read(udir, cid)
            except Missing:
                self._drop(con, cid)
                states[cid] = None
                continue
            except (Damaged, StorageError):
                # Unreadable: nothing of it is searchable; its key stops a re-read per query.
                self._drop(con, cid)
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
