"""Accounts (argon2id), server-side sessions, login throttling and the generated secret key.

All state is on disk under `CHAT_DATA_DIR/.app/` so worker processes agree. Must not import Flask.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from conversation_manager.json.state_files import (
    app_dir,
    create_exclusive,
    fsync_dir,
    locked,
    read_json,
    write_json_atomic,
)

log = logging.getLogger(__name__)

_USERNAME_RE = re.compile(r"[a-z0-9_-]{3,32}")
# secrets.token_urlsafe(32) gives 43 characters of the URL-safe base64 alphabet.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")

MIN_PASSWORD_CHARS = 12
DEFAULT_LOCK_TIMEOUT = 10.0
DEFAULT_SESSION_LIFETIME = 14 * 24 * 3600
DEFAULT_MAX_FAILURES_PER_ACCOUNT = 5
DEFAULT_MAX_FAILURES_PER_ADDRESS = 20
DEFAULT_FAILURE_WINDOW = 15 * 60
SECRET_KEY_BYTES = 64
# OWASP Password Storage cheat sheet minimum for argon2id: m=19 MiB, t=2, p=1.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_COST = 19456
ARGON2_PARALLELISM = 1
# last_seen is the session file's mtime, touched at most this often so lookups stay read-only.
_TOUCH_INTERVAL = 60.0


# --- errors ---------------------------------------------------------------------------------


class AuthError(Exception):
    """Root of this module's errors."""


class InvalidUsername(AuthError):
    """The name is outside `^[a-z0-9_-]{3,32}$` (HTTP 400 `invalid_id`)."""


class NameTaken(AuthError):
    """An account with that name exists (HTTP 409 `name_taken`)."""


class WeakPassword(AuthError):
    """The password has fewer than 12 characters (HTTP 400 `weak_password`)."""

    def __init__(self, min_chars: int = MIN_PASSWORD_CHARS) -> None:
        super().__init__(f"password needs at least {min_chars} characters")
        self.min_chars = min_chars


class InvalidCredentials(AuthError):
    """Wrong name or password, the same for every cause (HTTP 401 `invalid_credentials`)."""


class Throttled(AuthError):
    """Too many failed logins for this account or address (HTTP 429 with `Retry-After`)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; retry after {retry_after} s")
        self.retry_after = retry_after


class StorageBusy(AuthError):
    """A lock was not had in time (HTTP 503 `storage_busy` with `Retry-After`)."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("storage busy")
        self.retry_after = retry_after


# --- names and tokens shared by auth, limits and shares ---------------------------------------


def validate_username(name: object) -> str:
    """Return `name` when it matches the user-name pattern exactly; raise `InvalidUsername`."""
    if not isinstance(name, str) or _USERNAME_RE.fullmatch(name) is None:
        raise InvalidUsername("invalid user name")
    return name


def is_token_shaped(token: object) -> bool:
    """Tell whether `token` looks like `secrets.token_urlsafe(32)` output (43 URL-safe chars)."""
    return isinstance(token, str) and _TOKEN_RE.fullmatch(token) is not None


def token_hash(token: str) -> str:
    """Return the sha256 hex digest of a token: what is stored and used as a file name."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _short(secret: str) -> str:
    """Return a log-safe reference to a secret: the first 8 hex digits of its hash."""
    return token_hash(secret)[:8]


# --- secret key -------------------------------------------------------------------------------


def load_or_create_secret_key(data_dir: str | os.PathLike[str]) -> bytes:
    """Return the app's generated secret key, creating `.app/secret_key` (0600) exactly once."""
    path = app_dir(data_dir) / "secret_key"
    for _ in range(50):
        try:
            with open(path, "rb") as f:
                key = f.read()
        except FileNotFoundError:
            # mkstemp makes the temp file 0600; the link keeps that mode.
            if create_exclusive(path, secrets.token_bytes(SECRET_KEY_BYTES)):
                log.info("generated a new secret key in the data directory")
            continue
        if len(key) < 32:
            raise AuthError(
                "the stored secret key is shorter than 32 bytes; remove it or set SECRET_KEY"
            )
        return key
    raise AuthError("could not create the secret key")


# --- sessions ---------------------------------------------------------------------------------


