"""The JSON-file `LimitRecords`: flock-held slot files, the turn window, reservations and the ledger.

Everything lives under `CHAT_DATA_DIR/.app/limits/`:
`slots/<user>.<i>` and `streams/<user>.<i>` (held with flock, so the kernel frees a dead process's
slot), `turns-<user>.json` (the turn window and the budget reservations, small and not fsynced),
`usage-<user>.json` (the spend ledger, fsynced), all changed under `user-<user>.lock`. Damaged files
are read as empty: a lost counter must not lock a user out. Imports neither Flask nor the app.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..atomic_files import storage_error
from ..errors import StorageBusy, StorageError
from ..names import validate_user
from ..store import Reservation, SlotKind, SpendTotals
from .locks import OPEN_FLAGS
from .state_files import app_dir, locked, read_json, write_json_atomic

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT = 10.0
# Ledger buckets kept per period, newest first; older ones are dropped on the next write.
_KEEP_BUCKETS = {"day": 40, "month": 13}
_KEEP_OTHER = 64
_SLOT_DIRS: dict[str, str] = {"turn": "slots", "stream": "streams"}


class FlockSlot:
    """A slot file held with an exclusive flock on its own open file description."""

    def __init__(self, fd: int) -> None:
        # A file object, so that a slot dropped without release is still closed when collected.
        self._file: Any = os.fdopen(fd, "rb", buffering=0)
        self._guard = threading.Lock()

    def release(self) -> None:
        """Free the slot (closing the file drops the flock); idempotent, never raises."""
        with self._guard:
            file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError:
                log.warning("slot_release_failed", exc_info=True)


def _read(path: Path) -> Any:
    try:
        return read_json(path)
    except ValueError:
        log.warning("limits_file_reset file=%s", path.name)  # damaged: counted as empty
        return None
    except OSError as exc:
        raise storage_error(exc, "reading the limits") from exc


def _totals(raw: Any) -> SpendTotals:
    if not isinstance(raw, dict):
        return SpendTotals()
    try:
        return SpendTotals(
            usd=float(raw.get("usd", 0.0)),
            tokens=int(raw.get("tokens", 0)),
            unpriced=int(raw.get("unpriced", 0)),
        )
    except (TypeError, ValueError):
        return SpendTotals()


def _reservation(rid: Any, raw: Any) -> Reservation | None:
    if not isinstance(rid, str) or not isinstance(raw, dict):
        return None
    try:
        return Reservation(
            id=rid,
            usd=float(raw["usd"]),
            tokens=int(raw["tokens"]),
            expires_at=float(raw["expires_at"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


class JsonLimitView:
    """One user's limit files, read lazily and at most once."""

    def __init__(self, directory: Path, user: str) -> None:
        self._turns_path = directory / f"turns-{user}.json"
        self._usage_path = directory / f"usage-{user}.json"
        self._times: list[float] | None = None
        self._reserved: dict[str, Reservation] | None = None
        self._ledger: dict[str, dict[str, SpendTotals]] | None = None

    def _load_turns(self) -> None:
        if self._times is not None:
            return
        data = _read(self._turns_path)
        if isinstance(data, list):  # the format before reservations: the window alone
            data = {"turns": data}
        if not isinstance(data, dict):
            data = {}
        turns = data.get("turns")
        self._times = [
            float(t)
            for t in (turns if isinstance(turns, list) else [])
            if isinstance(t, int | float) and not isinstance(t, bool)
        ]
        reserved = data.get("reserved")
        self._reserved = {}
        for rid, raw in reserved.items() if isinstance(reserved, dict) else ():
            r = _reservation(rid, raw)
            if r is not None:
                self._reserved[r.id] = r

    def _load_ledger(self) -> dict[str, dict[str, SpendTotals]]:
        if self._ledger is None:
            data = _read(self._usage_path)
            self._ledger = {}
            for period, buckets in data.items() if isinstance(data, dict) else ():
                if isinstance(period, str) and isinstance(buckets, dict):
                    self._ledger[period] = {
                        k: _totals(v) for k, v in buckets.items() if isinstance(v, dict)
                    }
        return self._ledger

    def turn_times(self, since: float) -> list[float]:
        """Return the start times of the accepted turns after `since`."""
        self._load_turns()
        assert self._times is not None
        return sorted(t for t in self._times if t > since)

    def spent(self, period: str, key: str) -> SpendTotals:
        """Return the ledger bucket `period`/`key` (all zero when there is none)."""
        return self._load_ledger().get(period, {}).get(key, SpendTotals())

    def reservations(self, now: float) -> list[Reservation]:
        """Return the reservations not yet expired at `now`."""
        self._load_turns()
        assert self._reserved is not None
        return [r for r in self._reserved.values() if r.expires_at > now]


