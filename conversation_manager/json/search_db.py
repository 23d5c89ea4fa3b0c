"""The search index's SQLite file: its name, schema and version, the rows FTS5 is given, the scan
of the conversation files it is checked against, and what an SQLite error means.

Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..atomic_files import storage_error
from ..errors import StorageBusy, StorageFull
from ..search import QuerySyntaxError, prepare_text
from .index import FileKey, conversation_files
from .search_rows import NAME_KEY

__all__ = [
    "BODY_WEIGHT",
    "CANDIDATES",
    "NAME_ROWID_BASE",
    "NAME_WEIGHT",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SEARCH_NAME",
    "IndexDamaged",
    "fts_values",
    "scan_files",
    "translate",
]

SEARCH_NAME = ".search.sqlite3"
# Bump when the schema or the text preparation changes: an index of another version is rebuilt.
SCHEMA_VERSION = 3
NAME_WEIGHT, BODY_WEIGHT = 4.0, 1.0  # bm25 column weights: a name hit outranks a message hit
# A query matching more message rows ranks only the newest this many (rowids grow with time):
# FTS5's bm25 costs about 0.5 to 0.8 microseconds a row (measured: 52-85 ms for 100,000 matching
# rows, the ranking alone, rowids only), over the 50 ms target for a word in every message.
# Name rows are always all ranked (one per conversation, a few milliseconds for 1,000).
CANDIDATES = 5000
# Name rows have negative rowids (from this base up, in time order) and message rows positive
# ones, so FTS5 ranks every name with a rowid range and the message cap never counts names.
NAME_ROWID_BASE = -(1 << 62)
_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
_FULL_CODE = 13  # SQLITE_FULL

SCHEMA = f"""
CREATE TABLE convs(id TEXT PRIMARY KEY, ino INTEGER, mtime_ns INTEGER, size INTEGER,
  chat_name TEXT, last_update REAL, provider TEXT, model TEXT) WITHOUT ROWID;
CREATE TABLE docs(id INTEGER PRIMARY KEY, cid TEXT NOT NULL, key TEXT NOT NULL, mid TEXT,
  role TEXT, ts REAL, provider TEXT, model TEXT, body TEXT NOT NULL, digest INTEGER NOT NULL);
CREATE INDEX docs_cid ON docs(cid);
CREATE TABLE calls(id INTEGER PRIMARY KEY, cid TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER,
  kind TEXT, mid TEXT, ts REAL, provider TEXT, model TEXT, status TEXT, input_tokens INTEGER,
  cached_tokens INTEGER, cache_write_tokens INTEGER, output_tokens INTEGER,
  reasoning_tokens INTEGER, cost_usd REAL, digest INTEGER NOT NULL);
CREATE INDEX calls_cid ON calls(cid);
CREATE VIRTUAL TABLE fts USING fts5(name, body, content='', prefix='3',
  tokenize='unicode61 remove_diacritics 2');
INSERT INTO fts(fts, rank) VALUES('rank', 'bm25({NAME_WEIGHT}, {BODY_WEIGHT})');
PRAGMA user_version = {SCHEMA_VERSION};
"""


class IndexDamaged(Exception):
    """The index file cannot be used; it is removed and rebuilt."""


def fts_values(key: str, text: str) -> tuple[str, str]:
    """The (name, body) column values FTS5 gets for a row: a name row fills `name` only."""
    prepared = prepare_text(text)
    return (prepared, "") if key == NAME_KEY else ("", prepared)


def scan_files(udir: Path) -> dict[str, FileKey]:
    """Return the key of every conversation file (regular files only) in the user directory."""
    try:
        found = conversation_files(udir)
    except OSError as exc:
        raise storage_error(exc, "scanning for the search index") from exc
    return {cid: key for cid, key in found.items() if key is not None}


def translate(exc: sqlite3.Error) -> Exception:
    """A busy index is StorageBusy, a full disk StorageFull; any other SQLite failure means the
    file is damaged (it is rebuilt)."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in _BUSY_CODES:
        return StorageBusy()
    if code == _FULL_CODE:
        return StorageFull("disk full while writing the search index")
    if isinstance(exc, sqlite3.OperationalError) and "fts5" in str(exc):
        return QuerySyntaxError("the query cannot be searched")
    return IndexDamaged(str(exc))