class SessionStore:
    """Server-side sessions in `.app/sessions/<sha256(session_id)>.json`; revoking deletes it."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        lifetime_seconds: float = DEFAULT_SESSION_LIFETIME,
        *,
        idle_timeout_seconds: float | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.dir = app_dir(data_dir, "sessions")
        self.lifetime = float(lifetime_seconds)
        self.idle_timeout = idle_timeout_seconds
        self.lock_timeout = lock_timeout

    def _path(self, session_id: object) -> Path | None:
        if not is_token_shaped(session_id):
            return None
        return self.dir / f"{token_hash(session_id)}.json"  # type: ignore[arg-type]

    def create(self, user: str) -> str:
        """Start a session for `user` and return its id (only its sha256 is stored)."""
        validate_username(user)
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        record = {"user": user, "created": now, "last_seen": now, "expires": now + self.lifetime}
        path = self._path(session_id)
        assert path is not None
        with locked(self.dir / ".sessions", self.lock_timeout, StorageBusy):
            write_json_atomic(path, record)
        log.info("session %s created for %s", _short(session_id), user)
        return session_id

    def lookup(self, session_id: object) -> str | None:
        """Return the session's user, or None when it is malformed, unknown, expired or revoked."""
        path = self._path(session_id)
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                record = json.loads(f.read())
                mtime = os.fstat(f.fileno()).st_mtime
        except (FileNotFoundError, ValueError):
            return None
        now = time.time()
        user = record.get("user") if isinstance(record, dict) else None
        expires = record.get("expires") if isinstance(record, dict) else None
        if not isinstance(user, str) or not isinstance(expires, int | float) or now >= expires:
            return None
        if self.idle_timeout is not None and now - mtime >= self.idle_timeout:
            return None
        if now - mtime >= _TOUCH_INTERVAL:
            # utime on a revoked (deleted) file fails, so a touch can never bring a session back.
            with contextlib.suppress(FileNotFoundError):
                os.utime(path)
        return user

    def info(self, session_id: object) -> dict[str, Any] | None:
        """Return `{user, created, last_seen, expires}` of a live session, or None."""
        path = self._path(session_id)
        if path is None or self.lookup(session_id) is None:
            return None
        record = read_json(path)
        if not isinstance(record, dict):
            return None
        with contextlib.suppress(FileNotFoundError):
            record["last_seen"] = path.stat().st_mtime
        return record

    def revoke(self, session_id: object) -> None:
        """End one session for every process at once (its file goes)."""
        path = self._path(session_id)
        if path is None:
            return
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            fsync_dir(self.dir)
            log.info("session %s revoked", _short(session_id))  # type: ignore[arg-type]

    def _records(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        for entry in os.scandir(self.dir):
            if not entry.name.endswith(".json") or entry.name.startswith("."):
                continue
            try:
                record = read_json(Path(entry.path))
            except ValueError:
                record = {}  # a damaged session file is treated as expired
            if record is not None:
                yield Path(entry.path), record if isinstance(record, dict) else {}

    def revoke_all(self, user: str, except_session_id: str | None = None) -> int:
        """End every session of `user` except `except_session_id`; return how many ended."""
        validate_username(user)
        keep = self._path(except_session_id) if except_session_id else None
        count = 0
        with locked(self.dir / ".sessions", self.lock_timeout, StorageBusy):
            for path, record in self._records():
                if record.get("user") == user and path != keep:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                        count += 1
            if count:
                fsync_dir(self.dir)
        log.info("%d sessions of %s revoked", count, user)
        return count

    def sweep_expired(self) -> int:
        """Remove expired (or idle, or damaged) session files; return how many went."""
        now = time.time()
        count = 0
        with locked(self.dir / ".sessions", self.lock_timeout, StorageBusy):
            for path, record in self._records():
                expires = record.get("expires")
                expired = (
                    not isinstance(expires, int | float)
                    or now >= expires
                    or not isinstance(record.get("user"), str)
                )
                if not expired and self.idle_timeout is not None:
                    with contextlib.suppress(FileNotFoundError):
                        expired = now - path.stat().st_mtime >= self.idle_timeout
                if expired:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                        count += 1
        return count


# --- login throttling -------------------------------------------------------------------------


class _FailureWindow:
    """A sliding window of failed attempts in one small JSON file under its own lock."""

    def __init__(self, path: Path, limit: int, window: float, lock_timeout: float) -> None:
        self.path, self.limit, self.window, self.lock_timeout = path, limit, window, lock_timeout

    def _load(self, now: float) -> list[list[Any]]:
        try:
            data = read_json(self.path)
        except ValueError:
            data = None
        if not isinstance(data, list):
            return []
        return [e for e in data if isinstance(e, list) and len(e) == 2 and e[0] > now - self.window]

    def reserve(self, now: float, nonce: str) -> int | None:
        """Count this attempt as a failure up front; return retry-after seconds when over limit."""
        with locked(self.path, self.lock_timeout, StorageBusy):
            entries = self._load(now)
            if len(entries) >= self.limit:
                oldest = min(e[0] for e in entries)
                return max(1, math.ceil(oldest + self.window - now))
            entries.append([now, nonce])
            write_json_atomic(self.path, entries, durable=False)
        return None

    def forget(self, nonce: str | None = None) -> None:
        """Drop one reserved attempt (a success), or every entry when `nonce` is None."""
        with locked(self.path, self.lock_timeout, StorageBusy):
            now = time.time()
            entries = [] if nonce is None else [e for e in self._load(now) if e[1] != nonce]
            write_json_atomic(self.path, entries, durable=False)


# --- accounts ---------------------------------------------------------------------------------


def default_hasher() -> PasswordHasher:
    """Return the argon2id hasher at the OWASP minimum parameters (m=19 MiB, t=2, p=1)."""
    return PasswordHasher(
        time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_COST, parallelism=ARGON2_PARALLELISM
    )


class AccountStore:
    """User accounts, one file each at `.app/users/<name>.json`, with throttled verification."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        sessions: SessionStore | None = None,
        hasher: PasswordHasher | None = None,
        max_failures_per_account: int = DEFAULT_MAX_FAILURES_PER_ACCOUNT,
        max_failures_per_address: int = DEFAULT_MAX_FAILURES_PER_ADDRESS,
        failure_window_seconds: float = DEFAULT_FAILURE_WINDOW,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.users_dir = app_dir(data_dir, "users")
        self.throttle_dir = app_dir(data_dir, "throttle")
        self.sessions = sessions if sessions is not None else SessionStore(data_dir)
        self.hasher = hasher if hasher is not None else default_hasher()
        self.max_per_account = max_failures_per_account
        self.max_per_address = max_failures_per_address
        self.window = float(failure_window_seconds)
        self.lock_timeout = lock_timeout
        # Unknown names are verified against this, so they cost what a wrong password costs.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    # -- files

    def _user_path(self, name: str) -> Path:
        return self.users_dir / f"{validate_username(name)}.json"

    def _read_user(self, name: str) -> dict[str, Any] | None:
        try:
            record = read_json(self._user_path(name))
        except ValueError:
            log.error("account file of %s is damaged", name)
            return None
        return record if isinstance(record, dict) else None

    @staticmethod
    def _check_password(password: object) -> str:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
            raise WeakPassword()
        return password

    # -- public

    def create_user(self, name: str, password: str) -> None:
        """Create an account; raise `InvalidUsername`, `WeakPassword` or `NameTaken`."""
        path = self._user_path(name)
        self._check_password(password)
        now = time.time()
        record = {
            "name": name,
            "password_hash": self.hasher.hash(password),
            "created": now,
            "password_changed": now,
        }
        data = json.dumps(record, separators=(",", ":")).encode()
        if not create_exclusive(path, data):
            raise NameTaken("name taken")
        log.info("account %s created", name)

    def has_users(self) -> bool:
        """Tell whether at least one account exists (stops at the first one found)."""
        with os.scandir(self.users_dir) as it:
            return any(e.name.endswith(".json") and _USERNAME_RE.fullmatch(e.name[:-5]) for e in it)

    def list_users(self) -> list[str]:
        """Return every account name, sorted."""
        with os.scandir(self.users_dir) as it:
            names = [e.name[:-5] for e in it if e.name.endswith(".json")]
        return sorted(n for n in names if _USERNAME_RE.fullmatch(n))

    def exists(self, name: str) -> bool:
        """Tell whether an account `name` exists (False for names outside the pattern)."""
        try:
            return self._user_path(name).is_file()
        except InvalidUsername:
            return False

    def _windows(self, name: str | None, ip: str | None) -> list[_FailureWindow]:
        windows = []
        if name is not None:
            windows.append(
                _FailureWindow(
                    self.throttle_dir / f"user-{name}.json",
                    self.max_per_account,
                    self.window,
                    self.lock_timeout,
                )
            )
        if ip:
            # The address is hashed so any string (IPv6, proxy junk) makes a safe file name.
            windows.append(
                _FailureWindow(
                    self.throttle_dir / f"ip-{token_hash(ip)[:32]}.json",
                    self.max_per_address,
                    self.window,
                    self.lock_timeout,
                )
            )
        return windows

    def verify(self, name: str, password: str, *, ip: str | None) -> bool:
        """Check a login; return True or False, or raise `Throttled(retry_after)` before checking.

        Unknown names, names outside the pattern and wrong passwords all return False in about
        the same time. Every attempt counts as a failure until it succeeds, so parallel guesses
        cannot exceed the limits; a success clears the account's failures.
        """
        valid_name: str | None
        try:
            valid_name = validate_username(name)
        except InvalidUsername:
            valid_name = None
        now = time.time()
        nonce = secrets.token_hex(8)
        reserved: list[_FailureWindow] = []
        for window in self._windows(valid_name, ip):
            retry_after = window.reserve(now, nonce)
            if retry_after is not None:
                for done in reserved:
                    done.forget(nonce)
                log.warning("login throttled for %s", valid_name or "<invalid name>")
                raise Throttled(retry_after)
            reserved.append(window)

        record = self._read_user(valid_name) if valid_name is not None else None
        stored = record.get("password_hash") if record else None
        ok = False
        try:
            self.hasher.verify(stored if isinstance(stored, str) else self._dummy_hash, password)
            ok = isinstance(stored, str)
        except (VerificationError, InvalidHashError, TypeError, ValueError):
            # A wrong password, a malformed stored hash or a non-string password: all failures.
            ok = False
        if not ok:
            log.info("failed login for %s", valid_name or "<invalid name>")
            return False

        assert valid_name is not None and isinstance(stored, str)
        reserved[0].forget(None)
        for window in reserved[1:]:
            window.forget(nonce)
        if self.hasher.check_needs_rehash(stored):
            self._rehash(valid_name, stored, password)
        return True

    def _rehash(self, name: str, old_hash: str, password: str) -> None:
        new_hash = self.hasher.hash(password)
        path = self._user_path(name)
        with locked(path, self.lock_timeout, StorageBusy):
            record = self._read_user(name)
            if record is None or record.get("password_hash") != old_hash:
                return  # changed meanwhile: leave the newer hash alone
            record["password_hash"] = new_hash
            write_json_atomic(path, record)
        log.info("password hash of %s upgraded", name)

    def _set_password(self, name: str, new: str) -> None:
        path = self._user_path(name)
        new_hash = self.hasher.hash(new)
        with locked(path, self.lock_timeout, StorageBusy):
            record = self._read_user(name)
            if record is None:
                raise InvalidCredentials("invalid credentials")
            record["password_hash"] = new_hash
            record["password_changed"] = time.time()
            write_json_atomic(path, record)

    def change_password(
        self,
        name: str,
        old: str,
        new: str,
        *,
        keep_session_id: str | None,
        ip: str | None = None,
    ) -> None:
        """Change a password after checking the old one, and end every other session of the user.

        Raises `WeakPassword`, `InvalidCredentials` (wrong old password or unknown user) or
        `Throttled` (the old password goes through `verify`, with its limits).
        """
        self._check_password(new)
        if not self.verify(name, old, ip=ip):
            raise InvalidCredentials("invalid credentials")
        self._set_password(name, new)
        self.sessions.revoke_all(name, except_session_id=keep_session_id)
        log.info("password of %s changed; other sessions ended", name)

    def reset_password(self, name: str, new: str) -> None:
        """Set a password without the old one (admin CLI) and end all sessions of the user."""
        validate_username(name)
        self._check_password(new)
        self._set_password(name, new)
        self.sessions.revoke_all(name)
        log.info("password of %s reset; all sessions ended", name)

    def sweep(self) -> int:
        """Remove throttle files with no failure inside the window; return how many went."""
        cutoff = time.time() - self.window
        count = 0
        for entry in os.scandir(self.throttle_dir):
            if entry.name.endswith(".json") and not entry.name.startswith("."):
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        count += 1
        return count
