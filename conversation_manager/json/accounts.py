"""The JSON backend of accounts, login attempts and the generated secret key, under `.app/`.

`.app/users/<name>.json` (one file per account, 0600), `.app/throttle/<key>.json` (recent login
attempts), `.app/secret_key`. Implements `AccountRecords`, `LoginAttemptRecords` and
`SecretKeyRecord` of `conversation_manager.store`; the rules over them live in `app.accounts`.
Imports neither Flask nor an SDK, and nothing of `app`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InvalidId, StorageError
from ..names import is_valid_user, validate_user
from ..store import AccountRecord, Attempt, CreateOutcome
from .state_files import (
    app_dir,
    create_exclusive,
    locked,
    os_errors,
    read_json,
    write_json_atomic,
)

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT = 10.0
_FIELDS = tuple(f.name for f in dataclasses.fields(AccountRecord))
_ATTEMPT_KEY_RE = re.compile(r"(user|ip)-[a-z0-9_-]{1,64}")
# The throttle files share this many lock files (picked by a hash of the key), so any number of
# client addresses needs no more lock files than this, and the sweep never has to remove one.
THROTTLE_LOCK_STRIPES = 64
_STRIPE_PREFIX = ".stripe-"
_SECRET_ATTEMPTS = 50


def _account_from(data: Any) -> AccountRecord | None:
    if not isinstance(data, dict):
        return None
    name, password_hash = data.get("name"), data.get("password_hash")
    created = data.get("created")
    changed = data.get("password_changed", created)
    if not isinstance(name, str) or not isinstance(password_hash, str):
        return None
    if not isinstance(created, int | float) or not isinstance(changed, int | float):
        return None
    instructions = data.get("default_instructions")
    return AccountRecord(
        name,
        password_hash,
        float(created),
        float(changed),
        default_instructions=instructions if isinstance(instructions, str) else None,
    )


class JsonAccountRecords:
    """Accounts as `.app/users/<name>.json`; creation is serialised by `.app/users/.create.lock`."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> None:
        self.dir = app_dir(data_dir, "users")
        self.lock_timeout = lock_timeout

    def _path(self, name: str) -> Path:
        return self.dir / f"{validate_user(name)}.json"

    def _read(self, name: str) -> tuple[AccountRecord | None, dict[str, Any]]:
        try:
            data = read_json(self._path(name))
        except ValueError:
            log.error("account file of %s is damaged", name)
            return None, {}
        record = _account_from(data)
        if data is not None and record is None:
            log.error("account file of %s is damaged", name)
        return record, data if isinstance(data, dict) else {}

    def create(self, record: AccountRecord, *, only_if_none: bool = False) -> CreateOutcome:
        """Publish the account file exclusively; with `only_if_none`, only into an empty store."""
        path = self._path(record.name)
        data = json.dumps(dataclasses.asdict(record), separators=(",", ":")).encode()
        # Every creation takes this lock, so "no account yet" cannot change between the check
        # and the publish, whoever creates (sign-up, the CLI, another worker).
        with locked(self.dir / ".create", self.lock_timeout), os_errors("creating an account"):
            if only_if_none and self.any():
                return "closed"
            return "created" if create_exclusive(path, data) else "taken"

    def get(self, name: str) -> AccountRecord | None:
        """Return the account, or None when it is unknown or damaged."""
        with os_errors("reading an account"):
            return self._read(name)[0]

    def update(
        self, name: str, change: Callable[[AccountRecord], AccountRecord | None]
    ) -> AccountRecord | None:
        """Apply `change` under `<name>.json.lock`; fields this module does not know are kept."""
        path = self._path(name)
        with locked(path, self.lock_timeout), os_errors("updating an account"):
            record, raw = self._read(name)
            if record is None:
                return None
            new = change(record)
            if new is None or new == record:
                return record
            if new.name != record.name:
                raise ValueError("an account's name cannot change")
            write_json_atomic(path, {**raw, **dataclasses.asdict(new)})
            return new

    def names(self) -> list[str]:
        """Return every account name, sorted."""
        with os_errors("listing accounts"), os.scandir(self.dir) as it:
            names = [e.name[:-5] for e in it if e.name.endswith(".json")]
        return sorted(n for n in names if is_valid_user(n))

    def any(self) -> bool:
        """Tell whether at least one account exists (stops at the first one found)."""
        with os_errors("listing accounts"), os.scandir(self.dir) as it:
            return any(e.name.endswith(".json") and is_valid_user(e.name[:-5]) for e in it)


