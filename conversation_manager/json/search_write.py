"""Writing one conversation's rows into the search index (see search_index): its state as the
index holds it, bringing its rows up to date (only the rows of the messages that changed), and
dropping them. Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from ..models import Conversation
from .index import FileKey
from .search_db import NAME_ROWID_BASE, fts_values
from .search_rows import NAME_KEY, Signature, call_rows, doc_rows, message_signature, reply_key

__all__ = ["RowState", "drop", "put", "stored_state"]


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


def drop(con: sqlite3.Connection, cid: str) -> None:
    """Remove every row of `cid` (inside the caller's transaction)."""
    rows = con.execute("SELECT id, key, body FROM docs WHERE cid = ?", (cid,)).fetchall()
    con.executemany(
        "INSERT INTO fts(fts, rowid, name, body) VALUES('delete', ?, ?, ?)",
        [(rowid, *fts_values(key, body)) for rowid, key, body in rows],
    )
    con.execute("DELETE FROM docs WHERE cid = ?", (cid,))
    con.execute("DELETE FROM calls WHERE cid = ?", (cid,))
    con.execute("DELETE FROM convs WHERE id = ?", (cid,))


def stored_state(con: sqlite3.Connection, cid: str) -> RowState:
    """The rows of `cid` as the index holds them (no signatures: every message is compared)."""
    docs = {
        k: (rowid, digest)
        for rowid, k, digest in con.execute(
            "SELECT id, key, digest FROM docs WHERE cid = ?", (cid,)
        )
    }
    calls = dict(con.execute("SELECT key, digest FROM calls WHERE cid = ?", (cid,)).fetchall())
    return RowState(None, None, None, docs, calls)


def put(
    con: sqlite3.Connection, conv: Conversation, key: FileKey, state: RowState, build: int
) -> RowState:
    """Bring the rows of `conv` (its file key `key`) up to date from `state`, rewriting only the
    rows that changed; the work follows the messages that changed (by signature) when `state`
    knows them. Return the new state."""
    cid = conv.id
    places: dict[str, int] = {}
    sigs: dict[str, Signature] = {}
    for place, msg in enumerate(conv.messages):
        places[msg.id] = place
        sigs[msg.id] = message_signature(place, msg)
    owner = (conv.provider, conv.model)  # a reply's usage row falls back to these
    full = state.sigs is None or state.owner != owner or not state.sigs.keys() <= sigs.keys()
    old_sigs = state.sigs or {}
    changed = (
        conv.messages if full else [m for m in conv.messages if old_sigs.get(m.id) != sigs[m.id]]
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