class JsonLimitTransaction(JsonLimitView):
    """One user's limit files under the user's lock; changed files are written at `commit`."""

    def __init__(self, directory: Path, user: str) -> None:
        super().__init__(directory, user)
        self._turns_dirty = False
        self._ledger_dirty = False

    def add_turn(self, at: float, *, forget_before: float) -> None:
        """Record a turn accepted at `at`; turns before `forget_before` are forgotten."""
        self._load_turns()
        assert self._times is not None
        self._times = [t for t in self._times if t > forget_before] + [at]
        self._turns_dirty = True

    def reserve(self, reservation: Reservation, *, now: float) -> None:
        """Add a reservation; those expired at `now` are forgotten."""
        self._load_turns()
        assert self._reserved is not None
        self._reserved = {k: r for k, r in self._reserved.items() if r.expires_at > now}
        self._reserved[reservation.id] = reservation
        self._turns_dirty = True

    def drop_reservation(self, reservation_id: str) -> None:
        """Remove a reservation (nothing when it is gone already)."""
        self._load_turns()
        assert self._reserved is not None
        if self._reserved.pop(reservation_id, None) is not None:
            self._turns_dirty = True

    def add_spend(self, buckets: Sequence[tuple[str, str]], spend: SpendTotals) -> None:
        """Add `spend` to each (period, key) ledger bucket."""
        ledger = self._load_ledger()
        for period, key in buckets:
            old = ledger.setdefault(period, {}).get(key, SpendTotals())
            ledger[period][key] = SpendTotals(
                usd=old.usd + spend.usd,
                tokens=old.tokens + spend.tokens,
                unpriced=old.unpriced + spend.unpriced,
            )
        self._ledger_dirty = True

    def commit(self) -> None:
        """Write what changed: the ledger first, so a failure in between never loses spend."""
        try:
            if self._ledger_dirty and self._ledger is not None:
                out: dict[str, dict[str, dict[str, float | int]]] = {}
                for period, buckets in self._ledger.items():
                    keep = _KEEP_BUCKETS.get(period, _KEEP_OTHER)
                    # ISO keys sort by date, so the newest buckets are the last ones.
                    out[period] = {
                        k: {"usd": v.usd, "tokens": v.tokens, "unpriced": v.unpriced}
                        for k, v in sorted(buckets.items())[-keep:]
                    }
                write_json_atomic(self._usage_path, out)
            if self._turns_dirty:
                assert self._times is not None and self._reserved is not None
                data = {
                    "turns": self._times,
                    "reserved": {
                        r.id: {"usd": r.usd, "tokens": r.tokens, "expires_at": r.expires_at}
                        for r in self._reserved.values()
                    },
                }
                # The window and reservations are small bookkeeping: no fsync per turn (API.md).
                write_json_atomic(self._turns_path, data, durable=False)
        except OSError as exc:
            raise storage_error(exc, "writing the limits") from exc


class JsonLimitRecords:
    """`LimitRecords` over small files under `CHAT_DATA_DIR/.app/limits/`."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> None:
        self.dir = app_dir(data_dir, "limits")
        self.lock_timeout = lock_timeout
        for name in _SLOT_DIRS.values():
            (self.dir / name).mkdir(mode=0o700, exist_ok=True)

    def view(self, user: str) -> JsonLimitView:
        """Return the user's records for reading only, without a lock."""
        return JsonLimitView(self.dir, validate_user(user))

    @contextlib.contextmanager
    def transaction(self, user: str) -> Iterator[JsonLimitTransaction]:
        """Lock the user's records for one atomic change (`StorageBusy` when not had in time)."""
        validate_user(user)
        with locked(self.dir / f"user-{user}", self.lock_timeout, StorageBusy):
            txn = JsonLimitTransaction(self.dir, user)
            yield txn
            txn.commit()

    def take_slot(self, kind: SlotKind, user: str, limit: int) -> FlockSlot | None:
        """Hold the first free of the slot files `<user>.0` .. `<user>.<limit-1>`, or return None."""
        validate_user(user)
        directory = self.dir / _SLOT_DIRS[kind]
        for i in range(limit):
            try:
                fd = os.open(directory / f"{user}.{i}", OPEN_FLAGS, 0o600)
            except OSError as exc:
                raise storage_error(exc, "opening a slot file") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            except OSError as exc:
                os.close(fd)
                raise StorageError(f"cannot lock a slot file (errno {exc.errno})") from exc
            return FlockSlot(fd)
        return None