class JsonLoginAttempts:
    """Recent login attempts as `.app/throttle/<key>.json`, under one of 64 shared lock files."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> None:
        self.dir = app_dir(data_dir, "throttle")
        self.lock_timeout = lock_timeout

    def _path(self, key: str) -> Path:
        if _ATTEMPT_KEY_RE.fullmatch(key) is None:
            raise InvalidId("throttle key")
        return self.dir / f"{key}.json"

    def _stripe(self, key: str) -> Path:
        n = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % THROTTLE_LOCK_STRIPES
        return self.dir / f"{_STRIPE_PREFIX}{n:02x}"

    @staticmethod
    def _load(path: Path) -> list[Attempt]:
        try:
            data = read_json(path)
        except ValueError:
            data = None  # a damaged window counts as empty
        if not isinstance(data, list):
            return []
        out: list[Attempt] = []
        for e in data:
            if isinstance(e, list) and len(e) == 2 and isinstance(e[0], int | float):
                out.append((float(e[0]), str(e[1])))
        return out

    def update(self, key: str, change: Callable[[list[Attempt]], list[Attempt]]) -> None:
        """Replace the key's attempts in one step; an empty list removes the key's file."""
        path = self._path(key)
        with locked(self._stripe(key), self.lock_timeout), os_errors("counting a login attempt"):
            old = self._load(path)
            new = change(list(old))
            if new == old:
                return
            if new:
                # Not durable: losing the newest attempts in a crash only forgives a few failures.
                write_json_atomic(path, [list(e) for e in new], durable=False)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def sweep(self, before: float) -> int:
        """Remove the keys with no attempt since `before`, and lock files an older version left."""
        count = 0
        with os_errors("sweeping login attempts"):
            entries = list(os.scandir(self.dir))
            for entry in entries:
                name = entry.name
                if name.endswith(".json") and _ATTEMPT_KEY_RE.fullmatch(name[:-5]):
                    key = name[:-5]
                    with locked(self._stripe(key), self.lock_timeout):
                        attempts = self._load(Path(entry.path))
                        if all(at < before for at, _ in attempts):
                            with contextlib.suppress(FileNotFoundError):
                                os.unlink(entry.path)
                                count += 1
            for entry in entries:
                # Earlier versions kept one `<key>.json.lock` per key forever; nothing locks them now.
                if entry.name.endswith(".json.lock") and _ATTEMPT_KEY_RE.fullmatch(
                    entry.name[: -len(".json.lock")]
                ):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
        return count


class JsonSecretKey:
    """The generated secret key at `.app/secret_key` (0600), created exclusively."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.path = app_dir(data_dir) / "secret_key"

    def get_or_create(self, candidate: bytes) -> bytes:
        """Return the stored key, publishing `candidate` first when there is none."""
        with os_errors("creating the secret key"):
            for _ in range(_SECRET_ATTEMPTS):
                try:
                    with open(self.path, "rb") as f:
                        return f.read()
                except FileNotFoundError:
                    # mkstemp makes the temp file 0600; the link keeps that mode.
                    if create_exclusive(self.path, candidate):
                        log.info("generated a new secret key in the data directory")
        raise StorageError("the secret key could not be created")


__all__ = [
    "THROTTLE_LOCK_STRIPES",
    "JsonAccountRecords",
    "JsonLoginAttempts",
    "JsonSecretKey",
]
